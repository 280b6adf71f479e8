"""The `runtime` command line: the argparse face of the commands in `runtime.commands`.

Exit codes: 0 success, 1 the user's files are invalid (or a check failed), 2 a file cannot
be read or the command line is wrong. Logs and errors go to stderr, one line each.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from runtime import __version__
from runtime.commands import (
    chat,
    emulator,
    handover,
    init,
    outbox,
    pair,
    profile,
    schema,
    send,
    serve,
    sessions,
    test,
    texts,
    validate,
)
from runtime.commands.common import Handler, command_name, config_option, print_problems

# in the order `runtime --help` lists them
COMMANDS = (
    init,
    validate,
    test,
    texts,
    chat,
    emulator,
    serve,
    profile,
    pair,
    handover,
    sessions,
    send,
    outbox,
    schema,
)


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
        print_problems(err.problems, as_json=False)
        return 2
    except ConfigError as err:  # the user's files: every problem, one line each
        print_problems(err.problems, as_json=False)
        return 1
    except Error as err:  # anything else the runtime refuses on purpose: one sentence
        print(f"{command_name(args)}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `runtime schema | head`: the reader has what it wanted
        _quiet_closed_stdout()
        return 0


def _quiet_closed_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush into the closed pipe does
    not print a traceback at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runtime",
        description="A declarative runtime for Facebook Messenger bots.",
        epilog="`runtime COMMAND --help` says more about each command, with examples.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    common = config_option()  # -c is accepted anywhere after the command
    for command in COMMANDS:
        command.register(commands, common)
    return parser
