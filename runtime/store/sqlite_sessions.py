"""The SQLite store's session role: one `Session.to_json()` document a session key.

`SQLiteStore` takes these methods from `SQLiteSessions`; the statements are in
`sqlite_schema` (a turn's finish writes the session in its own transaction, in `sqlite.py`).
"""

from __future__ import annotations

from runtime.session import Session
from runtime.store import sqlite_schema as sql
from runtime.store.base import StoredSession
from runtime.store.sqlite_connection import SQLiteConnection, execute, fetch_all, fetch_one


class SQLiteSessions:
    """`load_session` ... `list_sessions`, for `SQLiteStore`, on its `_db`."""

    _db: SQLiteConnection

    async def load_session(self, key: str) -> Session | None:
        row = await self._db.run("load a session", fetch_one(sql.LOAD_SESSION, key), write=False)
        return None if row is None else Session.from_json(row[0])

    async def save_session(self, session: Session) -> None:
        params = (session.key, session.to_json(), session.updated_at)
        await self._db.run("save a session", execute(sql.SAVE_SESSION, *params))

    async def delete_session(self, key: str) -> bool:
        return await self._db.run("delete a session", execute(sql.DELETE_SESSION, key)) > 0

    async def list_sessions(self, account_id: str | None = None) -> list[StoredSession]:
        rows = await self._db.run(
            "list sessions", fetch_all(sql.LIST_SESSIONS, {"account": account_id}), write=False
        )
        return [
            StoredSession(session=Session.from_json(row["body"]), last_inbound=row["at"])
            for row in rows
        ]
