"""The SQLite store's access role: pairing requests, approved senders and blocked senders.

`SQLiteStore` takes these methods from `SQLiteAccess`; their statements are here, their
tables in `sqlite_schema.MIGRATIONS`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict

from runtime.store import sqlite_schema as schema
from runtime.store.base import (
    KEEP_EXPIRED_PAIRINGS,
    ApprovedSender,
    BlockedSender,
    NewOutbound,
    PairingRequest,
    Standing,
)
from runtime.store.sqlite_connection import SQLiteConnection, execute, fetch_all, fetch_one, insert

PENDING_PAIRING = """
    SELECT code, account_id, psid, created_at, expires_at, last_sent_at FROM pairings
    WHERE account_id = ? AND psid = ? AND expires_at > ?
    ORDER BY created_at DESC, rowid DESC LIMIT 1
"""
PURGE_PAIRINGS = "DELETE FROM pairings WHERE expires_at <= ?"
DROP_EXPIRED_CODE = "DELETE FROM pairings WHERE code = ? AND expires_at <= ?"
CODE_TAKEN = "SELECT 1 FROM pairings WHERE code = ?"
COUNT_PENDING = "SELECT count(*) FROM pairings WHERE account_id = ? AND expires_at > ?"
# The oldest pending requests expire now (kept, so approving one can say it expired).
EXPIRE_OLDEST_PENDING = """
    UPDATE pairings SET expires_at = :now WHERE rowid IN (
        SELECT rowid FROM pairings WHERE account_id = :account AND expires_at > :now
        ORDER BY created_at, rowid LIMIT :excess
    )
"""
INSERT_PAIRING = """
    INSERT INTO pairings (code, account_id, psid, created_at, expires_at, last_sent_at)
    VALUES (:code, :account_id, :psid, :created_at, :expires_at, :last_sent_at)
"""
MARK_PAIRING_SENT = "UPDATE pairings SET last_sent_at = ? WHERE code = ?"
LIST_PAIRINGS = """
    SELECT code, account_id, psid, created_at, expires_at, last_sent_at FROM pairings
    WHERE (:account IS NULL OR account_id = :account) AND expires_at > :now
    ORDER BY created_at, rowid
"""
FIND_PAIRING = """
    SELECT code, account_id, psid, created_at, expires_at, last_sent_at FROM pairings
    WHERE code = ?
"""
# Uses up a request only as it was read, and only while it is pending.
USE_PENDING_PAIRING = """
    DELETE FROM pairings
    WHERE code = :code AND account_id = :account_id AND psid = :psid
      AND created_at = :created_at AND expires_at > :now
"""
TAKE_PAIRING = """
    DELETE FROM pairings WHERE code = ?
    RETURNING code, account_id, psid, created_at, expires_at, last_sent_at
"""
DROP_PAIRINGS_OF = "DELETE FROM pairings WHERE account_id = ? AND psid = ?"

APPROVE = """
    INSERT INTO approved_senders (account_id, psid, approved_at) VALUES (?, ?, ?)
    ON CONFLICT (account_id, psid) DO NOTHING
"""
REVOKE = "DELETE FROM approved_senders WHERE account_id = ? AND psid = ?"
LIST_APPROVED = """
    SELECT account_id, psid, approved_at FROM approved_senders
    WHERE :account IS NULL OR account_id = :account
    ORDER BY approved_at, account_id, psid
"""

BLOCK = """
    INSERT INTO blocked_senders (account_id, psid, blocked_at) VALUES (?, ?, ?)
    ON CONFLICT (account_id, psid) DO NOTHING
"""
UNBLOCK = "DELETE FROM blocked_senders WHERE account_id = ? AND psid = ?"
LIST_BLOCKED = """
    SELECT account_id, psid, blocked_at FROM blocked_senders
    WHERE :account IS NULL OR account_id = :account
    ORDER BY blocked_at, account_id, psid
"""
# Both primary keys looked up in one statement: the worker reads this for every message.
STANDING = """
    SELECT CASE
        WHEN EXISTS (SELECT 1 FROM blocked_senders WHERE account_id = :account AND psid = :psid)
            THEN 'blocked'
        WHEN EXISTS (SELECT 1 FROM approved_senders WHERE account_id = :account AND psid = :psid)
            THEN 'approved'
        ELSE 'none'
    END
"""
DROP_OUTBOX_OF = "DELETE FROM outbox WHERE account_id = ? AND psid = ?"


class SQLiteAccess:
    """Pairing requests, approvals and blocks, for `SQLiteStore`, on its `_db`."""

    _db: SQLiteConnection

    # -- pairing -----------------------------------------------------------------------------
    async def pending_pairing(
        self, account_id: str, psid: str, *, now: float
    ) -> PairingRequest | None:
        row = await self._db.run(
            "read a pairing request",
            fetch_one(PENDING_PAIRING, account_id, psid, now),
            write=False,
        )
        return None if row is None else PairingRequest(**row)

    async def create_pairing(
        self, request: PairingRequest, *, now: float, max_pending: int
    ) -> PairingRequest | None:
        def work(conn: sqlite3.Connection) -> PairingRequest | None:
            conn.execute(PURGE_PAIRINGS, (now - KEEP_EXPIRED_PAIRINGS,))
            conn.execute(DROP_EXPIRED_CODE, (request.code, now))  # its code may be reused
            if conn.execute(CODE_TAKEN, (request.code,)).fetchone() is not None:
                return None
            (pending,) = conn.execute(COUNT_PENDING, (request.account_id, now)).fetchone()
            excess = pending - max_pending + 1
            if excess > 0:
                params = {"now": now, "account": request.account_id, "excess": excess}
                conn.execute(EXPIRE_OLDEST_PENDING, params)
            conn.execute(INSERT_PAIRING, asdict(request))
            return request

        return await self._db.run("create a pairing request", work)

    async def mark_pairing_sent(self, code: str, at: float) -> None:
        await self._db.run("mark a pairing code sent", execute(MARK_PAIRING_SENT, at, code))

    async def list_pairings(
        self, account_id: str | None = None, *, now: float
    ) -> list[PairingRequest]:
        rows = await self._db.run(
            "list pairing requests",
            fetch_all(LIST_PAIRINGS, {"account": account_id, "now": now}),
            write=False,
        )
        return [PairingRequest(**row) for row in rows]

    async def find_pairing(self, code: str) -> PairingRequest | None:
        row = await self._db.run(
            "read a pairing request", fetch_one(FIND_PAIRING, code), write=False
        )
        return None if row is None else PairingRequest(**row)

    async def take_pairing(self, code: str) -> PairingRequest | None:
        row = await self._db.run("take a pairing request", fetch_one(TAKE_PAIRING, code))
        return None if row is None else PairingRequest(**row)

    async def approve_pairing(
        self, request: PairingRequest, *, now: float, confirmation: NewOutbound | None
    ) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            if conn.execute(USE_PENDING_PAIRING, {**asdict(request), "now": now}).rowcount == 0:
                return False
            conn.execute(APPROVE, (request.account_id, request.psid, now))
            if confirmation is not None:
                insert(conn, schema.INSERT_OUTBOUND, schema.outbound_params(confirmation, now))
            return True

        return await self._db.run("approve a pairing request", work)

    # -- approvals and blocks ------------------------------------------------------------------
    async def approve_sender(self, account_id: str, psid: str, at: float) -> None:
        await self._db.run("approve a sender", execute(APPROVE, account_id, psid, at))

    async def revoke_sender(self, account_id: str, psid: str) -> bool:
        return await self._db.run("revoke a sender", execute(REVOKE, account_id, psid)) > 0

    async def list_approved(self, account_id: str | None = None) -> list[ApprovedSender]:
        rows = await self._db.run(
            "list approved senders", fetch_all(LIST_APPROVED, {"account": account_id}), write=False
        )
        return [ApprovedSender(**row) for row in rows]

    async def standing(self, account_id: str, psid: str) -> Standing:
        params = {"account": account_id, "psid": psid}
        (standing,) = await self._db.run(
            "read a sender's standing",
            lambda conn: conn.execute(STANDING, params).fetchone(),
            write=False,
        )
        return Standing(standing)

    async def block_sender(self, account_id: str, psid: str, at: float) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            blocked = conn.execute(BLOCK, (account_id, psid, at)).rowcount > 0
            for statement in (REVOKE, DROP_PAIRINGS_OF, DROP_OUTBOX_OF):
                conn.execute(statement, (account_id, psid))
            return blocked

        return await self._db.run("block a sender", work)

    async def unblock_sender(self, account_id: str, psid: str) -> bool:
        return await self._db.run("unblock a sender", execute(UNBLOCK, account_id, psid)) > 0

    async def list_blocked(self, account_id: str | None = None) -> list[BlockedSender]:
        rows = await self._db.run(
            "list blocked senders", fetch_all(LIST_BLOCKED, {"account": account_id}), write=False
        )
        return [BlockedSender(**row) for row in rows]
