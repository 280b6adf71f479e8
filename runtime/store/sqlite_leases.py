"""The SQLite store's lease role: which worker holds which inbox event and outbox message.

`SQLiteStore` takes these methods from `SQLiteLeases`; the leases are columns of the `inbox`
and `outbox` tables, the statements in `sqlite_schema`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection

from runtime.store import sqlite_schema as sql
from runtime.store.base import LostLeases
from runtime.store.sqlite_connection import SQLiteConnection, fetch_all


class SQLiteLeases:
    """`lease_owners`, `renew_leases` and `release_leases`, for `SQLiteStore`, on its `_db`."""

    _db: SQLiteConnection

    async def lease_owners(self) -> set[str]:
        rows = await self._db.run("list lease owners", fetch_all(sql.LEASE_OWNERS, ()), write=False)
        return {str(row[0]) for row in rows}

    async def renew_leases(
        self,
        worker: str,
        *,
        inbound: Collection[int],
        outbound: Collection[int],
        until: float,
    ) -> LostLeases:
        def lost(conn: sqlite3.Connection, statement: str, ids: Collection[int]) -> frozenset[int]:
            renewed = {
                row_id: conn.execute(statement, {"id": row_id, "worker": worker, "until": until})
                for row_id in ids
            }
            return frozenset(row_id for row_id, done in renewed.items() if done.rowcount == 0)

        def work(conn: sqlite3.Connection) -> LostLeases:
            return LostLeases(
                inbound=lost(conn, sql.RENEW_INBOX_LEASE, inbound),
                outbound=lost(conn, sql.RENEW_OUTBOX_LEASE, outbound),
            )

        return await self._db.run(f"renew the leases of worker {worker!r}", work)

    async def release_leases(self, worker: str) -> int:
        def work(conn: sqlite3.Connection) -> int:
            inbox = conn.execute(sql.RELEASE_INBOX_LEASES, (worker,)).rowcount
            return inbox + conn.execute(sql.RELEASE_OUTBOX_LEASES, (worker,)).rowcount

        return await self._db.run(f"release the leases of worker {worker!r}", work)
