"""`runtime serve`: the webhook server, with hot reload."""

from __future__ import annotations

import argparse
import sys

from runtime.commands.common import Subparsers, add_command, config_path
from runtime.logs import LOG_LEVELS


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
        ],
    )
    parser.add_argument("--host", default=None, help="interface (default: server.host)")
    parser.add_argument("--port", type=int, default=None, help="TCP port (default: server.port)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    parser.add_argument(
        "--no-reload", action="store_true", help="do not watch the files for changes"
    )
    parser.add_argument(
        "--log-level",
        choices=list(LOG_LEVELS),
        default="info",
        help="the least important lines logged, in every worker: debug, info (default: one "
        "line per turn and per reload), warning or error",
    )
    parser.set_defaults(handler=run, command="serve")


def run(args: argparse.Namespace) -> int:
    from runtime.serve import serve

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
    serve(
        config_path(args),
        host=args.host,
        port=args.port,
        workers=args.workers,
        reload=not args.no_reload,
        log_level=LOG_LEVELS[args.log_level],
    )
    return 0


def _memory_state(args: argparse.Namespace) -> bool:
    from runtime.config.load import load_config
    from runtime.config.model import StateBackend
    from runtime.errors import ConfigError

    try:
        return load_config(config_path(args)).config.state.backend is StateBackend.MEMORY
    except ConfigError:
        return False  # serve reports the problems itself
