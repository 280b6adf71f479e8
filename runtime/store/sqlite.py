"""The default state store: one SQLite file, shared safely by the processes of one host."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from runtime.errors import StoreError
from runtime.session import Session
from runtime.store import sqlite_schema as sql
from runtime.store.base import (
    NO_TIMER_CHANGES,
    RETRY_LEASE_GRACE,
    Accepted,
    DeadLetter,
    InboundEvent,
    Lease,
    NewInbound,
    NewOutbound,
    OutboundMessage,
    TimerChanges,
    first_sightings,
)
from runtime.store.sqlite_access import SQLiteAccess
from runtime.store.sqlite_cache import SQLiteCache
from runtime.store.sqlite_connection import (
    SQLiteConnection,
    count,
    execute,
    fetch_all,
    fetch_one,
    insert,
    transaction,
)
from runtime.store.sqlite_leases import SQLiteLeases
from runtime.store.sqlite_queue import queue_inbound
from runtime.store.sqlite_sessions import SQLiteSessions
from runtime.store.sqlite_timers import SQLiteTimers, change_timers_in


class SQLiteStore(SQLiteSessions, SQLiteAccess, SQLiteCache, SQLiteLeases, SQLiteTimers):
    """A `Store` in one SQLite file, safe for several processes of one host at once.

    The inbox and the outbox are here; sessions are `SQLiteSessions`'s
    (`sqlite_sessions.py`), pairing requests, approvals and blocks `SQLiteAccess`'s
    (`sqlite_access.py`), the caches `SQLiteCache`'s (`sqlite_cache.py`), the leases
    `SQLiteLeases`'s (`sqlite_leases.py`) and the timers `SQLiteTimers`'s
    (`sqlite_timers.py`); an event joins its person's inbox queue by `sqlite_queue.py`.

    Every call is one transaction on the file's own thread (`SQLiteConnection`); writes take
    the write lock up front, so two processes never both claim one event. A call cancelled
    while its transaction runs still completes it; a lease taken that way runs out and is
    offered again.

    Accepts are group-committed: the webhook POSTs that arrive while one accept is being
    written are all written next, in one transaction, each caller getting its own ids.
    """

    def __init__(self, path: Path) -> None:
        self._db = SQLiteConnection(path)
        self._accepts: list[_Accept] = []  # waiting for the next group commit
        self._accept_writer: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        await self._db.open()

    async def close(self) -> None:
        await self._db.close()

    # -- the 24-hour window ------------------------------------------------------------------
    async def record_inbound(self, account_id: str, psid: str, at: float) -> None:
        await self._db.run(
            "record an inbound time", execute(sql.RECORD_INBOUND, account_id, psid, at)
        )

    async def last_inbound(self, account_id: str, psid: str) -> float | None:
        row = await self._db.run(
            "read an inbound time", fetch_one(sql.LAST_INBOUND, account_id, psid), write=False
        )
        return None if row is None else float(row[0])

    # -- durable inbox -----------------------------------------------------------------------
    async def accept_inbound(
        self,
        events: Sequence[NewInbound],
        *,
        now: float,
        dedupe_ttl: float,
        lease: Lease | None = None,
    ) -> Accepted:
        accepted: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        self._accepts.append(_Accept(events, now, dedupe_ttl, lease, accepted))
        if self._accept_writer is None or self._accept_writer.done():
            self._accept_writer = asyncio.create_task(self._write_accepts())
        return await accepted

    async def _write_accepts(self) -> None:
        """Write the waiting accepts, one transaction for each group, until none waits.

        A group that fails is written again one accept at a time, so an event SQLite
        refuses costs only its own POST its 200.
        """
        while self._accepts:
            group, self._accepts = self._accepts, []
            if not await self._write_group(group) and len(group) > 1:
                for accept in group:
                    await self._write_group([accept])

    async def _write_group(self, group: list[_Accept]) -> bool:
        """Write `group` in one transaction and answer its callers; False if it failed."""
        try:
            results = await self._db.run("accept inbound events", partial(_accept_all, group))
        except StoreError as err:
            if len(group) == 1:
                _settle(group[0].accepted, err)
            return False
        for accept, result in zip(group, results, strict=True):
            _settle(accept.accepted, result)
        return True

    async def claim_inbound(
        self, worker: str, *, now: float, lease: float, limit: int
    ) -> list[InboundEvent]:
        rows = await self._db.run(
            "claim inbound events",
            _claim(sql.CLAIMABLE_INBOUND, sql.LEASE_INBOUND, worker, now + lease, now, limit),
            write=False,
        )
        return [_inbound_event(row) for row in rows]

    async def complete_inbound(self, event_id: int) -> None:
        await self._db.run("complete an inbound event", execute(sql.COMPLETE_INBOUND, event_id))

    async def finish_inbound(
        self,
        event_id: int,
        *,
        session: Session | None,
        outbound: Sequence[NewOutbound],
        now: float,
        worker: str,
        lease: float,
        timers: TimerChanges = NO_TIMER_CHANGES,
    ) -> list[int] | None:
        def work(conn: sqlite3.Connection) -> list[int] | None:
            if conn.execute(sql.FINISH_INBOUND, (event_id, worker)).rowcount == 0:
                return None  # no longer this worker's: nothing of its turn is kept
            if session is not None:
                conn.execute(sql.SAVE_SESSION, (session.key, session.to_json(), session.updated_at))
            change_timers_in(conn, timers)
            leased = {"worker": worker, "until": now + lease}
            return [
                insert(conn, sql.INSERT_OUTBOUND_LEASED, sql.outbound_params(msg, now) | leased)
                for msg in outbound
            ]

        return await self._db.run("finish an inbound event", work)

    async def release_inbound(self, event_id: int) -> None:
        await self._db.run("release an inbound event", execute(sql.RELEASE_INBOUND, event_id))

    async def count_inbound(self) -> int:
        return await self._db.run("count inbound events", count(sql.COUNT_INBOUND), write=False)

    # -- durable outbox ----------------------------------------------------------------------
    async def enqueue_outbound(self, messages: Sequence[NewOutbound], *, now: float) -> list[int]:
        def work(conn: sqlite3.Connection) -> list[int]:
            return [
                insert(conn, sql.INSERT_OUTBOUND, sql.outbound_params(msg, now)) for msg in messages
            ]

        return await self._db.run("enqueue outbound messages", work)

    async def claim_outbound(
        self, worker: str, *, now: float, lease: float, limit: int
    ) -> list[OutboundMessage]:
        rows = await self._db.run(
            "claim outbound messages",
            _claim(sql.CLAIMABLE_OUTBOUND, sql.LEASE_OUTBOUND, worker, now + lease, now, limit),
            write=False,
        )
        return [OutboundMessage(**row) for row in rows]

    async def complete_outbound(
        self, *message_ids: int, then: Lease | None = None
    ) -> list[InboundEvent]:
        def work(conn: sqlite3.Connection) -> list[InboundEvent]:
            senders = _senders_of(conn, message_ids)
            conn.executemany(sql.COMPLETE_OUTBOUND, [(message_id,) for message_id in message_ids])
            return _claim_next(conn, senders, then)

        return await self._db.run("complete outbound messages", work)

    async def retry_outbound(self, message_id: int, *, at: float, error: str) -> None:
        params = {"error": error, "at": at, "grace": RETRY_LEASE_GRACE, "id": message_id}
        await self._db.run(
            "schedule an outbound retry",
            lambda conn: conn.execute(sql.RETRY_OUTBOUND, params).rowcount,
        )

    async def dead_letter_outbound(
        self, message_id: int, *, now: float, error: str, then: Lease | None = None
    ) -> list[InboundEvent]:
        def work(conn: sqlite3.Connection) -> list[InboundEvent]:
            senders = _senders_of(conn, [message_id])
            conn.execute(sql.DEAD_LETTER, {"id": message_id, "now": now, "error": error})
            conn.execute(sql.COMPLETE_OUTBOUND, (message_id,))
            return _claim_next(conn, senders, then)

        return await self._db.run("dead-letter an outbound message", work)

    async def list_dead_letters(self) -> list[DeadLetter]:
        rows = await self._db.run(
            "list dead letters", fetch_all(sql.LIST_DEAD_LETTERS, ()), write=False
        )
        return [DeadLetter(**row) for row in rows]

    async def requeue_dead_letter(self, dead_letter_id: int, *, now: float) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            if conn.execute(sql.REQUEUE, {"id": dead_letter_id, "now": now}).rowcount == 0:
                return False
            conn.execute(sql.DELETE_DEAD_LETTER, (dead_letter_id,))
            return True

        return await self._db.run("requeue a dead letter", work)

    async def count_outbound(self) -> int:
        return await self._db.run("count outbound messages", count(sql.COUNT_OUTBOUND), write=False)


# -- work run on the store's thread ----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Accept:
    """One `accept_inbound` call waiting for its group commit."""

    events: Sequence[NewInbound]
    now: float
    dedupe_ttl: float
    lease: Lease | None
    accepted: asyncio.Future[Accepted]


def _accept_all(group: Sequence[_Accept], conn: sqlite3.Connection) -> list[Accepted]:
    """Keep each accept's new events, in order, and lease those a claim would offer now."""
    results = []
    for accept in group:
        ids = [event.message_id for event in accept.events if event.message_id is not None]
        new = _record_seen(conn, ids, accept.now, accept.dedupe_ttl)
        kept: list[int] = []
        claimed: list[InboundEvent] = []
        for event in first_sightings(accept.events, new):
            kept.append(queue_inbound(conn, event, accept.now, accept.lease, claimed))
            if event.at is not None:
                conn.execute(sql.RECORD_INBOUND, (event.account_id, event.psid, event.at))
        results.append(Accepted(ids=tuple(kept), claimed=tuple(claimed)))
    return results


def _senders_of(conn: sqlite3.Connection, message_ids: Iterable[int]) -> list[tuple[str, str]]:
    """The (account, psid) of each of these outbox messages, each once, in order."""
    found = (
        conn.execute(sql.OUTBOUND_SENDER, (message_id,)).fetchone() for message_id in message_ids
    )
    return list(dict.fromkeys((row[0], row[1]) for row in found if row is not None))


def _claim_next(
    conn: sqlite3.Connection, senders: Iterable[tuple[str, str]], lease: Lease | None
) -> list[InboundEvent]:
    """Lease by `lease` each sender's next event, for the senders a claim would offer one:
    nothing of theirs in the outbox, their oldest event not held by a running lease."""
    if lease is None:
        return []
    claimed = []
    for account, psid in senders:
        sender = {"account": account, "psid": psid}
        if conn.execute(sql.SENDER_REPLYING, sender).fetchone() is not None:
            continue
        head = conn.execute(sql.SENDER_HEAD, sender).fetchone()
        if head is None or (head["lease_until"] is not None and head["lease_until"] > lease.now):
            continue
        conn.execute(sql.LEASE_INBOUND, (lease.worker, lease.until, head["id"]))
        claimed.append(_inbound_event(head))
    return claimed


def _inbound_event(row: sqlite3.Row) -> InboundEvent:
    """A claimed event from its row, which carries the sender's session (`session`)."""
    session = row["session"]
    return InboundEvent(
        id=row["id"],
        account_id=row["account_id"],
        psid=row["psid"],
        body=row["body"],
        received_at=row["received_at"],
        session=None if session is None else Session.from_json(session),
    )


def _settle(future: asyncio.Future[Accepted], outcome: Accepted | StoreError) -> None:
    if future.done():  # its POST was cancelled (the client left): the events are kept anyway
        return
    if isinstance(outcome, StoreError):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _record_seen(conn: sqlite3.Connection, ids: Iterable[str], now: float, ttl: float) -> set[str]:
    """Record message ids as seen at `now`; return those not seen within `ttl` before.

    Assumes one ttl for every call: ids seen before `now - ttl` are purged, so what remains
    was seen within the ttl.
    """
    conn.execute(sql.PURGE_SEEN, (now - ttl,))
    unique = list(dict.fromkeys(ids))
    new = {mid for mid in unique if conn.execute(sql.IS_SEEN, (mid,)).fetchone() is None}
    conn.executemany(sql.RECORD_SEEN, [(mid, now) for mid in unique])
    return new


def _claim(
    select: str, lease_sql: str, worker: str, until: float, now: float, limit: int
) -> Callable[[sqlite3.Connection], list[sqlite3.Row]]:
    """Find what may be claimed and lease it to `worker`: work to run with `write=False`.

    A read looks first, without the write lock: most claims (a wake-up after a reply left,
    the poll every second) find nothing, and then cost another process no wait.
    """

    def lease(conn: sqlite3.Connection) -> list[sqlite3.Row]:
        # max(): SQLite reads a negative LIMIT as "no limit".
        rows = conn.execute(select, {"now": now, "limit": max(limit, 0)}).fetchall()
        conn.executemany(lease_sql, [(worker, until, row["id"]) for row in rows])
        return rows

    def work(conn: sqlite3.Connection) -> list[sqlite3.Row]:
        if limit <= 0 or conn.execute(select, {"now": now, "limit": 1}).fetchone() is None:
            return []
        return transaction(conn, lease)

    return work
