"""`runtime emulator`: the bot in a page that plays Messenger, on this machine only."""

from __future__ import annotations

import argparse
from functools import partial

from runtime.commands.common import (
    Subparsers,
    add_command,
    add_log_options,
    config_path,
    log_format,
    start_server,
)

EMULATOR_HOST = "127.0.0.1"  # loopback only: its routes sign webhooks for whoever asks


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    parser = add_command(
        commands,
        "emulator",
        parents=[common],
        summary="talk to the bot in a browser page that plays Messenger, on this machine",
        description=(
            "Serves the bot on 127.0.0.1 with a Graph API stand-in, and the page\n"
            "/emulator: several people at once, quick replies, buttons, cards, the typing\n"
            "bubble, Get Started, the menu and ice breakers. A tap there is a signed webhook\n"
            "through the real pipeline; nothing reaches Meta. No token or secret is needed,\n"
            "and the state is a temporary one of its own (deleted at exit): production's is\n"
            "not touched. Edits to the files are served at once. Ctrl-C stops it."
        ),
        examples=[
            "runtime emulator -c bot/config.json5",
            "runtime emulator -c bot/config.json5 --port 9000 --account shop",
        ],
    )
    parser.add_argument(
        "--port", type=int, default=8080, help="TCP port on 127.0.0.1 (default: 8080; 0: any free)"
    )
    parser.add_argument(
        "--account", default=None, help="the one account the page talks to (default: every one)"
    )
    add_log_options(parser)
    parser.set_defaults(handler=run, command="emulator")


def run(args: argparse.Namespace) -> int:
    import shutil
    import tempfile
    from pathlib import Path

    from runtime.config.model import StateBackend, StateSettings
    from runtime.emulator.settings import EmulatorSettings
    from runtime.logs import LOG_LEVELS
    from runtime.serve import serve

    chosen_format = log_format(args, "runtime emulator")
    if chosen_format is None or not _has_account(args):
        return 2
    folder = Path(tempfile.mkdtemp(prefix="runtime-emulator-"))
    state = StateSettings(backend=StateBackend.SQLITE, path=folder / "state.db", url=None)
    settings = EmulatorSettings(origin="", state=state, offline=True, account_id=args.account)
    start = partial(
        serve,
        config_path(args),
        host=EMULATOR_HOST,
        port=args.port,
        workers=1,
        log_level=LOG_LEVELS[args.log_level],
        log_format=chosen_format,
        emulator=settings,
    )
    try:
        return start_server(start, "runtime emulator", chosen_format)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _has_account(args: argparse.Namespace) -> bool:
    """Whether --account names an account of the config (it does when not given); the
    accounts are named when not. A config with problems is the server's to report."""
    import sys

    from runtime.config.load import load_config
    from runtime.errors import ConfigError

    if args.account is None:
        return True
    try:
        accounts = load_config(config_path(args), offline=True).config.accounts
    except ConfigError:
        return True
    if args.account in accounts:
        return True
    known = ", ".join(f"'{name}'" for name in accounts) or "none"
    print(
        f"runtime emulator: --account {args.account}: no such account; the enabled accounts "
        f"are {known}",
        file=sys.stderr,
    )
    return False
