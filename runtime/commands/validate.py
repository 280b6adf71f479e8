"""`runtime validate`: every mistake in the config and the flows, before anything is deployed."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from runtime.commands.common import Subparsers, add_command, config_path, print_problems

if TYPE_CHECKING:
    from runtime.bot import Bot


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    parser = add_command(
        commands,
        "validate",
        parents=[common],
        summary="check the config and flows; exit 1 if invalid",
        description=(
            "Prints every problem of every file as `file:line:col: key.path: message` on\n"
            "stderr. Exit 0: valid (warnings allowed); 1: invalid; 2: a file cannot be read."
        ),
        examples=[
            "runtime validate -c bot/config.json5",
            "runtime validate --offline --json   # in CI, without production secrets",
        ],
    )
    parser.add_argument("--json", action="store_true", help="print problems as JSON on stdout")
    parser.add_argument(
        "--offline",
        action="store_true",
        help="check what does not need production secrets: unset ${VAR}s and missing "
        "tokens become warnings",
    )
    parser.set_defaults(handler=run, command="validate")


def run(args: argparse.Namespace) -> int:
    from runtime.build import build_bot
    from runtime.errors import ConfigError, ConfigReadError
    from runtime.validation.problems import problems_to_json

    path = config_path(args)
    try:
        loaded = build_bot(path, offline=args.offline)
    except ConfigError as err:
        print_problems(err.problems, as_json=args.json)
        return 2 if isinstance(err, ConfigReadError) else 1
    if args.json:
        print(problems_to_json(loaded.warnings))
    else:
        print_problems(loaded.warnings, as_json=False)
        valid = "valid offline" if args.offline else "valid"
        print(f"{path}: {valid} ({summary(loaded.bot, len(loaded.warnings))})")
    return 0


def summary(bot: Bot, warnings: int) -> str:
    def counted(number: int, noun: str) -> str:
        return f"{number} {noun}{'' if number == 1 else 's'}"

    parts = [counted(len(bot.accounts), "account"), counted(len(bot.flows), "flow")]
    return ", ".join([*parts, counted(warnings, "warning")])
