"""The Redis store's cache role: values that expire (people's profiles, attachment ids).

Each entry is a hash of its own (`value`, `until`): `until` is the caller's clock, which
decides (as on every backend, a store never reads the clock); Redis's own expiry, a little
past it, only frees the memory.
"""

from __future__ import annotations

from typing import Final

from runtime.store.redis_connection import RedisConnection
from runtime.store.redis_keys import Keys

# Redis forgets an entry this long after its caller's expiry: a caller's clock a little
# behind Redis's never finds an entry gone before its time.
EXPIRY_MARGIN: Final = 60.0


class RedisCaches:
    """`cache_get` and `cache_put`, for `RedisStore`, on its `_redis`."""

    _redis: RedisConnection
    _keys: Keys

    async def cache_get(self, kind: str, key: str, *, now: float) -> str | None:
        client = self._redis.client
        value, until = await self._redis.run(
            "read a cache", client.hmget(self._keys.cache(kind, key), ["value", "until"])
        )
        if value is None or until is None or float(until) <= now:
            return None
        return str(value)

    async def cache_put(self, kind: str, key: str, value: str, *, now: float, ttl: float) -> None:
        name = self._keys.cache(kind, key)
        pipeline = self._redis.client.pipeline(transaction=True)
        pipeline.hset(name, mapping={"value": value, "until": repr(now + ttl)})
        pipeline.pexpire(name, max(1, int((ttl + EXPIRY_MARGIN) * 1000)))
        await self._redis.run("write a cache", pipeline.execute())
