"""Delay steps through the real server (SQLite): the rest of the flow arrives after the
delay; another flow the person starts meanwhile cancels it, unless the step says `keep`;
a person's timers and messages take turns, never two at once (on SQLite and on Redis)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from tests.access.conftest import drained
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import running
from tests.fakes.webhooks import PSID
from tests.handover.conftest import said
from tests.messenger.conftest import APP_SECRET
from tests.redis.redis_bots import with_redis_state
from tests.redis_servers import RedisServer, unique_prefix
from tests.timers.conftest import (
    REMINDER,
    SETTLE,
    TOUR_REST,
    TOUR_START,
    arrives,
    no_timers_left,
    texts,
    timer_bot,
    until,
)

PEOPLE = [f"30000000000000{number:02d}" for number in range(6)]
TICKS = 12  # messages each person sends while their timer falls due


async def test_the_rest_of_the_flow_arrives_after_the_delay_typed_not_seen(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    """The timer's turn answers no message of the person's: no "seen", only typing."""
    async with running(timer_bot(tmp_path, senderActions="true"), env=env) as server:
        await server.post(said("tour"), secret=APP_SECRET)
        await arrives(graph, TOUR_START)
        assert [timer.slot for timer in await server.app.ctx.runtime.store.list_timers()] == [
            "delay:tour:1"
        ]
        await arrives(graph, TOUR_REST)
        await no_timers_left(server)
        await drained(server)
    calls = [call.sender_action or call.text for call in graph.all()]
    assert calls == ["mark_seen", "typing_on", TOUR_START, "typing_on", TOUR_REST]


async def test_another_flow_started_meanwhile_cancels_the_rest(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    async with running(timer_bot(tmp_path, wait="2s"), env=env) as server:
        await server.post(said("tour"), secret=APP_SECRET)
        await arrives(graph, TOUR_START)
        await server.post(said("what is this?"), secret=APP_SECRET)  # the fallback runs
        await arrives(graph, "You said: what is this?")
        await no_timers_left(server)
        await asyncio.sleep(2 + SETTLE)  # past the delay's time: nothing comes
        await drained(server)
    assert texts(graph, PSID) == [TOUR_START, "You said: what is this?"]


async def test_a_kept_delay_arrives_whatever_the_person_says_meanwhile(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    async with running(timer_bot(tmp_path, wait="2s"), env=env) as server:
        await server.post(said("remind me"), secret=APP_SECRET)
        await arrives(graph, "I will remind you.")
        await server.post(said("tour"), secret=APP_SECRET)  # another flow, with its own delay
        await arrives(graph, TOUR_START)
        await arrives(graph, REMINDER)
        await arrives(graph, TOUR_REST)
        await no_timers_left(server)
        await drained(server)
    assert texts(graph, PSID) == ["I will remind you.", TOUR_START, REMINDER, TOUR_REST]


@pytest.mark.parametrize("state", ["sqlite", "redis"])
async def test_a_persons_timer_and_their_messages_never_run_at_once(
    state: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    env: dict[str, str],
    graph: FakeGraphAPI,
) -> None:
    """Each turn adds one to the person's `n` and says it: two turns of theirs at once would
    read the same `n` and say the same number twice. Each person starts a kept delay, then
    writes on while it falls due."""
    config = timer_bot(tmp_path)
    if state == "redis":
        redis: RedisServer = request.getfixturevalue("redis_server")
        with_redis_state(config, redis.url, unique_prefix())
    for _ in range(len(PEOPLE) * (TICKS + 2)):
        graph.reply_next(delay=0.02)  # replies in flight while the timers fall due
    async with running(config, env=env) as server:

        async def person(psid: str) -> None:
            await server.post(said("count", psid=psid), secret=APP_SECRET)
            for _ in range(TICKS):
                await asyncio.sleep(0.1)
                await server.post(said("tick", psid=psid), secret=APP_SECRET)

        await asyncio.gather(*(person(psid) for psid in PEOPLE))
        total = TICKS + 2  # the count's first message, the ticks, the count's rest
        await until(lambda: len(graph.messages()) >= len(PEOPLE) * total, "every reply arriving")
        await no_timers_left(server)
        await drained(server)
    for psid in PEOPLE:
        replies = texts(graph, psid)
        assert [int(re.findall(r"^n=(\d+)", text or "")[0]) for text in replies] == list(
            range(1, total + 1)
        ), replies
        assert sum("(the delay's rest)" in (text or "") for text in replies) == 1, replies
