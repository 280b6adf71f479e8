"""Strangers, friends and the `runtime pair` command, against bots on disk."""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runtime.bot import Bot
from runtime.build import build_bot
from runtime.store.sqlite import SQLiteStore
from tests.fakes.server import RunningApp
from tests.fakes.webhooks import PAGE_ID, body, event, new_mid
from tests.messenger.conftest import single_page, write_bot

STRANGER = "2000000000000101"
FRIEND = "2000000000000102"  # in allowFrom
CODE = re.compile(r"\b[A-HJ-KM-NP-Z2-9]{8}\b")
APPROVED_MESSAGE = "You're approved! Say hi to start."
SETTLE = 0.3  # before asserting that nothing more arrived


def bot_config(directory: Path, policy: str, **overrides: str) -> Path:
    """A one-page bot under `policy`, FRIEND in allowFrom; state in directory/.runtime."""
    keys = {"dmPolicy": f'"{policy}"', "allowFrom": f'["{FRIEND}"]', **overrides}
    return write_bot(directory, single_page(**keys))


def load_bot(config: Path) -> Bot:
    return build_bot(config).bot


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    """The store of a bot written with `bot_config(tmp_path, ...)`."""
    opened = SQLiteStore(tmp_path / ".runtime" / "state.db")
    await opened.open()
    yield opened
    await opened.close()


def said(text: str, *, psid: str, page_id: str = PAGE_ID) -> dict[str, Any]:
    """A message sent just now (so the 24-hour window is open)."""
    message = {"mid": new_mid(), "text": text}
    stamp = int(time.time() * 1000)
    return body(
        event("message", message, psid=psid, page_id=page_id, timestamp=stamp), page_id=page_id
    )


def code_in(text: str | None) -> str:
    found = CODE.search(text or "")
    assert found is not None, f"no pairing code in {text!r}"
    return found.group()


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


async def run_cli(*args: str) -> Ran:
    """`python -m runtime ARGS`, a real process, while the test's event loop runs on."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "runtime",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


async def pair(config: Path, *args: str) -> Ran:
    """`runtime pair ARGS -c CONFIG`."""
    return await run_cli("pair", *args, "-c", str(config))


async def drained(server: RunningApp, within: float = 10.0) -> None:
    """Wait until the server has processed every event it accepted, then settle."""
    store = server.app.ctx.runtime.store
    deadline = time.monotonic() + within
    while await store.count_inbound():
        assert time.monotonic() < deadline, "the inbox was not drained in time"
        await asyncio.sleep(0.01)
    await asyncio.sleep(SETTLE)
