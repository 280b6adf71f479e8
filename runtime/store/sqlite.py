"""The default state store: one SQLite file, shared safely by the processes of one host."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

from runtime.errors import StoreError
from runtime.session import Session
from runtime.store import sqlite_schema as sql
from runtime.store.base import (
    KEEP_EXPIRED_PAIRINGS,
    RETRY_LEASE_GRACE,
    ApprovedSender,
    DeadLetter,
    InboundEvent,
    NewInbound,
    NewOutbound,
    OutboundMessage,
    PairingRequest,
    first_sightings,
)

T = TypeVar("T")

BUSY_TIMEOUT_MS = 10_000  # how long a write waits for another process's write to finish
# While another process writes, try again after these pauses (doubling, jittered). SQLite's
# own busy handler sleeps 1, 2, 5 ... 100 ms: with two workers that was the whole p99.
BUSY_FIRST_PAUSE = 0.0002
BUSY_MAX_PAUSE = 0.002


class SQLiteStore:
    """A `Store` in one SQLite file, safe for several processes of one host at once.

    Every call runs on one dedicated thread holding the one connection, so calls are
    serialized without locks and the event loop never blocks on the disk. Writes run in
    `BEGIN IMMEDIATE` transactions, which take the file's write lock up front (waiting up
    to BUSY_TIMEOUT_MS for another process, trying again every few hundred microseconds),
    so two processes never both claim one event.
    A call cancelled while its transaction runs still completes it; a lease taken that way
    runs out and is offered again.

    Accepts are group-committed: the webhook POSTs that arrive while one accept is being
    written are all written next, in one transaction, each caller getting its own ids.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._accepts: list[_Accept] = []  # waiting for the next group commit
        self._accept_writer: asyncio.Task[None] | None = None

    # -- plumbing ----------------------------------------------------------------------------
    async def _run(
        self, what: str, work: Callable[[sqlite3.Connection], T], *, write: bool = True
    ) -> T:
        if self._executor is None:
            raise StoreError(f"cannot {what}: the store {self._path} is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, partial(self._in_thread, what, work, write)
        )

    def _in_thread(self, what: str, work: Callable[[sqlite3.Connection], T], write: bool) -> T:
        conn = self._conn
        if conn is None:
            raise StoreError(f"cannot {what}: the store {self._path} is not open")
        try:
            result = _when_not_busy(lambda: _transaction(conn, work) if write else work(conn))
        except (sqlite3.Error, UnicodeError, OverflowError, ValueError) as err:
            # sqlite3 refuses some values on its own (a lone surrogate, an int past 2**63)
            raise StoreError(f"cannot {what} in the store {self._path}: {err}") from err
        if isinstance(result, sqlite3.Cursor):
            # freed on the event loop's thread while this one uses the connection, a cursor
            # makes SQLite fail now and then with "bad parameter or other API misuse"
            raise TypeError(f"the store's work to {what} returned a cursor: return its rows")
        return result

    def _connect(self) -> None:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self._path,
                timeout=0,  # busy: _when_not_busy tries again, much sooner than SQLite would
                isolation_level=None,  # autocommit: transactions are begun explicitly
                check_same_thread=False,
            )
        except (OSError, sqlite3.Error) as err:
            raise StoreError(f"cannot open the store {self._path}: {err}") from err
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 0")
            _use_wal(conn)
            # NORMAL in WAL mode: a committed transaction survives the process being killed
            # (kill -9), as the OS holds its pages; only a power cut may lose the last few,
            # and the file is never corrupted either way.
            conn.execute("PRAGMA synchronous = NORMAL")
            _when_not_busy(partial(_transaction, conn, partial(_migrate, self._path)))
        except sqlite3.Error as err:
            conn.close()
            raise StoreError(f"cannot set up the store {self._path}: {err}") from err
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    # -- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        if self._executor is not None:
            return
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._connect)
        except BaseException:  # e.g. cancelled: close the connection it may still open
            executor.submit(self._disconnect)
            executor.shutdown(wait=False)
            raise
        self._executor = executor

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._disconnect)
        except sqlite3.Error as err:
            raise StoreError(f"cannot close the store {self._path}: {err}") from err
        finally:
            executor.shutdown(wait=False)  # idle by now: its thread ends on its own

    # -- dedupe ------------------------------------------------------------------------------
    async def claim_message_ids(
        self, message_ids: Sequence[str], *, now: float, ttl: float
    ) -> frozenset[str]:
        def work(conn: sqlite3.Connection) -> frozenset[str]:
            return frozenset(_record_seen(conn, message_ids, now, ttl))

        return await self._run("record message ids", work)

    # -- the 24-hour window ------------------------------------------------------------------
    async def record_inbound(self, account_id: str, psid: str, at: float) -> None:
        await self._run("record an inbound time", _exec(sql.RECORD_INBOUND, account_id, psid, at))

    async def last_inbound(self, account_id: str, psid: str) -> float | None:
        row = await self._run(
            "read an inbound time", _one(sql.LAST_INBOUND, account_id, psid), write=False
        )
        return None if row is None else float(row[0])

    # -- sessions ----------------------------------------------------------------------------
    async def load_session(self, key: str) -> Session | None:
        row = await self._run("load a session", _one(sql.LOAD_SESSION, key), write=False)
        return None if row is None else Session.from_json(row[0])

    async def save_session(self, session: Session) -> None:
        params = (session.key, session.to_json(), session.updated_at)
        await self._run("save a session", _exec(sql.SAVE_SESSION, *params))

    async def delete_session(self, key: str) -> bool:
        return await self._run("delete a session", _exec(sql.DELETE_SESSION, key)) > 0

    # -- pairing -----------------------------------------------------------------------------
    async def pending_pairing(
        self, account_id: str, psid: str, *, now: float
    ) -> PairingRequest | None:
        row = await self._run(
            "read a pairing request",
            _one(sql.PENDING_PAIRING, account_id, psid, now),
            write=False,
        )
        return None if row is None else PairingRequest(**row)

    async def create_pairing(
        self, request: PairingRequest, *, now: float, max_pending: int
    ) -> PairingRequest | None:
        def work(conn: sqlite3.Connection) -> PairingRequest | None:
            conn.execute(sql.PURGE_PAIRINGS, (now - KEEP_EXPIRED_PAIRINGS,))
            conn.execute(sql.DROP_EXPIRED_CODE, (request.code, now))  # its code may be reused
            if conn.execute(sql.CODE_TAKEN, (request.code,)).fetchone() is not None:
                return None
            (pending,) = conn.execute(sql.COUNT_PENDING, (request.account_id, now)).fetchone()
            excess = pending - max_pending + 1
            if excess > 0:
                params = {"now": now, "account": request.account_id, "excess": excess}
                conn.execute(sql.EXPIRE_OLDEST_PENDING, params)
            conn.execute(sql.INSERT_PAIRING, asdict(request))
            return request

        return await self._run("create a pairing request", work)

    async def mark_pairing_sent(self, code: str, at: float) -> None:
        await self._run("mark a pairing code sent", _exec(sql.MARK_PAIRING_SENT, at, code))

    async def list_pairings(
        self, account_id: str | None = None, *, now: float
    ) -> list[PairingRequest]:
        rows = await self._run(
            "list pairing requests",
            _all(sql.LIST_PAIRINGS, {"account": account_id, "now": now}),
            write=False,
        )
        return [PairingRequest(**row) for row in rows]

    async def find_pairing(self, code: str) -> PairingRequest | None:
        row = await self._run("read a pairing request", _one(sql.FIND_PAIRING, code), write=False)
        return None if row is None else PairingRequest(**row)

    async def take_pairing(self, code: str) -> PairingRequest | None:
        row = await self._run("take a pairing request", _one(sql.TAKE_PAIRING, code))
        return None if row is None else PairingRequest(**row)

    async def approve_pairing(
        self, request: PairingRequest, *, now: float, confirmation: NewOutbound | None
    ) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            if conn.execute(sql.USE_PENDING_PAIRING, {**asdict(request), "now": now}).rowcount == 0:
                return False
            conn.execute(sql.APPROVE, (request.account_id, request.psid, now))
            if confirmation is not None:
                params = (confirmation.account_id, confirmation.psid, confirmation.body, now, now)
                _insert(conn, sql.INSERT_OUTBOUND, params)
            return True

        return await self._run("approve a pairing request", work)

    async def approve_sender(self, account_id: str, psid: str, at: float) -> None:
        await self._run("approve a sender", _exec(sql.APPROVE, account_id, psid, at))

    async def revoke_sender(self, account_id: str, psid: str) -> bool:
        return await self._run("revoke a sender", _exec(sql.REVOKE, account_id, psid)) > 0

    async def is_approved(self, account_id: str, psid: str) -> bool:
        row = await self._run(
            "read an approval", _one(sql.IS_APPROVED, account_id, psid), write=False
        )
        return row is not None

    async def list_approved(self, account_id: str | None = None) -> list[ApprovedSender]:
        rows = await self._run(
            "list approved senders", _all(sql.LIST_APPROVED, {"account": account_id}), write=False
        )
        return [ApprovedSender(**row) for row in rows]

    # -- durable inbox -----------------------------------------------------------------------
    async def accept_inbound(
        self, events: Sequence[NewInbound], *, now: float, dedupe_ttl: float
    ) -> list[int]:
        accepted: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self._accepts.append(_Accept(events, now, dedupe_ttl, accepted))
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
            results = await self._run("accept inbound events", partial(_accept_all, group))
        except StoreError as err:
            if len(group) == 1:
                _settle(group[0].accepted, err)
            return False
        for accept, ids in zip(group, results, strict=True):
            _settle(accept.accepted, ids)
        return True

    async def claim_inbound(
        self, worker: str, *, now: float, lease: float, limit: int
    ) -> list[InboundEvent]:
        rows = await self._run(
            "claim inbound events",
            _claim(sql.CLAIMABLE_INBOUND, sql.LEASE_INBOUND, worker, now + lease, now, limit),
        )
        return [InboundEvent(**row) for row in rows]

    async def complete_inbound(self, event_id: int) -> None:
        await self._run("complete an inbound event", _exec(sql.COMPLETE_INBOUND, event_id))

    async def finish_inbound(
        self,
        event_id: int,
        *,
        session: Session | None,
        outbound: Sequence[NewOutbound],
        now: float,
        worker: str,
        lease: float,
    ) -> list[int]:
        def work(conn: sqlite3.Connection) -> list[int]:
            if session is not None:
                conn.execute(sql.SAVE_SESSION, (session.key, session.to_json(), session.updated_at))
            ids = [
                _insert(
                    conn,
                    sql.INSERT_OUTBOUND_LEASED,
                    (msg.account_id, msg.psid, msg.body, now, now, worker, now + lease),
                )
                for msg in outbound
            ]
            conn.execute(sql.COMPLETE_INBOUND, (event_id,))
            return ids

        return await self._run("finish an inbound event", work)

    async def release_inbound(self, event_id: int) -> None:
        await self._run("release an inbound event", _exec(sql.RELEASE_INBOUND, event_id))

    async def count_inbound(self) -> int:
        return await self._run("count inbound events", _count(sql.COUNT_INBOUND), write=False)

    # -- durable outbox ----------------------------------------------------------------------
    async def enqueue_outbound(self, messages: Sequence[NewOutbound], *, now: float) -> list[int]:
        def work(conn: sqlite3.Connection) -> list[int]:
            return [
                _insert(conn, sql.INSERT_OUTBOUND, (msg.account_id, msg.psid, msg.body, now, now))
                for msg in messages
            ]

        return await self._run("enqueue outbound messages", work)

    async def claim_outbound(
        self, worker: str, *, now: float, lease: float, limit: int
    ) -> list[OutboundMessage]:
        rows = await self._run(
            "claim outbound messages",
            _claim(sql.CLAIMABLE_OUTBOUND, sql.LEASE_OUTBOUND, worker, now + lease, now, limit),
        )
        return [OutboundMessage(**row) for row in rows]

    async def complete_outbound(self, *message_ids: int) -> None:
        rows = [(message_id,) for message_id in message_ids]

        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(sql.COMPLETE_OUTBOUND, rows)

        await self._run("complete outbound messages", work)

    async def retry_outbound(self, message_id: int, *, at: float, error: str) -> None:
        params = {"error": error, "at": at, "grace": RETRY_LEASE_GRACE, "id": message_id}
        await self._run(
            "schedule an outbound retry",
            lambda conn: conn.execute(sql.RETRY_OUTBOUND, params).rowcount,
        )

    async def dead_letter_outbound(self, message_id: int, *, now: float, error: str) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(sql.DEAD_LETTER, {"id": message_id, "now": now, "error": error})
            conn.execute(sql.COMPLETE_OUTBOUND, (message_id,))

        await self._run("dead-letter an outbound message", work)

    async def list_dead_letters(self) -> list[DeadLetter]:
        rows = await self._run("list dead letters", _all(sql.LIST_DEAD_LETTERS, ()), write=False)
        return [DeadLetter(**row) for row in rows]

    async def requeue_dead_letter(self, dead_letter_id: int, *, now: float) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            if conn.execute(sql.REQUEUE, {"id": dead_letter_id, "now": now}).rowcount == 0:
                return False
            conn.execute(sql.DELETE_DEAD_LETTER, (dead_letter_id,))
            return True

        return await self._run("requeue a dead letter", work)

    async def count_outbound(self) -> int:
        return await self._run("count outbound messages", _count(sql.COUNT_OUTBOUND), write=False)

    # -- leases ------------------------------------------------------------------------------
    async def lease_owners(self) -> set[str]:
        rows = await self._run("list lease owners", _all(sql.LEASE_OWNERS, ()), write=False)
        return {str(row[0]) for row in rows}

    async def release_leases(self, worker: str) -> int:
        def work(conn: sqlite3.Connection) -> int:
            inbox = conn.execute(sql.RELEASE_INBOX_LEASES, (worker,)).rowcount
            return inbox + conn.execute(sql.RELEASE_OUTBOX_LEASES, (worker,)).rowcount

        return await self._run(f"release the leases of worker {worker!r}", work)


# -- work run on the store's thread ----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Accept:
    """One `accept_inbound` call waiting for its group commit."""

    events: Sequence[NewInbound]
    now: float
    dedupe_ttl: float
    accepted: asyncio.Future[list[int]]


def _accept_all(group: Sequence[_Accept], conn: sqlite3.Connection) -> list[list[int]]:
    """Keep each accept's new events, in order; the inbox ids each one kept."""
    results = []
    for accept in group:
        ids = [event.message_id for event in accept.events if event.message_id is not None]
        new = _record_seen(conn, ids, accept.now, accept.dedupe_ttl)
        kept: list[int] = []
        for event in first_sightings(accept.events, new):
            params = (event.account_id, event.psid, event.body, accept.now)
            kept.append(_insert(conn, sql.INSERT_INBOUND, params))
            if event.at is not None:
                conn.execute(sql.RECORD_INBOUND, (event.account_id, event.psid, event.at))
        results.append(kept)
    return results


def _settle(future: asyncio.Future[list[int]], outcome: list[int] | StoreError) -> None:
    if future.done():  # its POST was cancelled (the client left): the events are kept anyway
        return
    if isinstance(outcome, StoreError):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """Run `work` in one write transaction, holding the write lock from the start."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


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


def _when_not_busy(attempt: Callable[[], T]) -> T:
    """Run `attempt`; while another process holds the lock it needs, run it again.

    Every attempt is a whole transaction (rolled back when it failed), so running it again
    is safe. The pauses block the store's thread, never the event loop.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = BUSY_FIRST_PAUSE
    while True:
        try:
            return attempt()
        except sqlite3.OperationalError as err:
            busy = err.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
            if not busy or time.monotonic() >= deadline:
                raise
        time.sleep(pause * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not secrecy
        pause = min(pause * 2, BUSY_MAX_PAUSE)


def _use_wal(conn: sqlite3.Connection) -> None:
    """Put the file in WAL mode: readers never block the writer, processes take turns writing.

    Switching needs the file to itself; two processes creating the file together take turns.
    """
    _when_not_busy(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())


def _migrate(path: Path, conn: sqlite3.Connection) -> None:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > sql.SCHEMA_VERSION:
        raise StoreError(
            f"the store {path} has schema version {version}, newer than this runtime's "
            f"{sql.SCHEMA_VERSION}: upgrade the runtime"
        )
    for number in range(version + 1, sql.SCHEMA_VERSION + 1):
        for statement in sql.MIGRATIONS[number]:
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {sql.SCHEMA_VERSION:d}")


def _exec(statement: str, *params: object) -> Callable[[sqlite3.Connection], int]:
    """A statement to run; the work returns how many rows it changed."""
    return lambda conn: conn.execute(statement, params).rowcount


def _count(statement: str) -> Callable[[sqlite3.Connection], int]:
    return lambda conn: int(conn.execute(statement).fetchone()[0])


def _insert(conn: sqlite3.Connection, statement: str, params: Sequence[object]) -> int:
    """Run an INSERT of one row and return the row's id."""
    row_id = conn.execute(statement, params).lastrowid
    if row_id is None:  # pragma: no cover - sqlite3 always sets it after an INSERT
        raise sqlite3.InterfaceError("no row id after an INSERT")
    return row_id


def _one(statement: str, *params: object) -> Callable[[sqlite3.Connection], sqlite3.Row | None]:
    return lambda conn: conn.execute(statement, params).fetchone()


def _all(
    statement: str, params: Sequence[object] | dict[str, object]
) -> Callable[[sqlite3.Connection], list[sqlite3.Row]]:
    return lambda conn: conn.execute(statement, params).fetchall()


def _claim(
    select: str, lease_sql: str, worker: str, until: float, now: float, limit: int
) -> Callable[[sqlite3.Connection], list[sqlite3.Row]]:
    """Find what may be claimed and lease it to `worker`, in the caller's transaction."""

    def work(conn: sqlite3.Connection) -> list[sqlite3.Row]:
        # max(): SQLite reads a negative LIMIT as "no limit".
        rows = conn.execute(select, {"now": now, "limit": max(limit, 0)}).fetchall()
        conn.executemany(lease_sql, [(worker, until, row["id"]) for row in rows])
        return rows

    return work
