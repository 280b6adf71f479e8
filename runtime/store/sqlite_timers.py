"""The SQLite store's timers role: each person's pending timers, fired into their inbox.

`SQLiteStore` takes these methods from `SQLiteTimers`; the `timers` table and its index on
`due_at` are in `sqlite_schema.MIGRATIONS`. Firing reads the head of that index, so the poll
every second costs the same with no timer pending as with a hundred thousand, and a turn's
changes are seeks by primary key. `finish_inbound` applies its turn's changes with
`change_timers_in`, in its own transaction.
"""

from __future__ import annotations

import sqlite3

from runtime.store.base import (
    Fired,
    InboundEvent,
    Lease,
    NewInbound,
    PendingTimer,
    TimerChanges,
)
from runtime.store.sqlite_connection import SQLiteConnection, count, fetch_all, transaction
from runtime.store.sqlite_queue import queue_inbound

SET = """
    INSERT INTO timers (account_id, psid, slot, due_at, body, session_key)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (account_id, psid, slot) DO UPDATE
    SET due_at = excluded.due_at, body = excluded.body, session_key = excluded.session_key
"""
CANCEL = "DELETE FROM timers WHERE account_id = ? AND psid = ? AND slot = ?"
NEXT_DUE = "SELECT min(due_at) FROM timers"
# Ties in due time break by person and slot, the order of the index's own entries.
DUE = """
    SELECT account_id, psid, slot, body, session_key FROM timers
    WHERE due_at <= :now
    ORDER BY due_at, account_id, psid, slot
    LIMIT :limit
"""
LIST = """
    SELECT account_id, psid, slot, due_at FROM timers
    WHERE :account IS NULL OR account_id = :account
    ORDER BY due_at, account_id, psid, slot
"""
COUNT = "SELECT count(*) FROM timers"


class SQLiteTimers:
    """`change_timers`, `fire_timers`, `list_timers` and `count_timers`, for `SQLiteStore`,
    on its `_db`."""

    _db: SQLiteConnection

    async def change_timers(self, changes: TimerChanges) -> None:
        if changes:
            await self._db.run("change timers", lambda conn: change_timers_in(conn, changes))

    async def fire_timers(self, *, now: float, limit: int, lease: Lease | None = None) -> Fired:
        def fire(conn: sqlite3.Connection) -> Fired:
            # max(): SQLite reads a negative LIMIT as "no limit".
            due = conn.execute(DUE, {"now": now, "limit": max(limit, 0)}).fetchall()
            claimed: list[InboundEvent] = []
            for row in due:
                conn.execute(CANCEL, (row["account_id"], row["psid"], row["slot"]))
                event = NewInbound(
                    account_id=row["account_id"],
                    psid=row["psid"],
                    body=row["body"],
                    session_key=row["session_key"],
                )
                queue_inbound(conn, event, now, lease, claimed)
            return Fired(len(due), tuple(claimed), _next_due(conn))

        def work(conn: sqlite3.Connection) -> Fired:
            # A read first, without the write lock: the poll every second mostly finds
            # nothing due, and then makes no other process wait.
            first = _next_due(conn)
            if limit <= 0 or first is None or first > now:
                return Fired(0, next_due=first)
            return transaction(conn, fire)

        return await self._db.run("fire timers", work, write=False)

    async def list_timers(self, account_id: str | None = None) -> list[PendingTimer]:
        rows = await self._db.run(
            "list timers", fetch_all(LIST, {"account": account_id}), write=False
        )
        return [PendingTimer(**row) for row in rows]

    async def count_timers(self) -> int:
        return await self._db.run("count timers", count(COUNT), write=False)


def change_timers_in(conn: sqlite3.Connection, changes: TimerChanges) -> None:
    """Cancel, then set, `changes`' timers, in the transaction `conn` is in."""
    conn.executemany(CANCEL, [(ref.account_id, ref.psid, ref.slot) for ref in changes.cancelled])
    conn.executemany(
        SET,
        [
            (timer.account_id, timer.psid, timer.slot, timer.due_at, timer.body, timer.session_key)
            for timer in changes.set
        ],
    )


def _next_due(conn: sqlite3.Connection) -> float | None:
    """The earliest due time of the timers kept: the first entry of their index."""
    (due_at,) = conn.execute(NEXT_DUE).fetchone()
    return None if due_at is None else float(due_at)
