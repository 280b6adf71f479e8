"""`runtime serve`: run the webhook server, in one process or several workers."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from functools import partial
from pathlib import Path
from typing import Any

from sanic import Sanic
from sanic.worker.loader import AppLoader

from runtime.server import create_app

logger = logging.getLogger("runtime.server")


def serve(
    config_path: Path, *, host: str | None, port: int | None, workers: int, reload: bool = True
) -> None:
    """Serve until interrupted. Each worker process builds its own app from the config file,
    so a worker never shares a store connection or an HTTP client with another.
    """
    # a SIGHUP before the server can reload would end the process: ignore it until then
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    loader = AppLoader(factory=partial(create_app, config_path, reload=reload))
    app = loader.load()
    server = app.ctx.runtime.bot.config.server
    app.prepare(
        host=host or server.host,
        port=port if port is not None else server.port,
        workers=workers,
        access_log=False,
        motd=False,
        single_process=workers == 1,
    )
    logger.info(
        "serving on http://%s:%d with %d worker%s",
        host or server.host,
        port if port is not None else server.port,
        workers,
        "" if workers == 1 else "s",
    )
    if workers == 1:
        Sanic.serve_single(primary=app)
    else:
        # `kill -HUP <this process>` reaches the workers, each of which reloads itself
        signal.signal(signal.SIGHUP, partial(_forward_to_ready_workers, app))
        Sanic.serve(primary=app, app_loader=loader)


def _forward_to_ready_workers(app: Sanic[Any, Any], signum: int, _frame: object) -> None:
    """Pass a SIGHUP on to the server workers that are up.

    A worker still starting has no handler yet (a SIGHUP would kill it), and it reads the
    files as they are now anyway. Other children (Sanic's state manager) die of a SIGHUP.
    """
    ready = _ready_worker_names(app)
    for child in multiprocessing.active_children():
        if not child.name.startswith("Sanic-Server-") or child.pid is None:
            continue
        if ready is None or child.name in ready:
            os.kill(child.pid, signum)


def _ready_worker_names(app: Sanic[Any, Any]) -> set[str] | None:
    """The workers Sanic's manager records as acknowledged (serving); None if unknown."""
    manager = getattr(app, "_manager", None)  # Sanic's own record of its processes
    if manager is None:
        return None
    try:
        states = manager.worker_state
        return {name for name, info in states.items() if info.get("state") == "ACKED"}
    except (AttributeError, OSError, EOFError):  # its shape changed, or its manager is gone
        return None
