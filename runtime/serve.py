"""`runtime serve`: run the webhook server, in one process or several workers."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import logging
import multiprocessing
import os
import queue
import signal
import socket
import threading
import time
from functools import partial
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from sanic import Sanic
from sanic.server.socket import bind_socket
from sanic.worker.loader import AppLoader

from runtime.config.model import DEFAULT_HOST, DEFAULT_PORT, StateSettings
from runtime.emulator.settings import EmulatorSettings, origin_of
from runtime.errors import Error
from runtime.logs import LOG_FORMAT_VARIABLE, setup_logging
from runtime.metrics_folder import open_metrics_folder
from runtime.server import WEBHOOK_PATH, announce_bot, create_app, describe_bot
from runtime.store.factory import open_store

logger = logging.getLogger("runtime.server")

STARTING_POLL = 0.05  # seconds between looks at a worker that is owed a SIGHUP and starting
STARTING_PATIENCE = 60.0  # seconds after which a worker that never came up is not owed it


def serve(
    config_path: Path,
    *,
    host: str | None,
    port: int | None,
    workers: int,
    reload: bool = True,
    log_level: int | None = None,
    log_format: str = "text",
    emulator: EmulatorSettings | None = None,
) -> None:
    """Serve until interrupted. Each worker process builds its own app from the config file,
    so a worker never shares a store connection or an HTTP client with another.

    With `emulator` (one worker), the server serves the Messenger emulator too, on `host` and
    `port` (127.0.0.1:8080 when not given, not the config's: the caller checks it is
    loopback). Raises Error, in one sentence, when the address cannot be listened on.
    """
    # a SIGHUP before the server can reload would end the process: ignore it until then
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    # Sanic's advice to run with `--debug` or `--dev` (on a terminal) names options that
    # `runtime serve` does not have; the workers inherit this too
    os.environ["SANIC_IGNORE_PRODUCTION_WARNING"] = "1"
    if workers > 1:  # each worker counts in files there, and /metrics sums them all
        open_metrics_folder()
    # how every worker process learns the format (each sets up its logging in create_app)
    os.environ[LOG_FORMAT_VARIABLE] = log_format
    setup_logging(log_level, log_format)
    bound: socket.socket | None = None
    if emulator is not None:  # the Graph API stand-in is this server: the app needs its address
        host, port = host or DEFAULT_HOST, DEFAULT_PORT if port is None else port
        bound = listen(host, port)
        emulator = dataclasses.replace(emulator, origin=origin_of(bound))
    loader = AppLoader(
        factory=partial(
            create_app,
            config_path,
            reload=reload,
            log_level=log_level,
            announce=False,
            emulator=emulator,
        )
    )
    try:
        app = loader.load()
    except BaseException:
        if bound is not None:  # the config is wrong: nothing will listen on it
            bound.close()
        raise
    bot = app.ctx.runtime.bot
    check_state(bot.config.state)
    host = host or bot.config.server.host
    port = port if port is not None else bot.config.server.port
    # bound here, not by Sanic: a port in use is one line, not a traceback
    sock = bound if bound is not None else listen(host, port)
    port = sock.getsockname()[1]  # the one the kernel chose for port 0
    app.prepare(
        sock=sock,
        workers=workers,
        access_log=False,
        motd=False,
        single_process=workers == 1,
    )
    announce_bot(bot, app.ctx.runtime.warnings)
    address = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
    logger.info(
        "serving on %s with %d worker%s: webhook %s%s (or %s/<account id>)",
        address,
        workers,
        "" if workers == 1 else "s",
        address,
        WEBHOOK_PATH,
        WEBHOOK_PATH,
    )
    logger.info("%s", describe_bot(bot))
    if workers == 1:
        Sanic.serve_single(primary=app)
    else:
        # `kill -HUP <this process>` reaches the workers, each of which reloads itself
        signals = MainProcessSignals(app)
        signals.install()
        # Sanic's manager sets its SIGTERM/SIGINT handlers when it is made, just before this
        app.register_listener(signals.take_over_shutdown, "main_process_ready")
        Sanic.serve(primary=app, app_loader=loader)


def check_state(state: StateSettings) -> None:
    """Open the store once and close it: one that cannot be opened (a Redis server that does
    not answer, refuses the password...) stops serve with StoreError's one sentence, not a
    traceback from each worker."""

    async def open_and_close() -> None:
        store = await open_store(state)
        await store.close()

    asyncio.run(open_and_close())


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (the workers share it), or Error saying why not."""
    try:
        return bind_socket(host, port)
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            message = f"port {port} on {host} is in use: stop the other server or use --port"
        elif err.errno == errno.EACCES:
            message = f"port {port} on {host} may not be used by this user: use a port above 1023"
        elif err.errno == errno.EADDRNOTAVAIL:
            message = f"{host} is not an address of this machine: use --host"
        else:
            reason = err.strerror or str(err)
            message = f"cannot listen on port {port} on {host}: {reason}"
        raise Error(message) from err


class MainProcessSignals:
    """The main process's signals, acted on from a thread: SIGHUP is passed on to every
    server worker; SIGTERM and SIGINT shut Sanic's manager down.

    The signal handlers only queue the signal: Python runs a handler in the main thread
    between two bytecodes, and Sanic's main thread is often in the middle of a call to its
    state manager (`worker_state`, a multiprocessing proxy: one connection per thread, a
    request, then its reply). A handler that asked that proxy which workers are up sent its
    request inside one of Sanic's and read Sanic's reply; Sanic read the handler's. Its
    monitor loop died of it, shut the listening socket down, and every new connection was
    refused while both workers lived on. The thread has a connection of its own. Sanic's own
    SIGTERM handler has the same flaw (it records the workers' new state through that proxy,
    and a stop now and then ended in a traceback and exit 1: sanic-org/sanic#3145), so its
    handlers are replaced too, and the thread calls the manager's.

    A burst of SIGHUPs is one forward: each worker then reloads the files as they are after
    the last one. A worker still starting has no handler yet (a SIGHUP would kill it), but it
    may already have read the files the SIGHUP is about: it is owed the signal and gets it
    once Sanic records it as up. Other children (Sanic's state manager) die of a SIGHUP, so
    they never get it.

    A SIGTERM or SIGINT while the workers start is acted on once they are up: Sanic's
    manager, while it waits for every worker to say it is up, puts a stop request back in
    its queue and reads it again, forever, once a stopped worker can never say so (the
    process hung until killed). A second one meanwhile is acted on at once.
    """

    def __init__(self, app: Sanic[Any, Any]) -> None:
        self._app = app
        self._signals: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._owed: dict[int, BaseProcess] = {}  # by pid: workers the SIGHUP has not reached
        self._owed_since = 0.0
        self._up = threading.Event()  # Sanic's manager no longer waits for workers to start
        self._stop_owed: int | None = None  # a SIGTERM or SIGINT that came while they started

    def install(self) -> None:
        threading.Thread(target=self._run, name="main-process-signals", daemon=True).start()
        signal.signal(signal.SIGHUP, self._on_signal)

    def take_over_shutdown(self, app: Sanic[Any, Any]) -> None:
        """Queue SIGTERM and SIGINT too, in place of the handlers Sanic's manager set, and
        learn when the manager is done waiting for the workers to start."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        manager = getattr(app, "_manager", None)
        waiting = getattr(manager, "wait_for_ack", None)
        if waiting is None:  # its shape changed: act on every signal at once, as before
            self._up.set()
            return

        def wait_for_ack() -> None:
            waiting()
            self._up.set()
            self._signals.put(0)  # wake the thread: a stop may be owed

        manager.wait_for_ack = wait_for_ack  # type: ignore[union-attr]

    def _on_signal(self, signum: int, _frame: object) -> None:
        # SimpleQueue.put is reentrant: safe wherever the main thread was interrupted
        self._signals.put(signum)

    def _run(self) -> None:
        while True:
            for signum in dict.fromkeys(self._next_signals()):  # a burst of one is one
                if signum == signal.SIGHUP:
                    self._owe_sighup()
                elif signum in (signal.SIGTERM, signal.SIGINT):
                    self._stop(signum)
            if self._stop_owed is not None and self._up.is_set():
                self._shut_down(self._stop_owed)
                self._stop_owed = None
            try:
                self._deliver()
            except Exception:  # the thread must outlive anything, or SIGHUP stops working
                logger.exception("SIGHUP not passed on to the workers")
                self._owed = {}

    def _next_signals(self) -> list[int]:
        """The signals received since the last look: waits for one, or STARTING_POLL at
        most while a worker starting is owed a SIGHUP."""
        try:
            received = [self._signals.get(timeout=STARTING_POLL if self._owed else None)]
        except queue.Empty:
            return []
        while not self._signals.empty():
            received.append(self._signals.get_nowait())
        return received

    def _owe_sighup(self) -> None:
        """Every server worker is owed the SIGHUP now."""
        self._owed = {
            child.pid: child
            for child in multiprocessing.active_children()
            if child.name.startswith("Sanic-Server-") and child.pid is not None
        }
        self._owed_since = time.monotonic()

    def _stop(self, signum: int) -> None:
        if self._up.is_set() or self._stop_owed is not None:
            self._shut_down(signum)
        else:
            logger.info("stopping once the workers have started")
            self._stop_owed = signum

    def _shut_down(self, signum: int) -> None:
        """What Sanic's manager does on SIGTERM or SIGINT (a second one kills the workers)."""
        manager = getattr(self._app, "_manager", None)
        try:
            manager.shutdown_signal(signum, None)  # type: ignore[union-attr]
        except Exception:  # its shape changed: the default action, which ends this process
            logger.exception("Sanic's manager did not take signal %d; exiting", signum)
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    def _deliver(self) -> None:
        """Signal every owed worker that is up; forget those that have ended, and those
        still not up after STARTING_PATIENCE."""
        ready = _ready_worker_names(self._app)
        patience_over = time.monotonic() - self._owed_since > STARTING_PATIENCE
        for pid, worker in list(self._owed.items()):
            if not worker.is_alive():
                del self._owed[pid]
            elif ready is None or worker.name in ready:
                _signal(pid, signal.SIGHUP)
                del self._owed[pid]
            elif patience_over:
                logger.warning("worker %s never came up: it did not get the SIGHUP", worker.name)
                del self._owed[pid]


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it has just ended
        os.kill(pid, signum)


def _ready_worker_names(app: Sanic[Any, Any]) -> set[str] | None:
    """The workers Sanic's manager records as acknowledged (serving); None if unknown.

    Never call it from the main thread: Sanic's own calls to the same proxy run there.
    """
    manager = getattr(app, "_manager", None)  # Sanic's own record of its processes
    if manager is None:
        return None
    try:
        states = manager.worker_state
        return {name for name, info in states.items() if info.get("state") == "ACKED"}
    except (AttributeError, OSError, EOFError):  # its shape changed, or its manager is gone
        return None
