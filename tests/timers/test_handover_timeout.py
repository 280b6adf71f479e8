"""A handover's timeout through the real server (SQLite): the bot takes the thread back
(take_thread_control reaches the Graph API) and answers the person again."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from runtime.dialog.engine import TIMEOUT_METADATA
from runtime.messenger.endpoints import MESSAGES, PASS_THREAD_CONTROL, TAKE_THREAD_CONTROL
from tests.access.conftest import drained
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import running
from tests.fakes.webhooks import PSID
from tests.handover.conftest import calls_to, outbox_calls, passed_back, said
from tests.messenger.conftest import APP_SECRET
from tests.timers.conftest import HANDED_OVER, SETTLE, arrives, no_timers_left, timer_bot


async def test_the_bot_takes_the_thread_back_after_the_timeout_and_answers_again(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="runtime.worker")
    async with running(timer_bot(tmp_path), env=env) as server:
        await server.post(said("human"), secret=APP_SECRET)
        await calls_to(graph, PASS_THREAD_CONTROL)
        await server.post(said("hello? anyone?"), secret=APP_SECRET)  # the human's to answer
        [taken] = await calls_to(graph, TAKE_THREAD_CONTROL)
        await no_timers_left(server)
        await server.post(said("hi again"), secret=APP_SECRET)
        await arrives(graph, "You said: hi again")
        await drained(server)
    assert taken.json == {"recipient": {"id": PSID}, "metadata": TIMEOUT_METADATA}
    assert outbox_calls(graph) == [
        (MESSAGES, HANDED_OVER),
        (PASS_THREAD_CONTROL, None),
        (TAKE_THREAD_CONTROL, None),
        (MESSAGES, "You said: hi again"),
    ]
    assert f"timer account=default psid={PSID} fired=handover_timeout" in caplog.text
    assert f"handover: account=default psid={PSID} timed out" in caplog.text


async def test_a_thread_passed_back_before_the_timeout_is_not_taken_again(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    async with running(timer_bot(tmp_path, wait="2s"), env=env) as server:
        await server.post(said("human"), secret=APP_SECRET)
        await calls_to(graph, PASS_THREAD_CONTROL)
        await server.post(passed_back(), secret=APP_SECRET)  # the human is done early
        await server.post(said("thanks"), secret=APP_SECRET)
        await arrives(graph, "You said: thanks")
        await no_timers_left(server)
        await asyncio.sleep(2 + SETTLE)  # past the timeout: the bot has the thread already
        await drained(server)
    assert outbox_calls(graph) == [
        (MESSAGES, HANDED_OVER),
        (PASS_THREAD_CONTROL, None),
        (MESSAGES, "You said: thanks"),
    ]
