"""A server worker's signals, handed to its event loop and never lost, however it is run.

Each handler is a plain Python signal handler that hands its callback to the event loop, not
`loop.add_signal_handler`: uvloop drops a signal that comes while its loop is not running (it
reads signals from a self-pipe it closes between two runs). A Sanic worker runs its loop once
per start-up stage, after it has told the main process it is up: a SIGHUP forwarded in one of
those gaps was lost, and that worker served the old flows until the next one; a SIGTERM there
left the worker serving while the main process waited for it to stop. Python runs these
handlers in the main thread whatever the loop is doing, and the loop calls the callback the
next time it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any


class LoopSignal:
    """Calls `callback` on the running loop at each `signum`, between `take` and `give_back`."""

    def __init__(self, signum: signal.Signals, callback: Callable[[], None]) -> None:
        self._signum = signum
        self._callback = callback
        self._loop: asyncio.AbstractEventLoop | None = None
        self._before: Any = None  # what the signal did before `take`, given back by `give_back`
        self._taken = False

    def take(self) -> None:
        """Handle the signal from now on. Where signals cannot be handled (not the main
        thread), nothing changes."""
        self._loop = asyncio.get_running_loop()
        with contextlib.suppress(ValueError):  # not the main thread
            self._before = signal.signal(self._signum, self._on_signal)
            self._taken = True

    def give_back(self) -> None:
        """The signal does again what it did before `take` (`runtime serve` ignores SIGHUP:
        the default action would end the process while it finishes its events and drains
        its senders)."""
        if not self._taken:
            return
        with contextlib.suppress(ValueError):
            signal.signal(self._signum, signal.SIG_DFL if self._before is None else self._before)
        self._taken = False

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: the server is stopping
            loop.call_soon_threadsafe(self._callback)
