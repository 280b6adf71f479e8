"""What only MemoryStore does: it forgets, and it is what `state.backend: "memory"` opens."""

from __future__ import annotations

from runtime.config.model import StateBackend, StateSettings
from runtime.store.base import Standing
from runtime.store.factory import open_store
from runtime.store.memory import MemoryStore
from tests.store.records import HOUR, inbound, outbound


async def test_nothing_survives_closing_a_memory_store() -> None:
    store = MemoryStore()
    await store.open()
    await store.approve_sender("page-1", "u1", 1.0)
    await store.accept_inbound([inbound("u1", "1", "m1")], now=0.0, dedupe_ttl=HOUR)
    await store.enqueue_outbound([outbound("u1", "hi")], now=0.0)
    await store.close()
    await store.open()
    try:
        assert (await store.count_inbound(), await store.count_outbound()) == (0, 0)
        assert await store.standing("page-1", "u1") is Standing.NONE
        again = await store.accept_inbound([inbound("u1", "1", "m1")], now=1.0, dedupe_ttl=HOUR)
        assert len(again.ids) == 1
    finally:
        await store.close()


async def test_the_memory_backend_opens_a_memory_store() -> None:
    settings = StateSettings(backend=StateBackend.MEMORY, path=None, url=None)
    store = await open_store(settings)
    try:
        assert isinstance(store, MemoryStore)
        assert await store.count_inbound() == 0  # open and ready
    finally:
        await store.close()


async def test_expired_cache_entries_are_swept_out_as_the_cache_grows() -> None:
    store = MemoryStore()
    await store.open()
    for number in range(1023):
        await store.cache_put("profile", f"old-{number}", "{}", now=0.0, ttl=10.0)
    await store.cache_put("profile", "new", "{}", now=100.0, ttl=10.0)  # the 1024th: a sweep
    await store.cache_put("profile", "newer", "{}", now=100.0, ttl=10.0)
    assert await store.cache_get("profile", "new", now=101.0) == "{}"
    assert await store.cache_get("profile", "old-5", now=5.0) is None  # swept, not only expired
    await store.close()
