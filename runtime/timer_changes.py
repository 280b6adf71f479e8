"""What a turn changed of its person's timers, as the store writes it (`TimerChanges`).

The engine keeps a person's timers in their session (`Session.timers`); the worker hands
the store the difference between the session a turn started with and the one it ends with,
in the transaction that closes the turn. A timer set keeps the inbox event it becomes when
it falls due: an Envelope of kind `timer` naming the slot and the due time.
"""

from __future__ import annotations

from collections.abc import Mapping

from runtime.envelope import Envelope
from runtime.session import Session
from runtime.store.base import NO_TIMER_CHANGES, NewTimer, TimerChanges, TimerRef
from runtime.timers import Timer


def timer_changes(before: Session | None, after: Session | None) -> TimerChanges:
    """The timers `after` sets or sets anew, and those of `before` it no longer has. None
    for `after`: the session is not written, and neither are its timers."""
    if after is None:
        return NO_TIMER_CHANGES
    old: Mapping[str, Timer] = before.timers if before is not None else {}
    new = after.timers
    if not old and not new:
        return NO_TIMER_CHANGES
    return TimerChanges(
        set=tuple(_kept(after, timer) for slot, timer in new.items() if old.get(slot) != timer),
        cancelled=tuple(
            TimerRef(account_id=after.account_id, psid=after.psid, slot=slot)
            for slot in old
            if slot not in new
        ),
    )


def _kept(session: Session, timer: Timer) -> NewTimer:
    fired = Envelope.of_timer(
        account_id=session.account_id, psid=session.psid, session_key=session.key, timer=timer
    )
    return NewTimer(
        account_id=session.account_id,
        psid=session.psid,
        slot=timer.slot,
        due_at=timer.due_at,
        body=fired.to_json(),
        session_key=session.key,
    )
