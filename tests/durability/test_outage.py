"""A Graph API outage holds replies; they all arrive, in order per person, when it ends."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from tests.durability.conftest import echo_bot
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import RunningApp, running
from tests.fakes.webhooks import text
from tests.messenger.conftest import APP_SECRET

USERS = [f"700{number}" for number in range(3)]
PER_USER = 5


async def send_all(server: RunningApp) -> None:
    for number in range(PER_USER):
        for psid in USERS:
            answer = await server.post(text(f"m{number}", psid=psid), secret=APP_SECRET)
            assert answer.status_code == 200


def assert_all_in_order(graph: FakeGraphAPI) -> None:
    for psid in USERS:
        assert [m.text for m in graph.messages(psid)] == [
            f"You said: m{number}" for number in range(PER_USER)
        ]


async def wait_until_retried(caplog: pytest.LogCaptureFixture, attempts: int) -> None:
    """Wait until the senders have failed `attempts` times (and said they will retry)."""
    deadline = time.monotonic() + 10
    while caplog.text.count("could not be reached") < attempts:
        assert time.monotonic() < deadline, caplog.text[-2000:]
        await asyncio.sleep(0.01)


async def test_replies_held_during_an_outage_arrive_in_order(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with running(echo_bot(tmp_path), env=env) as server:
        graph.refuse()
        await send_all(server)
        await wait_until_retried(caplog, 6)  # refused, retried, not given up
        graph.accept()
        await graph.wait_for(len(USERS) * PER_USER, within=30)
        await asyncio.sleep(0.2)
        assert await server.app.ctx.runtime.store.list_dead_letters() == []
    assert_all_in_order(graph)


async def test_a_restart_during_an_outage_loses_nothing(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    config = echo_bot(tmp_path)
    async with running(config, env=env) as server:
        graph.refuse()
        await send_all(server)
        await wait_until_retried(caplog, 3)
    # stopped while the Graph API was down: the replies and events wait in the state file
    async with running(config, env=env) as server:
        await asyncio.sleep(0.2)
        graph.accept()
        await graph.wait_for(len(USERS) * PER_USER, within=30)
        await asyncio.sleep(0.2)
        store = server.app.ctx.runtime.store
        assert await store.count_outbound() == 0
        assert await store.count_inbound() == 0
    assert_all_in_order(graph)
