"""The SQLite store's cache role: values that expire (people's profiles, attachment ids).

`SQLiteStore` takes these methods from `SQLiteCache`; the `caches` table is in
`sqlite_schema.MIGRATIONS`. A put purges a few expired entries, so the table stays the size
of what is live without a sweeper.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from runtime.store.sqlite_connection import SQLiteConnection, fetch_one

GET = "SELECT value FROM caches WHERE kind = ? AND key = ? AND expires_at > ?"
PUT = """
    INSERT INTO caches (kind, key, value, expires_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
"""
PURGE_SOME = """
    DELETE FROM caches WHERE (kind, key) IN (
        SELECT kind, key FROM caches WHERE expires_at <= ? ORDER BY expires_at LIMIT ?
    )
"""
PURGE_PER_PUT: Final = 16


class SQLiteCache:
    """`cache_get` and `cache_put`, for `SQLiteStore`, on its `_db`."""

    _db: SQLiteConnection

    async def cache_get(self, kind: str, key: str, *, now: float) -> str | None:
        row = await self._db.run("read a cache", fetch_one(GET, kind, key, now), write=False)
        return None if row is None else str(row["value"])

    async def cache_put(self, kind: str, key: str, value: str, *, now: float, ttl: float) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(PUT, (kind, key, value, now + ttl))
            conn.execute(PURGE_SOME, (now, PURGE_PER_PUT))

        await self._db.run("write a cache", work)
