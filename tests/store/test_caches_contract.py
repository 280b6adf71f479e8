"""The Caches contract: values kept until they expire.

The `store` and `new_store` fixtures (one per backend: memory, SQLite, Redis) are in
`conftest.py`: every test of the class runs against each backend.
"""

from __future__ import annotations

from runtime.store.base import (
    Store,
)
from tests.store.records import DAY, HOUR


class TestCaches:
    """What every backend must do with cached values."""

    async def test_a_cached_value_is_read_back_until_it_expires(self, store: Store) -> None:
        assert await store.cache_get("profile", "page-1:u1", now=0.0) is None
        await store.cache_put("profile", "page-1:u1", '{"first_name":"Ada"}', now=0.0, ttl=HOUR)
        assert await store.cache_get("profile", "page-1:u1", now=HOUR - 1) == '{"first_name":"Ada"}'
        assert await store.cache_get("profile", "page-1:u1", now=HOUR) is None
        assert await store.cache_get("attachment", "page-1:u1", now=0.0) is None  # kinds apart

    async def test_a_put_replaces_the_value_and_its_expiry(self, store: Store) -> None:
        await store.cache_put("attachment", "page-1:abc", "111", now=0.0, ttl=HOUR)
        await store.cache_put("attachment", "page-1:abc", "222", now=10.0, ttl=DAY)
        assert await store.cache_get("attachment", "page-1:abc", now=2 * HOUR) == "222"
