"""Time passing in a local conversation (`runtime test`, `runtime chat`): how long a wait
is, which of the session's timers fall due by its end and in what order, and how a pending
timer reads in a listing.

On Messenger the store fires a person's timers (`runtime/timers.py`); here the session's
own `Session.timers` are the whole truth, so the local drivers fire them from there, one
turn each, as the worker would hand them to the engine.
"""

from __future__ import annotations

import math
from typing import Final

from runtime.durations import seconds_of
from runtime.session import Session
from runtime.timers import Timer, due_order

WAIT_HINT: Final = 'a duration with its unit, such as "30s", "10m", "2h" or "3d"'
# a wait fires at most this many timers: a delay in a loop would otherwise fire for ever
# within a long wait ("1s" delays over "3d")
MAX_FIRED: Final = 1000
_SPAN_UNITS: Final = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


class TimerLoopError(ValueError):
    """More than MAX_FIRED timers fell due within one wait (a delay in a loop): a fault of
    the flows or of the test's wait, not of the engine."""


def wait_length(duration: float | str) -> float:
    """The seconds of a wait: a number of seconds, or a duration written as in flows
    (`"10m"` -> 600.0). ValueError saying what fits for anything else, and for no wait."""
    seconds = seconds_of(duration)
    if seconds is None:
        raise ValueError(f"a wait of {duration!r} is not one; write {WAIT_HINT}")
    if seconds <= 0:
        raise ValueError(f"a wait of {duration!r} lets no time pass; write {WAIT_HINT}")
    return seconds


def pending(session: Session | None) -> tuple[Timer, ...]:
    """The session's timers, soonest first (ties: the one set first, then by slot)."""
    if session is None:
        return ()
    return tuple(sorted(session.timers.values(), key=due_order))


def next_due(session: Session | None, until: float) -> Timer | None:
    """The session's first timer to fall due by `until`, if one does."""
    timers = pending(session)
    if timers and timers[0].due_at <= until:
        return timers[0]
    return None


def describe_pending(timer: Timer, now: float) -> str:
    """`delay flows.tour.steps.1 in 9m 58s`; `... due now` once its time has come."""
    left = math.ceil(timer.due_at - now)  # "in 10m" just after a 10m delay was set
    when = f"in {span(left)}" if left > 0 else "due now"
    return f"{timer.kind} {timer.where} {when}"


def span(seconds: float) -> str:
    """A stretch of time in its two largest units, rounded down: `9m 58s`, `2h`, `3d 4h`,
    `45s`."""
    rest = max(int(seconds), 0)
    parts: list[str] = []
    for unit, size in _SPAN_UNITS:
        count, rest = divmod(rest, size)
        if count or parts:
            parts.append(f"{count}{unit}")
    shown = [part for part in parts[:2] if not part.startswith("0")]
    return " ".join(shown) or "0s"
