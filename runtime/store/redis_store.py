"""The Redis store: every role of `Store` on one Redis server or Cluster, for several hosts.

`state: { backend: "redis", url: "redis://host:6379/0", prefix: "bot:" }`. Each role is a
module of its own (`redis_sessions.py`, `redis_caches.py`, ...), on one `RedisConnection`
(`redis_connection.py`) and one key layout (`redis_keys.py`: a person's keys in one hash
slot, so what must be atomic is one Lua script there).
"""

from __future__ import annotations

from runtime.store.redis_access import RedisAccess
from runtime.store.redis_caches import RedisCaches
from runtime.store.redis_connection import RedisConnection
from runtime.store.redis_inbox import AcceptOrder, RedisInbox
from runtime.store.redis_keys import DEFAULT_PREFIX, Keys
from runtime.store.redis_leases import RedisLeases
from runtime.store.redis_outbox import RedisOutbox
from runtime.store.redis_sessions import RedisSessions
from runtime.store.redis_timers import RedisTimers


class RedisStore(
    RedisSessions, RedisAccess, RedisInbox, RedisOutbox, RedisLeases, RedisCaches, RedisTimers
):
    """A `Store` on Redis, shared by any number of processes on any number of hosts."""

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._redis = RedisConnection(url)
        self._keys = Keys(prefix)
        self._accept_order = AcceptOrder()

    async def open(self) -> None:
        await self._redis.open()

    async def close(self) -> None:
        await self._redis.close()
