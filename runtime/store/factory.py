"""open_store: the store the config's `state` names, opened and ready."""

from __future__ import annotations

from runtime.config.model import StateBackend, StateSettings
from runtime.errors import StoreError
from runtime.store.base import Store


async def open_store(settings: StateSettings) -> Store:
    """Open the configured store; close it with `await store.close()`.

    Raises StoreError, in one sentence, when it cannot be opened (a Redis server that does
    not answer, refuses the password, ...): never with a password in it.
    """
    store: Store
    if settings.backend is StateBackend.SQLITE and settings.path is not None:
        from runtime.store.sqlite import SQLiteStore

        store = SQLiteStore(settings.path)
    elif settings.backend is StateBackend.MEMORY:
        from runtime.store.memory import MemoryStore

        store = MemoryStore()
    elif settings.backend is StateBackend.REDIS and settings.url:
        from runtime.store.redis_keys import DEFAULT_PREFIX
        from runtime.store.redis_store import RedisStore

        store = RedisStore(settings.url.reveal(), prefix=settings.prefix or DEFAULT_PREFIX)
    elif settings.backend is StateBackend.REDIS:
        raise StoreError(
            "state.backend 'redis' needs state.url, the Redis server's URL (it is empty, or "
            "names an environment variable that is not set)"
        )
    else:
        raise StoreError(f"the state backend '{settings.backend}' is not available")
    await store.open()
    return store
