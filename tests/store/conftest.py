"""The stores under contract: every backend, opened fresh for each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from runtime.store.base import Store
from runtime.store.memory import MemoryStore
from runtime.store.sqlite import SQLiteStore

NewStore = Callable[[], Store]


@pytest.fixture(params=["sqlite", "memory"])
def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> NewStore:
    """Make a store of the backend under test, not yet open."""
    if request.param == "sqlite":
        return lambda: SQLiteStore(tmp_path / "runtime.db")
    return MemoryStore


@pytest.fixture
async def store(new_store: NewStore) -> AsyncIterator[Store]:
    store = new_store()
    await store.open()
    yield store
    await store.close()
