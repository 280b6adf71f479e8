"""Timers: the waits of a flow that end by themselves.

Three steps set one: an `ask` with a `timeout` (its `on_timeout` flow runs when no answer
came), a `delay` (the rest of the flow runs then) and a `handover` with a `timeout` (the bot
takes the thread back then).

A pending timer is written in two places, in one transaction (`Store.finish_inbound`):

- the person's Session (`Session.timers`, by slot): what the engine reads, and the truth
  of whether a timer still counts;
- the store's `Timers` role: when it falls due, across processes and hosts. When it does,
  the store turns it into an inbox event of the person (`EventKind.TIMER`, carrying a
  FiredTimer), queued behind what they already sent, and the worker
  hands it to the engine like a message (`runtime/timer_changes.py` writes the rows).

A person has at most one timer in each slot: `ask` (one ask waits at a time), `handover`,
and one per `delay` step (`delay:<flow>:<step>`); setting a slot again replaces its timer.
The engine acts on a fired timer only if the session still holds that slot with that due
time: one the person's answer cancelled, or one set again since, does nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final

ASK_SLOT: Final = "ask"
HANDOVER_SLOT: Final = "handover"


class TimerKind(StrEnum):
    ASK_TIMEOUT = "ask_timeout"  # the waiting ask's `on_timeout` flow runs (or the wait ends)
    DELAY = "delay"  # the rest of the flow runs
    HANDOVER_TIMEOUT = "handover_timeout"  # the bot takes the thread back


def delay_slot(flow: str, position: int) -> str:
    """The slot of a `delay` step: a flow run again re-sets its own delay, not a second."""
    return f"delay:{flow}:{position}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Timer:
    """A timer a session holds: `due_at` and `set_at` are Unix seconds; `flow` and `step`
    name the step that set it (the ask, the delay, the handover). `keep` marks a delay the
    person's messages do not cancel; `match` is what the delay's flow matched when it
    started, for the templates that run after it."""

    slot: str
    kind: TimerKind
    due_at: float
    set_at: float
    flow: str
    step: int
    keep: bool = False
    match: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def where(self) -> str:
        return f"flows.{self.flow}.steps.{self.step}"

    def as_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "slot": self.slot,
            "kind": str(self.kind),
            "due_at": self.due_at,
            "set_at": self.set_at,
            "flow": self.flow,
            "step": self.step,
        }
        if self.keep:
            data["keep"] = True
        if self.match:
            data["match"] = dict(self.match)
        return data

    @classmethod
    def from_json(cls, data: object) -> Timer:
        """TypeError, KeyError or ValueError when `data` is not what `as_json` wrote."""
        if not isinstance(data, dict):
            raise TypeError(f"a timer is {data!r}, not an object")
        return cls(
            slot=str(data["slot"]),
            kind=TimerKind(data["kind"]),
            due_at=float(data["due_at"]),
            set_at=float(data["set_at"]),
            flow=str(data["flow"]),
            step=int(data["step"]),
            keep=bool(data.get("keep", False)),
            match=MappingProxyType(dict(data.get("match") or {})),
        )


def due_order(timer: Timer) -> tuple[float, float, str]:
    """The order timers fall due in: by due time, then the one set first, then by slot."""
    return (timer.due_at, timer.set_at, timer.slot)


@dataclass(frozen=True, slots=True, kw_only=True)
class FiredTimer:
    """What a TIMER event carries: the slot that fell due and the due time it had, which
    the engine compares with the session's (a timer set again since is another one)."""

    slot: str
    due_at: float

    def as_json(self) -> dict[str, object]:
        return {"slot": self.slot, "due_at": self.due_at}
