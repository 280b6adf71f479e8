"""A server worker stops when the main process that started it is gone.

Sanic's workers (`runtime serve --workers N`) are processes of their own, and nothing tells
them when the main process is killed with SIGKILL or crashes: they served on, holding the
port and their leases, until someone found them and killed them by hand, and a restarted
server could not listen on its port. Each worker looks at its parent every PARENT_POLL
seconds; once it is gone, the worker stops as it does at SIGTERM: the events in hand finish,
the senders drain, the leases are given back, and the next server takes over.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import Final

from runtime.background import cancel_and_wait

logger = logging.getLogger("runtime.server")

PARENT_POLL: Final = 1.0  # seconds between looks at the parent (one system call)


class ParentWatch:
    """Calls `on_gone` once, from the loop, when this process's parent has ended."""

    def __init__(self, on_gone: Callable[[], None], *, poll: float = PARENT_POLL) -> None:
        self._on_gone = on_gone
        self._poll = poll
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(os.getppid()), name="parent-watch")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self, parent: int) -> None:
        # no event says it: an orphan is given another parent (init, or a subreaper), so
        # its parent's pid changes
        while True:
            await asyncio.sleep(self._poll)
            if os.getppid() != parent:
                break
        logger.warning(
            "the main process (pid %d) is gone, killed or crashed: this worker (pid %d) "
            "finishes what it holds and stops",
            parent,
            os.getpid(),
        )
        self._on_gone()
