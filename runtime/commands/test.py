"""`runtime test`: conversation tests against the flows, with no network and no secrets."""

from __future__ import annotations

import argparse
from pathlib import Path

from runtime.commands.common import Subparsers, add_command, config_path


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    parser = add_command(
        commands,
        "test",
        parents=[common],
        summary="run conversation tests against the flows, offline",
        description=(
            "Each test file (JSON5) lists what a person says or taps and what the bot must\n"
            "answer, and what the APIs the flows call answer (`http`: a request it has no\n"
            'answer for fails the test). A `{ wait: "10m" }` turn lets time pass: the\n'
            "timers due by then fire (a delay's rest, an ask's on_timeout). A test's\n"
            '`locale: "fr_FR"` is the person\'s profile locale: the texts in that language.\n'
            "A text written as variations passes as any of them. Needs no token, no\n"
            "appSecret and no ${VAR}: nothing leaves the machine."
        ),
        examples=[
            "runtime test -c bot/config.json5",
            "runtime test bot/tests/signup.json5 -c bot/config.json5",
        ],
    )
    parser.add_argument(
        "files",
        nargs="*",
        type=Path,
        metavar="FILES",
        help="test files or folders (default: the tests/ folder next to the config file)",
    )
    parser.set_defaults(handler=run, command="test")


def run(args: argparse.Namespace) -> int:
    import sys

    from runtime.testing.runner import run_conversation_tests

    return run_conversation_tests(config_path(args), args.files, out=sys.stdout, err=sys.stderr)
