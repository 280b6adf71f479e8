"""An ask's timeout through the real server (SQLite): no answer in time runs its
`on_timeout` flow; an answer in time cancels it."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from tests.access.conftest import drained
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import running
from tests.fakes.webhooks import PSID
from tests.handover.conftest import said
from tests.messenger.conftest import APP_SECRET
from tests.timers.conftest import NUDGE, SETTLE, arrives, no_timers_left, texts, timer_bot


async def test_no_answer_in_time_runs_the_on_timeout_flow(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="runtime.worker")
    async with running(timer_bot(tmp_path), env=env) as server:
        await server.post(said("signup"), secret=APP_SECRET)
        await arrives(graph, NUDGE)
        await no_timers_left(server)
        # the wait ended with the timeout: what the person writes now is no answer to it
        await server.post(said("ada@example.com"), secret=APP_SECRET)
        await arrives(graph, "You said: ada@example.com")
        await drained(server)
    assert texts(graph, PSID) == ["Your email?", NUDGE, "You said: ada@example.com"]
    assert f"timer account=default psid={PSID} fired=ask_timeout at=flows.signup.steps.0" in (
        caplog.text
    )


async def test_an_answer_in_time_cancels_the_timeout(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    async with running(timer_bot(tmp_path, wait="2s"), env=env) as server:
        await server.post(said("signup"), secret=APP_SECRET)
        await arrives(graph, "Your email?")
        await server.post(said("ada@example.com"), secret=APP_SECRET)
        await arrives(graph, "Thanks, ada@example.com.")
        await no_timers_left(server)  # the answer took the timer out of the store
        await asyncio.sleep(2 + SETTLE)  # past the time it had: nothing comes
        await drained(server)
    assert texts(graph, PSID) == ["Your email?", "Thanks, ada@example.com."]
