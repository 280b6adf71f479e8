"""PersonStreams: what the bot did to each person (messages, sender actions, handovers), in
order, for the page's long poll.

Each person (account, PSID) has a sequence number that only grows: every event gets the next
one, and the page asks for the events after the last it saw. A reset forgets the events but
not the number, so a page that still holds an old one sees the next events all the same. A
page that holds a number the server never reached (the server restarted) gets every event.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

KEPT_EVENTS: Final = 500  # per person; the oldest go first
Event = Mapping[str, Any]


@dataclass(slots=True)
class _Stream:
    seq: int = 0
    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=KEPT_EVENTS))
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def after(self, seq: int) -> list[dict[str, Any]]:
        if seq > self.seq:  # a number from an earlier life of the server
            seq = 0
        return [event for event in self.events if event["seq"] > seq]


class PersonStreams:
    """Every person's events, by (account id, PSID)."""

    def __init__(self) -> None:
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._closed = False

    def add(self, account_id: str, psid: str, event: Event) -> int:
        """Record one event of this person's; its sequence number. Wakes their long polls."""
        stream = self._streams.setdefault((account_id, psid), _Stream())
        stream.seq += 1
        stream.events.append({"seq": stream.seq, **event})
        stream.changed.set()
        stream.changed = asyncio.Event()
        return stream.seq

    async def wait(
        self, account_id: str, psid: str, *, after: int, within: float
    ) -> tuple[list[dict[str, Any]], int]:
        """The person's events after `after`, waiting up to `within` seconds for one when
        there is none yet; with the last sequence number given."""
        stream = self._streams.setdefault((account_id, psid), _Stream())
        newer = stream.after(after)
        if not newer and not self._closed:
            changed = stream.changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), within)
            stream = self._streams.get((account_id, psid), stream)
            newer = stream.after(after)
        return newer, stream.seq

    def forget(self, account_id: str, psid: str) -> None:
        """Drop the person's events; their sequence goes on where it was."""
        stream = self._streams.get((account_id, psid))
        if stream is not None:
            stream.events.clear()

    def close(self) -> None:
        """The server stops: every long poll answers now, and new ones at once."""
        self._closed = True
        for stream in self._streams.values():
            stream.changed.set()
