"""A bot that asks people things, its state file, and the `runtime sessions` command."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runtime.store.sqlite import SQLiteStore
from tests.access.conftest import Ran, run_cli
from tests.messenger.conftest import single_page, write_bot

FLOWS = """{
  flows: {
    signup: {
      triggers: [{ keywords: ["signup"] }],
      steps: [
        { ask: "Your name?", save_as: "name" },
        { ask: "How many?", save_as: "size", validate: "number" },
        { set: { signed_up: true } },
        { text: "Thanks {{ vars.name }}!" },
      ],
    },
    fallback: { steps: [{ text: "Say signup." }] },
  },
}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """An open bot whose `signup` flow asks a name and a number; state in .runtime/."""
    return write_bot(tmp_path, single_page(), flows=FLOWS)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / ".runtime" / "state.db")
    await opened.open()
    yield opened
    await opened.close()


async def sessions(config: Path, *args: str) -> Ran:
    """`runtime sessions ARGS -c CONFIG`, a real process."""
    return await run_cli("sessions", *args, "-c", str(config))


async def chat(config: Path, typed: str, *args: str) -> None:
    """`runtime chat ARGS -c CONFIG`, a real process, fed `typed` on stdin."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "runtime",
        "chat",
        *args,
        "-c",
        str(config),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(typed.encode()), 60)
    assert process.returncode == 0, err.decode()
    assert "Thanks" in out.decode(), out.decode()
