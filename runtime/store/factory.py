"""open_store: the store the config's `state` names, opened and ready."""

from __future__ import annotations

from runtime.config.model import StateBackend, StateSettings
from runtime.errors import StoreError
from runtime.store.base import Store


async def open_store(settings: StateSettings) -> Store:
    """Open the configured store; close it with `await store.close()`."""
    store: Store
    if settings.backend is StateBackend.SQLITE and settings.path is not None:
        from runtime.store.sqlite import SQLiteStore

        store = SQLiteStore(settings.path)
    elif settings.backend is StateBackend.MEMORY:
        from runtime.store.memory import MemoryStore

        store = MemoryStore()
    else:
        raise StoreError(
            f"the state backend '{settings.backend}' is not available in this version; "
            "use state.backend 'sqlite' or 'memory'"
        )
    await store.open()
    return store
