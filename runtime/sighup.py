"""A server worker's SIGHUP: a reload request that is never lost, however the loop is run.

The handler is a plain Python signal handler that hands the request to the event loop, not
`loop.add_signal_handler`: uvloop drops a signal that comes while its loop is not running
(it reads signals from a self-pipe it closes between two runs). A Sanic worker runs its loop
once per start-up stage, after it has told the main process it is up; a SIGHUP forwarded in
one of those gaps was lost, and that worker served the old flows until the next one. Python
runs this handler in the main thread whatever the loop is doing, and the loop calls the
request the next time it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any


class SighupReload:
    """Calls `request` on the running loop at each `kill -HUP`, between `take` and `give_back`."""

    def __init__(self, request: Callable[[], None]) -> None:
        self._request = request
        self._loop: asyncio.AbstractEventLoop | None = None
        self._before: Any = None  # what SIGHUP did before `take`, given back by `give_back`
        self._taken = False

    def take(self) -> None:
        """Handle SIGHUP from now on. Where signals cannot be handled (not the main thread),
        nothing changes."""
        self._loop = asyncio.get_running_loop()
        with contextlib.suppress(ValueError):  # not the main thread
            self._before = signal.signal(signal.SIGHUP, self._on_sighup)
            self._taken = True

    def give_back(self) -> None:
        """SIGHUP does again what it did before `take` (`runtime serve` ignores it): the
        default action would end the process while it finishes its events and drains its
        senders."""
        if not self._taken:
            return
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGHUP, signal.SIG_DFL if self._before is None else self._before)
        self._taken = False

    def _on_sighup(self, _signum: int, _frame: FrameType | None) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: the server is stopping
            loop.call_soon_threadsafe(self._request)
