"""Session: what the bot remembers of one conversation between turns."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from runtime.errors import StoreError
from runtime.timers import HANDOVER_SLOT, FiredTimer, Timer, due_order


def session_key(agent_id: str, psid: str) -> str:
    """The session key of a Messenger DM, as the seed document names it."""
    return f"agent:{agent_id}:messenger:dm:{psid}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Handover:
    """A human has the person's thread: `app_id` is the app it was passed to (the Page
    Inbox's, usually), `since` when (Unix seconds), `note` the step's note (its metadata)."""

    app_id: str
    since: float
    note: str | None = None

    def as_json(self) -> dict[str, object]:
        return {"app_id": self.app_id, "since": self.since, "note": self.note}

    @classmethod
    def from_json(cls, data: object) -> Handover:
        """TypeError or KeyError when `data` is not what `as_json` wrote."""
        if not isinstance(data, dict):
            raise TypeError(f"handover is {data!r}, not an object")
        note = data.get("note")
        since = data["since"]
        if not isinstance(since, int | float):
            raise TypeError(f"handover.since is {since!r}, not a time")
        return cls(
            app_id=str(data["app_id"]),
            since=float(since),
            note=None if note is None else str(note),
        )


def timers_by_slot(timers: Iterable[Timer]) -> Mapping[str, Timer]:
    """Timers as a session holds them: by slot, earliest due first."""
    ordered = sorted(timers, key=due_order)
    return MappingProxyType({timer.slot: timer for timer in ordered})


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """One conversation's state: its variables and the `ask` step waiting for an answer.

    `vars` holds JSON values only, so every store can keep a session as one JSON document.
    `flow`/`step` name the `ask` that waits (both None when nothing waits); `retries` counts
    the answers that failed its validation. `handover` is set while a human has the thread:
    the bot answers nothing until it comes back. Sessions saved before handovers existed
    have no `handover` key and load with None. `timers` are the person's pending timers
    by slot (`runtime/timers.py`), earliest first.
    """

    key: str
    account_id: str
    psid: str
    vars: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    flow: str | None = None
    step: int | None = None
    retries: int = 0
    updated_at: float = 0.0
    handover: Handover | None = None
    timers: Mapping[str, Timer] = field(default_factory=lambda: MappingProxyType({}))

    def without_timers(self, *slots: str) -> Session:
        """This session without its timers in `slots` (those it has)."""
        if not any(slot in self.timers for slot in slots):
            return self
        kept = {slot: timer for slot, timer in self.timers.items() if slot not in slots}
        return replace(self, timers=MappingProxyType(kept))

    def keeps_quiet(self, fired: FiredTimer | None) -> bool:
        """Whether a human holding the thread keeps the bot quiet for an event: any of the
        person's (`fired` None), any timer but the handover's own timeout, which takes the
        thread back."""
        if self.handover is None:
            return False
        return fired is None or fired.slot != HANDOVER_SLOT

    def thread_back(self, now: float) -> Session:
        """This session once the thread is back with the bot: no handover, and no handover
        timeout left to take it back."""
        return replace(self, handover=None, updated_at=now).without_timers(HANDOVER_SLOT)

    def without_timers_due(self, now: float) -> Session:
        """This session without the timers due by `now`: at the end of a handover, those
        fell due while a human had the thread, and the worker dropped them unwritten."""
        return self.without_timers(*(t.slot for t in self.timers.values() if t.due_at <= now))

    def to_json(self) -> str:
        data: dict[str, object] = {
            "key": self.key,
            "account_id": self.account_id,
            "psid": self.psid,
            "vars": dict(self.vars),
            "flow": self.flow,
            "step": self.step,
            "retries": self.retries,
            "updated_at": self.updated_at,
        }
        if self.handover is not None:
            data["handover"] = self.handover.as_json()
        if self.timers:
            data["timers"] = [timer.as_json() for timer in self.timers.values()]
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Session:
        try:
            data = json.loads(text)
            handover = data.get("handover")
            return cls(
                key=str(data["key"]),
                account_id=str(data["account_id"]),
                psid=str(data["psid"]),
                vars=MappingProxyType(dict(data.get("vars") or {})),
                flow=data.get("flow"),
                step=data.get("step"),
                retries=int(data.get("retries", 0)),
                updated_at=float(data.get("updated_at", 0.0)),
                handover=Handover.from_json(handover) if handover else None,
                timers=timers_by_slot(Timer.from_json(item) for item in data.get("timers", ())),
            )
        except (ValueError, KeyError, TypeError) as err:
            raise StoreError(f"a stored session cannot be read: {err}") from err
