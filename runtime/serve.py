"""`runtime serve`: run the webhook server, in one process or several workers."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from functools import partial
from pathlib import Path

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
        signal.signal(signal.SIGHUP, _forward_to_workers)
        Sanic.serve(primary=app, app_loader=loader)


def _forward_to_workers(signum: int, _frame: object) -> None:
    # only Sanic's server workers: the other children (its state manager) die of a SIGHUP
    for child in multiprocessing.active_children():
        if child.name.startswith("Sanic-Server-") and child.pid is not None:
            os.kill(child.pid, signum)
