"""How an event joins its person's inbox queue in the SQLite store.

One rule for the two ways an event arrives: accepted from the webhook (`SQLiteStore`'s
accept) and a timer falling due (`SQLiteTimers.fire_timers`). Both run it inside their own
write transaction.
"""

from __future__ import annotations

import sqlite3

from runtime.session import Session
from runtime.store import sqlite_schema as sql
from runtime.store.base import InboundEvent, Lease, NewInbound
from runtime.store.sqlite_connection import insert


def queue_inbound(
    conn: sqlite3.Connection,
    event: NewInbound,
    now: float,
    lease: Lease | None,
    claimed: list[InboundEvent],
) -> int:
    """Keep `event` as its sender's newest inbox event, received at `now`; its id.

    With `lease`, an event a claim would offer at once (nothing else of its sender's in the
    inbox or the outbox) is leased by it and appended to `claimed`, with its session.
    """
    if lease is not None:
        sender = {"account": event.account_id, "psid": event.psid}
        if conn.execute(sql.SENDER_WAITING, sender).fetchone()[0]:
            lease = None  # their earlier event or reply goes first
    params = (
        event.account_id,
        event.psid,
        event.body,
        now,
        event.session_key,
        lease.worker if lease else None,
        lease.until if lease else None,
    )
    event_id = insert(conn, sql.INSERT_INBOUND, params)
    if lease is not None:
        session = conn.execute(sql.LOAD_SESSION, (event.session_key,)).fetchone()
        claimed.append(
            InboundEvent(
                id=event_id,
                account_id=event.account_id,
                psid=event.psid,
                body=event.body,
                received_at=now,
                session=None if session is None else Session.from_json(session[0]),
            )
        )
    return event_id
