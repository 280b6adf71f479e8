"""`runtime serve`: run the webhook server, in one process or several workers."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
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
    """Pass a SIGHUP on to every server worker: now to those that are up, later to the rest.

    A worker still starting has no handler yet (a SIGHUP would kill it), but it may already
    have read the files the SIGHUP is about: it gets the signal once it is up. Other
    children (Sanic's state manager) die of a SIGHUP, so they never get it.
    """
    ready = _ready_worker_names(app)
    starting = []
    for child in multiprocessing.active_children():
        if not child.name.startswith("Sanic-Server-") or child.pid is None:
            continue
        if ready is None or child.name in ready:
            _signal(child.pid, signum)
        else:
            starting.append(child)
    if starting:
        threading.Thread(
            target=_forward_once_ready,
            args=(app, starting, signum),
            name="sighup-forwarder",
            daemon=True,
        ).start()


def _forward_once_ready(
    app: Sanic[Any, Any], workers: list[multiprocessing.process.BaseProcess], signum: int
) -> None:
    """Send `signum` to each of `workers` once Sanic records it as up (or give up on it once
    it is gone, or after a minute)."""
    deadline = time.monotonic() + 60.0
    waiting = list(workers)
    while waiting and time.monotonic() < deadline:
        ready = _ready_worker_names(app) or set()
        for worker in list(waiting):
            if not worker.is_alive():
                waiting.remove(worker)
            elif worker.name in ready and worker.pid is not None:
                _signal(worker.pid, signum)
                waiting.remove(worker)
        time.sleep(0.05)
    for worker in waiting:
        logger.warning("worker %s never came up: it did not get the SIGHUP", worker.name)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it has just ended
        os.kill(pid, signum)


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
