"""`runtime init`: write a new bot (config, flows, a conversation test) to start from."""

from __future__ import annotations

import argparse
from pathlib import Path

from runtime.commands.common import Subparsers, add_command


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    parser = add_command(
        commands,
        "init",
        parents=[],  # no -c: there is no config yet
        summary="write a new bot: a config, flows and a conversation test",
        description=(
            "The config holds placeholders, each with a comment saying where its real value\n"
            "is found. The bot validates, chats and passes its test as written. Existing files\n"
            "are never overwritten without --force."
        ),
        examples=["runtime init mybot", "runtime init   # in the current folder"],
    )
    parser.add_argument(
        "folder",
        nargs="?",
        type=Path,
        default=Path(),
        metavar="DIR",
        help="where to write the bot, made if missing (default: the current folder)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="overwrite the files it writes where they exist (other files are left alone)",
    )
    parser.set_defaults(handler=run, command="init")


def run(args: argparse.Namespace) -> int:
    import shlex

    from runtime.starter import CONFIG_FILE, folder_name, write_starter

    folder: Path = args.folder
    written = write_starter(folder, force=args.force)
    print(f"wrote a new bot in {folder_name(folder)}:")
    for path in written:
        print(f"  {path}")
    config = shlex.quote(str(folder / CONFIG_FILE))
    steps = [
        (f"runtime chat -c {config}", "talk to it in the terminal (/quit ends)"),
        (f"runtime test -c {config}", "run its conversation test"),
        (f"runtime validate -c {config}", "check it; it warns until the placeholders are replaced"),
    ]
    width = max(len(command) for command, _ in steps)
    print("next:")
    for command, why in steps:
        print(f"  {command.ljust(width)}   # {why}")
    return 0
