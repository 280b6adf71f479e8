"""Fixtures shared by every test: writing config files into a temporary folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fakes.graph_api import FakeGraphAPI

WriteConfig = Callable[..., Path]


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    """Write `text` as a config file (default `config.json5`) in a fresh folder; return its path."""

    def write(text: str, name: str = "config.json5") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def graph() -> Iterator[FakeGraphAPI]:
    """A fake Graph API on a loopback port, recording every request."""
    fake = FakeGraphAPI().start()
    yield fake
    fake.stop()


@pytest.fixture
def env(graph: FakeGraphAPI) -> dict[str, str]:
    """The environment that points a bot at the fake Graph API."""
    return {"MESSENGER_GRAPH_API_BASE": graph.base_url}
