"""Handing a person's thread to a human and back (Meta's Conversation Routing).

A `handover` step passes the thread (`pass_thread_control`, an outbox row after the turn's
messages) and the session records it: from then on the worker answers nothing from that
person. The thread comes back when Meta tells us so (a `pass_thread_control` event: Meta
sends it to the new owner, so one reaching us means the bot has the thread again) or when
the owner runs `runtime handover take <PSID>`. A `take_thread_control` event (Meta sends it
to the app that lost the thread) means a human took it: the bot goes quiet as after a step.
Should Meta tell us of our own calls too, they change nothing: a pass to the app the
session handed over to, or a take carrying the metadata `runtime handover take` sends.

A wait for an `ask` is dropped when a handover starts (with its timeout): when the thread
comes back, the person has been talking to a human, and their next message is no answer to
the old question. Variables are kept. A `handover` step's `timeout` is a timer
(`runtime/timers.py`): when it falls due with the human still holding the thread, the bot
takes it back (`take_thread_control`); a thread back earlier drops it.

`runtime handover list` and `take` work on the store, beside a running server: `take`
queues its `take_thread_control` call in the outbox (the server sends it, in order with the
person's messages) and ends the handover in the session at once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

from runtime.config.model import Config
from runtime.dialog.effects import PassThread, app_name
from runtime.envelope import Envelope, ThreadAction
from runtime.errors import HandoverError
from runtime.messenger.endpoints import TAKE_THREAD_CONTROL
from runtime.pairing import check_account, the_one_account
from runtime.session import Handover, Session, session_key
from runtime.store.base import NewOutbound, Store, TimerChanges, TimerRef
from runtime.tables import duration, table
from runtime.timers import ASK_SLOT, HANDOVER_SLOT

LIST_COMMAND: Final = "runtime handover list"
TAKE_METADATA: Final = "taken back with runtime handover take"


# -- the Graph API calls ------------------------------------------------------------------------
def pass_thread_control_request(psid: str, effect: PassThread) -> dict[str, Any]:
    """The body of `POST /me/pass_thread_control` (Meta's shape, FACTS §3)."""
    body: dict[str, Any] = {"recipient": {"id": psid}, "target_app_id": effect.target_app_id}
    if effect.metadata:
        body["metadata"] = effect.metadata
    return body


def take_thread_control_request(psid: str, metadata: str = TAKE_METADATA) -> dict[str, Any]:
    """The body of `POST /me/take_thread_control`."""
    return {"recipient": {"id": psid}, "metadata": metadata}


# -- thread-control events ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ThreadChange:
    """What a thread-control event does: the session to save (None: nothing changes) and
    one log line saying what happened."""

    session: Session | None
    line: str


def thread_change(session: Session | None, envelope: Envelope, *, now: float) -> ThreadChange:
    """A `messaging_handovers` event applied to the person's session."""
    control = envelope.thread_control
    who = f"account={envelope.account_id} psid={envelope.psid}"
    if control is None:  # only THREAD_CONTROL envelopes come here
        return ThreadChange(None, f"thread event without thread control: {who}")
    if control.action is ThreadAction.PASS:
        sender = control.previous_owner_app_id
        by = f" from {app_name(sender)}" if sender else ""
        if session is None or session.handover is None:
            return ThreadChange(None, f"thread passed to the bot{by}: {who} (the bot had it)")
        if control.new_owner_app_id == session.handover.app_id:
            # the bot's own pass, told to us too: the thread went to the human, not back
            return ThreadChange(
                None, f"thread passed to {app_name(session.handover.app_id)}: {who}"
            )
        # and the timers that fell due meanwhile: the worker dropped them, unwritten
        back = session.thread_back(now).without_timers_due(now)
        return ThreadChange(back, f"handover ended: {who}; thread passed back{by}, the bot answers")
    if control.action is ThreadAction.TAKE:
        if control.metadata == TAKE_METADATA:  # `runtime handover take`, told to us too
            return ThreadChange(None, f"thread taken back by the bot: {who}")
        owner = control.new_owner_app_id
        handover = Handover(app_id=owner or "", since=now, note=control.metadata)
        base = session or Session(
            key=envelope.session_key, account_id=envelope.account_id, psid=envelope.psid
        )
        taken = replace(
            base, handover=handover, flow=None, step=None, retries=0, updated_at=now
        ).without_timers(ASK_SLOT)
        by = f" by {app_name(owner)}" if owner else ""
        line = f"handover started: {who}; thread taken{by}, the bot stays quiet until it is back"
        return ThreadChange(taken, line)
    asking = control.requested_owner_app_id
    by = app_name(asking) if asking else "another app"
    line = (
        f"thread requested: {who}; {by} asks for the thread (request_thread_control); the bot"
        " keeps it: a `handover` step passes it"
    )
    return ThreadChange(None, line)


# -- runtime handover list / take ---------------------------------------------------------------
async def with_a_human(
    store: Store, config: Config, *, account_id: str | None = None
) -> list[Session]:
    """The sessions a human has the thread of, oldest handover first."""
    if account_id is not None:
        check_account(config, account_id)
    sessions = [stored.session for stored in await store.list_sessions(account_id)]
    handed = [session for session in sessions if session.handover is not None]
    return sorted(handed, key=lambda session: session.handover.since if session.handover else 0)


async def take(
    store: Store, config: Config, psid: str, *, account_id: str | None, now: float
) -> Session:
    """Take the thread back for the bot: queue `take_thread_control` (the running server
    sends it, after anything queued for the person before it), then end the handover in the
    session. Returns the session as it was. HandoverError when nobody has the thread of
    `psid` (on `account_id`, or on any account).

    The call is queued before the session changes: a crash between the two leaves a
    handover that `take` can end again, never a bot answering a thread it does not own.
    """
    if account_id is None:
        found = [s.account_id for s in await with_a_human(store, config) if s.psid == psid]
        if not found:
            raise HandoverError(_not_with_a_human(psid, "on any account"))
        account_id = the_one_account(psid, found, state="with a human")
    check_account(config, account_id)
    account = config.accounts[account_id]
    session = await store.load_session(session_key(account.agent_id, psid))
    if session is None or session.handover is None:
        where = f"on account '{account_id}'"
        if session is None:
            raise HandoverError(
                f"{psid} has never talked to the bot on account '{account_id}'; "
                f"`{LIST_COMMAND}` shows who is with a human"
            )
        raise HandoverError(_not_with_a_human(psid, where))
    body = json.dumps(take_thread_control_request(psid))
    call = NewOutbound(account_id=account_id, psid=psid, body=body, endpoint=TAKE_THREAD_CONTROL)
    await store.enqueue_outbound([call], now=now)
    await store.save_session(session.thread_back(now).without_timers_due(now))
    if HANDOVER_SLOT in session.timers:  # else it fires, finds no timer and does nothing
        cancel = TimerRef(account_id=account_id, psid=psid, slot=HANDOVER_SLOT)
        await store.change_timers(TimerChanges(cancelled=(cancel,)))
    return session


def _not_with_a_human(psid: str, where: str) -> str:
    return (
        f"{psid} is not with a human {where}: the bot has their thread; "
        f"`{LIST_COMMAND}` shows who is with a human"
    )


def format_taken(session: Session, *, now: float) -> str:
    handover = session.handover
    since = f" for {duration(now - handover.since)}" if handover is not None else ""
    return (
        f"took the thread of {session.psid} on account '{session.account_id}' back from "
        f"{_owner(session)}{since}: the running server sends take_thread_control, and the bot "
        "answers their next message"
    )


def format_list(sessions: Sequence[Session], *, now: float) -> str:
    """The `runtime handover list` table, the longest handover first."""
    if not sessions:
        return "nobody is with a human: the bot has every thread"
    rows = [
        (
            session.account_id,
            session.psid,
            _owner(session),
            duration(now - session.handover.since) + " ago" if session.handover else "",
            _one_line(session.handover.note) if session.handover else "",
        )
        for session in sessions
    ]
    return table(("ACCOUNT", "PSID", "WITH", "SINCE", "NOTE"), rows)


def list_json(sessions: Sequence[Session]) -> str:
    """`--json`: a list of {account, psid, app_id, with, since (ISO 8601, UTC), note}."""
    items = [
        {
            "account": session.account_id,
            "psid": session.psid,
            "app_id": session.handover.app_id,
            "with": app_name(session.handover.app_id),
            "since": datetime.fromtimestamp(session.handover.since, UTC).isoformat(),
            "note": session.handover.note,
        }
        for session in sessions
        if session.handover is not None
    ]
    return json.dumps(items, indent=2, ensure_ascii=False)


def _owner(session: Session) -> str:
    handover = session.handover
    if handover is None or not handover.app_id:
        return "a human"
    return app_name(handover.app_id)


def _one_line(note: str | None, width: int = 60) -> str:
    text = " ".join((note or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"
