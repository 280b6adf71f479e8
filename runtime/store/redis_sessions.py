"""The Redis store's session role: one `Session.to_json()` document a session key.

A session lives in its person's hash slot (`redis_keys.Keys.session`), so a turn's finish
writes it in the same script as the event and the replies. The global `sessions` index
(key -> updated_at) lists them: it is written before the session and cleaned after a
delete, so a listed key whose session is gone is skipped, and no session is ever unlisted
for longer than a crash between two commands.
"""

from __future__ import annotations

from runtime.session import Session
from runtime.store.base import StoredSession
from runtime.store.redis_connection import RedisConnection
from runtime.store.redis_keys import Keys


class RedisSessions:
    """`load_session` ... `list_sessions`, for `RedisStore`, on its `_redis`."""

    _redis: RedisConnection
    _keys: Keys

    async def load_session(self, key: str) -> Session | None:
        client = self._redis.client
        text = await self._redis.run("load a session", client.get(self._keys.session(key)))
        return None if text is None else Session.from_json(text)

    async def save_session(self, session: Session) -> None:
        client = self._redis.client
        await self._redis.run(
            "save a session", client.zadd(self._keys.sessions, {session.key: session.updated_at})
        )
        await self._redis.run(
            "save a session", client.set(self._keys.session(session.key), session.to_json())
        )

    async def delete_session(self, key: str) -> bool:
        client = self._redis.client
        deleted = await self._redis.run("delete a session", client.delete(self._keys.session(key)))
        await self._redis.run("delete a session", client.zrem(self._keys.sessions, key))
        return bool(deleted)

    async def list_sessions(self, account_id: str | None = None) -> list[StoredSession]:
        client = self._redis.client
        listed = await self._redis.run(
            "list sessions", client.zrange(self._keys.sessions, 0, -1, withscores=True)
        )
        keys = [self._keys.session(key) for key, _ in listed]
        texts = await self._redis.get_all("list sessions", keys)
        sessions = [
            session
            for text in texts
            if text is not None
            and account_id in (None, (session := Session.from_json(text)).account_id)
        ]
        times = await self._redis.get_all(
            "list sessions",
            [self._keys.person(s.psid).last_inbound(s.account_id) for s in sessions],
        )
        stored = [
            StoredSession(session=s, last_inbound=None if at is None else float(at))
            for s, at in zip(sessions, times, strict=True)
        ]
        # by the sessions' own times (the index's may be a crash behind), ties by key
        return sorted(stored, key=lambda found: (found.session.updated_at, found.session.key))
