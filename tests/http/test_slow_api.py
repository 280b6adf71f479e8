"""A slow API never slows anyone else down, and a person's own messages keep their order.

The API holds its answers until the test lets them go (an event, not a sleep), and the
assertions are on what the fake Graph API received, never on times.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from runtime.worker import CAPACITY
from tests.fakes.business_api import FakeBusinessAPI, held, json_answer
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import running
from tests.fakes.webhooks import text
from tests.http.bots import order_bot, server_env
from tests.messenger.conftest import APP_SECRET

ALICE, BOB = "3000000000000001", "3000000000000002"


def texts(graph: FakeGraphAPI, psid: str) -> list[str | None]:
    return [message.text for message in graph.messages(psid)]


async def test_others_are_answered_while_a_call_waits_and_its_persons_next_message_waits(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, api: FakeBusinessAPI
) -> None:
    gate = threading.Event()
    api.on("POST", "/orders/SLOW", held(gate, json_answer(200, {"status": "packed"})))
    config = order_bot(tmp_path, api.base_url, senderActions="false")
    async with running(config, env=server_env(env)) as server:
        await server.post(text("order SLOW", psid=ALICE), secret=APP_SECRET)
        await api.wait_for(1)  # Alice's call is open
        await server.post(text("and my invoice?", psid=ALICE), secret=APP_SECRET)
        await server.post(text("hello", psid=BOB), secret=APP_SECRET)
        assert await graph.wait_for(1, psid=BOB)
        # Bob was answered; Alice's second message waits for her first turn to finish
        assert texts(graph, ALICE) == []
        assert len(api.received()) == 1
        gate.set()
        await graph.wait_for(3, psid=ALICE)
    assert texts(graph, BOB) == ["You said: hello"]
    assert texts(graph, ALICE) == [
        "Looking up order SLOW...",
        "Order SLOW: packed",
        "You said: and my invoice?",
    ]


async def test_more_slow_calls_than_the_workers_capacity_do_not_hold_up_a_quick_reply(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, api: FakeBusinessAPI
) -> None:
    """CAPACITY + 6 people wait on the slow API at once: a call does not take one of the
    worker's CAPACITY places, so the next person is answered at once."""
    gate = threading.Event()
    api.on("POST", "/orders/SLOW", held(gate, json_answer(200, {"status": "packed"})))
    waiting = [f"40000000000{number:05d}" for number in range(CAPACITY + 6)]
    config = order_bot(tmp_path, api.base_url, timeout=20, senderActions="false")
    async with running(config, env=server_env(env)) as server:
        posts = [server.post(text("order SLOW", psid=psid), secret=APP_SECRET) for psid in waiting]
        assert {answer.status_code for answer in await asyncio.gather(*posts)} == {200}
        await api.wait_for(len(waiting), within=15)  # every call is open at once
        await server.post(text("hello", psid=BOB), secret=APP_SECRET)
        assert await graph.wait_for(1, psid=BOB)
        assert [message.psid for message in graph.messages()] == [BOB]
        gate.set()
        await graph.wait_for(1 + 2 * len(waiting), within=30)
    for psid in waiting:
        assert texts(graph, psid) == ["Looking up order SLOW...", "Order SLOW: packed"]
