"""`runtime serve`: the webhook server, with hot reload."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from typing import TYPE_CHECKING

from runtime.commands.common import (
    Subparsers,
    add_command,
    add_log_options,
    config_path,
    log_format,
    start_server,
)
from runtime.logs import LOG_LEVELS

if TYPE_CHECKING:
    from runtime.config.model import Config


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    parser = add_command(
        commands,
        "serve",
        parents=[common],
        summary="run the webhook server",
        description=(
            "Serves GET/POST /webhook/messenger (and /webhook/messenger/<accountId>),\n"
            "GET /healthz and GET /metrics (Prometheus; server.metrics: false turns it off);\n"
            "reloads the config and flows when a file changes. Put it behind HTTPS, point the\n"
            "App Dashboard's webhook at it, and keep /metrics private at the proxy."
        ),
        examples=[
            "runtime serve -c bot/config.json5",
            "runtime serve -c bot/config.json5 --host 0.0.0.0 --port 8080 --workers 2",
            "runtime serve -c bot/config.json5 --log-level warning",
            "runtime serve -c bot/config.json5 --emulator",
            "runtime serve -c bot/config.json5 --log-format json 2>>runtime.log",
        ],
    )
    parser.add_argument("--host", default=None, help="interface (default: server.host)")
    parser.add_argument("--port", type=int, default=None, help="TCP port (default: server.port)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    parser.add_argument(
        "--no-reload", action="store_true", help="do not watch the files for changes"
    )
    parser.add_argument(
        "--emulator",
        action="store_true",
        help="serve the Messenger emulator at /emulator too; every Graph API call goes to its "
        "stand-in, not to Meta (loopback only, one worker)",
    )
    add_log_options(parser)
    parser.set_defaults(handler=run, command="serve")


def run(args: argparse.Namespace) -> int:
    from runtime.serve import serve

    chosen_format = log_format(args, "runtime serve")
    if chosen_format is None:
        return 2
    if args.workers < 1:
        print("runtime serve: --workers must be at least 1", file=sys.stderr)
        return 2
    if args.workers > 1 and _memory_state(args):
        print(
            "runtime serve: state.backend 'memory' lives inside one process; with --workers "
            f"{args.workers} each worker would have its own: use 'sqlite'",
            file=sys.stderr,
        )
        return 2
    host, port, emulator = args.host, args.port, None
    if args.emulator:
        address = _emulator_address(args)
        if address is None:
            return 2
        from runtime.emulator.settings import EmulatorSettings

        (host, port), emulator = address, EmulatorSettings(origin="")
    start = partial(
        serve,
        config_path(args),
        host=host,
        port=port,
        workers=args.workers,
        reload=not args.no_reload,
        log_level=LOG_LEVELS[args.log_level],
        log_format=chosen_format,
        emulator=emulator,
    )
    return start_server(start, "runtime serve", chosen_format)


def _emulator_address(args: argparse.Namespace) -> tuple[str, int] | None:
    """Where `serve --emulator` listens: --host and --port, else the config's; None, once
    the reason is printed, when that is not a loopback address or there is more than one
    worker (each person's events are kept in the one process the page polls)."""
    from runtime.config.model import DEFAULT_HOST, DEFAULT_PORT
    from runtime.emulator.settings import is_loopback

    if args.workers != 1:
        print(
            "runtime serve: --emulator runs in one worker (the page reads what the bot sent "
            f"from the process that sent it): drop --workers {args.workers}",
            file=sys.stderr,
        )
        return None
    config = _config(args)
    server = config.server if config is not None else None
    host = args.host or (server.host if server is not None else DEFAULT_HOST)
    port = args.port if args.port is not None else (server.port if server else DEFAULT_PORT)
    if not is_loopback(host):
        given = "--host" if args.host else "server.host"
        print(
            f"runtime serve: --emulator serves on a loopback address only (127.0.0.1, ::1 or "
            f"localhost), not {host} ({given}): its routes post webhooks signed with the app "
            "secret for whoever asks; use --host 127.0.0.1",
            file=sys.stderr,
        )
        return None
    return host, port


def _memory_state(args: argparse.Namespace) -> bool:
    from runtime.config.model import StateBackend

    config = _config(args)
    return config is not None and config.state.backend is StateBackend.MEMORY


def _config(args: argparse.Namespace) -> Config | None:
    """The config, or None when it has problems: serve reports them itself."""
    from runtime.config.load import load_config
    from runtime.errors import ConfigError

    try:
        return load_config(config_path(args)).config
    except ConfigError:
        return None
