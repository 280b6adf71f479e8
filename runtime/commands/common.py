"""What every command shares: how a parser is added, where the config is, how problems print."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from runtime.config.model import Config
    from runtime.errors import Error

# a string: argparse's class is not subscriptable at run time
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Handler = Callable[[argparse.Namespace], int]


def add_command(
    commands: Subparsers,
    name: str,
    *,
    parents: Sequence[argparse.ArgumentParser],
    summary: str,
    description: str = "",
    examples: Sequence[str] = (),
    aliases: Sequence[str] = (),
) -> argparse.ArgumentParser:
    """A subcommand whose `--help` says what it does, in a line and in full, with examples.

    `summary` is the line `runtime --help` lists; `description` adds the detail under it.
    """
    parser = commands.add_parser(
        name,
        aliases=list(aliases),
        parents=list(parents),
        help=summary,
        description=_sentence(summary) + (f"\n\n{description}" if description else ""),
        epilog=examples_text(examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def examples_text(examples: Sequence[str]) -> str | None:
    if not examples:
        return None
    return "examples:\n" + "\n".join(f"  {example}" for example in examples)


def _sentence(summary: str) -> str:
    return summary[:1].upper() + summary[1:] + ("" if summary.endswith(".") else ".")


def config_option() -> argparse.ArgumentParser:
    """`-c/--config`, inherited by every command so it is accepted anywhere after it."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-c",
        "--config",
        type=Path,
        default=None,
        help="config file (default: $RUNTIME_CONFIG, else ./config.json5)",
    )
    return common


def config_after_action() -> argparse.ArgumentParser:
    """`-c` after a command's action too; SUPPRESS, so an absent one keeps a `-c` given
    before the action (a plain default would overwrite it with None)."""
    after = argparse.ArgumentParser(add_help=False)
    after.add_argument("-c", "--config", type=Path, default=argparse.SUPPRESS, help="config file")
    return after


def add_log_options(parser: argparse.ArgumentParser) -> None:
    """`--log-level` and `--log-format`, for the commands that run the server."""
    from runtime.logs import LOG_FORMAT_VARIABLE, LOG_FORMATS, LOG_LEVELS

    parser.add_argument(
        "--log-level",
        choices=list(LOG_LEVELS),
        default="info",
        help="the least important lines logged, in every worker: debug, info (default: one "
        "line per turn and per reload), warning or error",
    )
    parser.add_argument(
        "--log-format",
        choices=list(LOG_FORMATS),
        default=None,
        help="text (a line a person reads) or json (one object a line: time, level, logger, "
        f"message, account and psid where known); default: ${LOG_FORMAT_VARIABLE}, else text",
    )


def log_format(args: argparse.Namespace, command: str) -> str | None:
    """The format `add_log_options` chose: `--log-format`, else $RUNTIME_LOG_FORMAT, else
    text; None, once the reason is printed, when the variable holds no format (exit 2)."""
    from runtime.logs import environ_log_format

    given: str | None = args.log_format
    if given is not None:
        return given
    chosen, problem = environ_log_format(os.environ)
    if problem is not None:
        print(f"{command}: {problem} (or use --log-format)", file=sys.stderr)
        return None
    return chosen or "text"


def log_refusal(err: Error, command: str) -> int:
    """Why a server did not start, as log records (JSON lines), not as the text lines
    `main()` prints; the exit code it gives: 2 for a file it cannot read, else 1."""
    from runtime.errors import ConfigError, ConfigReadError

    logger = logging.getLogger("runtime.server")
    if isinstance(err, ConfigError):
        for problem in err.problems:
            logger.error("%s", problem.format())
        return 2 if isinstance(err, ConfigReadError) else 1
    logger.error("%s: %s", command, err)
    return 1


def start_server(start: Callable[[], None], command: str, chosen_format: str) -> int:
    """Run a server (`start`, until it stops) and give its exit code: in json, why it did
    not start is log lines too (`log_refusal`); in text, `main()` prints it."""
    from runtime.errors import Error

    try:
        start()
    except Error as err:
        if chosen_format == "json":
            return log_refusal(err, command)
        raise
    return 0


def config_path(args: argparse.Namespace) -> Path:
    from runtime.config.load import default_config_path

    given: Path | None = args.config
    return given if given is not None else default_config_path()


def command_name(args: argparse.Namespace) -> str:
    """`runtime outbox retry`, for the one-line error of a command."""
    name = f"runtime {args.command}"
    action = getattr(args, "action", None)
    return f"{name} {action}" if action else name


def print_problems(problems: Sequence[object], *, as_json: bool) -> None:
    """Problems as `file:line:col: key.path: message` lines on stderr, or JSON on stdout.

    Under a syntax error's line, the source line it is on, with a caret under the column.
    """
    from runtime.validation.problems import Problem, problems_to_json

    found = [problem for problem in problems if isinstance(problem, Problem)]
    if as_json:
        print(problems_to_json(found))
        return
    for problem in found:
        print(problem.format(), *problem.excerpt(), sep="\n", file=sys.stderr)


def require_shared_state(config: Config, command: str) -> None:
    """Commands that act on a running server's state need a state the server shares."""
    from runtime.config.model import StateBackend
    from runtime.errors import Error

    if config.state.backend is StateBackend.MEMORY:
        raise Error(
            f"state.backend 'memory' lives inside the server process, out of {command}'s "
            "reach: use 'sqlite' (the default) or 'redis' to pair, send, hand over, or read "
            "the outbox or the sessions from here"
        )
