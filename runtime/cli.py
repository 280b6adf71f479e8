"""The `runtime` command line: argparse, one small function per subcommand.

Exit codes: 0 success, 1 the user's files are invalid (or a check failed), 2 a file cannot
be read or the command line is wrong. Logs and errors go to stderr, one line each.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from runtime import __version__

if TYPE_CHECKING:
    from runtime.bot import Bot
    from runtime.config.model import Config

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    from runtime.errors import ConfigError, ConfigReadError, Error

    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return handler(args)
    except ConfigReadError as err:
        _print_problems(err.problems, as_json=False)
        return 2
    except ConfigError as err:  # the user's files: every problem, one line each
        _print_problems(err.problems, as_json=False)
        return 1
    except Error as err:  # anything else the runtime refuses on purpose: one sentence
        print(f"{_command_name(args)}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _command_name(args: argparse.Namespace) -> str:
    """`runtime outbox retry`, for the one-line error of a command."""
    name = "runtime " + args.handler.__name__.removeprefix("run_")
    action = getattr(args, "action", None)
    return f"{name} {action}" if action else name


def build_parser() -> argparse.ArgumentParser:
    # -c is accepted anywhere after the command: every subparser inherits it
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-c",
        "--config",
        type=Path,
        default=None,
        help="config file (default: $RUNTIME_CONFIG, else ./config.json5)",
    )
    parser = argparse.ArgumentParser(
        prog="runtime", description="A declarative runtime for Facebook Messenger bots."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    validate = commands.add_parser(
        "validate", parents=[common], help="check the config and flows; exit 1 if invalid"
    )
    validate.add_argument("--json", action="store_true", help="print problems as JSON")
    validate.set_defaults(handler=run_validate)

    schema = commands.add_parser("schema", parents=[common], help="print the config's JSON Schema")
    schema.set_defaults(handler=run_schema)

    test = commands.add_parser(
        "test", parents=[common], help="run conversation tests against the flows, offline"
    )
    test.add_argument(
        "files",
        nargs="*",
        type=Path,
        metavar="FILES",
        help="test files or folders (default: the tests/ folder next to the config file)",
    )
    test.set_defaults(handler=run_test)

    chat = commands.add_parser(
        "chat", parents=[common], help="talk to the bot in the terminal, offline"
    )
    chat.add_argument(
        "--as", dest="psid", default=None, metavar="PSID", help="who you are (default: chat-local)"
    )
    chat.add_argument("--account", default=None, help="the account to talk to (default: the first)")
    chat.set_defaults(handler=run_chat)

    serve = commands.add_parser("serve", parents=[common], help="run the webhook server")
    serve.add_argument("--host", default=None, help="interface (default: server.host)")
    serve.add_argument("--port", type=int, default=None, help="TCP port (default: server.port)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    serve.add_argument(
        "--no-reload", action="store_true", help="do not watch the files for changes"
    )
    serve.set_defaults(handler=run_serve)

    send = commands.add_parser(
        "send", parents=[common], help="send a message to a person (24-hour window rules)"
    )
    send.add_argument("channel", choices=["messenger"])
    send.add_argument("--to", required=True, metavar="PSID", help="the person's page-scoped id")
    send.add_argument("--text", required=True, help="the message (split if over 2000 chars)")
    send.add_argument("--tag", default=None, help="message tag, for outside the 24-hour window")
    send.add_argument("--account", default=None, help="the page account (default: the only one)")
    send.set_defaults(handler=run_send)

    _add_pair_parser(commands, common)

    outbox = commands.add_parser(
        "outbox", parents=[common], help="replies waiting to be sent, and dead letters"
    )
    outbox_actions = outbox.add_subparsers(
        title="actions", metavar="ACTION", dest="action", required=True
    )
    outbox_list = outbox_actions.add_parser(
        "list", parents=[_config_after_action()], help="waiting replies and dead letters"
    )
    outbox_list.set_defaults(handler=run_outbox, dead_letter=None)
    outbox_retry = outbox_actions.add_parser(
        "retry", parents=[_config_after_action()], help="send a dead letter again"
    )
    outbox_retry.add_argument("dead_letter", type=int, metavar="ID")
    outbox_retry.set_defaults(handler=run_outbox)
    return parser


def config_path(args: argparse.Namespace) -> Path:
    from runtime.config.load import default_config_path

    given: Path | None = args.config
    return given if given is not None else default_config_path()


def run_validate(args: argparse.Namespace) -> int:
    from runtime.build import build_bot
    from runtime.errors import ConfigError, ConfigReadError
    from runtime.validation.problems import problems_to_json

    path = config_path(args)
    try:
        loaded = build_bot(path)
    except ConfigError as err:
        _print_problems(err.problems, as_json=args.json)
        return 2 if isinstance(err, ConfigReadError) else 1
    if args.json:
        print(problems_to_json(loaded.warnings))
    else:
        _print_problems(loaded.warnings, as_json=False)
        print(f"{path}: valid ({_summary(loaded.bot, len(loaded.warnings))})")
    return 0


def _summary(bot: Bot, warnings: int) -> str:
    def counted(number: int, noun: str) -> str:
        return f"{number} {noun}{'' if number == 1 else 's'}"

    parts = [counted(len(bot.accounts), "account"), counted(len(bot.flows), "flow")]
    return ", ".join([*parts, counted(warnings, "warning")])


def _print_problems(problems: Sequence[object], *, as_json: bool) -> None:
    from runtime.validation.problems import Problem, problems_to_json

    found = [problem for problem in problems if isinstance(problem, Problem)]
    if as_json:
        print(problems_to_json(found))
        return
    for problem in found:
        print(problem.format(), file=sys.stderr)


def run_schema(args: argparse.Namespace) -> int:
    from runtime.validation.jsonschema import json_schema

    print(json.dumps(json_schema("config", title="Messenger runtime config"), indent=2))
    return 0


def run_test(args: argparse.Namespace) -> int:
    from runtime.testing.runner import run_conversation_tests

    return run_conversation_tests(config_path(args), args.files, out=sys.stdout, err=sys.stderr)


def run_chat(args: argparse.Namespace) -> int:
    from runtime.build import build_bot
    from runtime.chat import CHAT_PSID, chat
    from runtime.testing.conversation import choose_account

    bot = build_bot(config_path(args)).bot
    account = choose_account(bot, args.account)
    return chat(bot, account, args.psid or CHAT_PSID)


def run_serve(args: argparse.Namespace) -> int:
    from runtime.serve import serve

    if args.workers < 1:
        print("runtime serve: --workers must be at least 1", file=sys.stderr)
        return 2
    if args.workers > 1 and _memory_state(config_path(args)):
        print(
            "runtime serve: state.backend 'memory' lives inside one process; with --workers "
            f"{args.workers} each worker would have its own: use 'sqlite'",
            file=sys.stderr,
        )
        return 2
    serve(
        config_path(args),
        host=args.host,
        port=args.port,
        workers=args.workers,
        reload=not args.no_reload,
    )
    return 0


def run_send(args: argparse.Namespace) -> int:
    import asyncio

    from runtime.build import build_bot
    from runtime.messenger.proactive import send_to

    bot = build_bot(config_path(args)).bot
    require_shared_state(bot.config, "runtime send")
    asyncio.run(send_to(bot, psid=args.to, text=args.text, account_id=args.account, tag=args.tag))
    print(f"sent to {args.to}")
    return 0


def _config_after_action() -> argparse.ArgumentParser:
    """`-c` after a command's action too; SUPPRESS, so an absent one keeps a `-c` given
    before the action (a plain default would overwrite it with None)."""
    after = argparse.ArgumentParser(add_help=False)
    after.add_argument("-c", "--config", type=Path, default=argparse.SUPPRESS, help="config file")
    return after


def _add_pair_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    pair = commands.add_parser(
        "pair",
        aliases=["pairing"],
        parents=[common],
        help="who may talk to the bot: pairing requests and approved senders",
    )
    after = _config_after_action()
    actions = pair.add_subparsers(title="actions", metavar="ACTION", dest="action", required=True)

    def action(name: str, summary: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, parents=[after], help=summary)
        parser.add_argument("channel", choices=["messenger"])
        parser.set_defaults(handler=run_pair, argument=None, account=None, approved=False)
        return parser

    listing = action("list", "pending pairing requests (code, account, PSID, age, expiry)")
    listing.add_argument("--account", default=None, help="one account's only")
    listing.add_argument("--approved", action="store_true", help="approved senders instead")
    for name, verb in (("approve", "approve the sender of"), ("deny", "drop the request of")):
        parser = action(name, f"{verb} a pairing code")
        # nargs="+": a code typed with a space in it (`abcd efgh`) is one code
        parser.add_argument("argument", nargs="+", metavar="CODE")
    revoke = action("revoke", "withdraw a sender's approval")
    revoke.add_argument("argument", metavar="PSID")
    revoke.add_argument("--account", default=None, help="the account (default: where approved)")


def run_pair(args: argparse.Namespace) -> int:
    import asyncio
    import time

    from runtime.config.load import load_config
    from runtime.pairing import PairAction, run_pair_command

    argument = " ".join(args.argument) if isinstance(args.argument, list) else args.argument
    config = load_config(config_path(args)).config
    require_shared_state(config, "runtime pair")
    output = asyncio.run(
        run_pair_command(
            config,
            PairAction(args.action),
            argument=argument,
            account_id=args.account,
            approved=args.approved,
            now=time.time(),
        )
    )
    print(output)
    return 0


def run_outbox(args: argparse.Namespace) -> int:
    import asyncio
    import time

    from runtime.config.load import load_config
    from runtime.deadletters import list_outbox, retry_dead_letter

    config = load_config(config_path(args)).config
    require_shared_state(config, "runtime outbox")
    if args.dead_letter is None:
        output = asyncio.run(list_outbox(config, now=time.time()))
    else:
        output = asyncio.run(retry_dead_letter(config, args.dead_letter, now=time.time()))
    print(output)
    return 0


def require_shared_state(config: Config, command: str) -> None:
    """Commands that act on a running server's state need a state the server shares."""
    from runtime.config.model import StateBackend
    from runtime.errors import Error

    if config.state.backend is StateBackend.MEMORY:
        raise Error(
            f"state.backend 'memory' lives inside the server process, out of {command}'s "
            "reach: use 'sqlite' (the default) to pair, send or inspect the outbox from here"
        )


def _memory_state(path: Path) -> bool:
    from runtime.config.load import load_config
    from runtime.config.model import StateBackend
    from runtime.errors import ConfigError

    try:
        return load_config(path).config.state.backend is StateBackend.MEMORY
    except ConfigError:
        return False  # serve reports the problems itself
