"""The stores under contract: every backend, opened fresh for each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from runtime.store.base import Store
from runtime.store.memory import MemoryStore
from runtime.store.redis_store import RedisStore
from runtime.store.sqlite import SQLiteStore
from tests.redis_servers import RedisCluster, RedisServer, unique_prefix

NewStore = Callable[[], Store]


@pytest.fixture(params=["sqlite", "memory", "redis"])
def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> NewStore:
    """Make a store of the backend under test, not yet open."""
    if request.param == "sqlite":
        return lambda: SQLiteStore(tmp_path / "runtime.db")
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        prefix = unique_prefix()  # tests share the server, never a key
        return lambda: RedisStore(server.url, prefix=prefix)
    return MemoryStore


@pytest.fixture
async def store(new_store: NewStore) -> AsyncIterator[Store]:
    store = new_store()
    await store.open()
    yield store
    await store.close()


# -- Redis only: a store of its own prefix on the shared server, or on the 3-node cluster ----
@pytest.fixture
def prefix() -> str:
    return unique_prefix()


@pytest.fixture
async def server_store(redis_server: RedisServer, prefix: str) -> AsyncIterator[RedisStore]:
    store = RedisStore(redis_server.url, prefix=prefix)
    await store.open()
    yield store
    await store.close()


@pytest.fixture
async def cluster_store(redis_cluster: RedisCluster, prefix: str) -> AsyncIterator[RedisStore]:
    store = RedisStore(redis_cluster.url, prefix=prefix)
    await store.open()
    yield store
    await store.close()
