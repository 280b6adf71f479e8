"""A clock that jumps: the worker and the senders run on a clock the test moves (the real
SQLite store, sender pool and Graph client around them). Past a delay's time the timer
fires once; back before it, and forward again, nothing fires a second time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runtime.bot import Bot
from runtime.build import build_bot
from runtime.envelope import Envelope, EventKind
from runtime.leases import lease_from_now
from runtime.messenger.graph import GraphClient
from runtime.messenger.sender import SenderPool
from runtime.session import session_key
from runtime.store.base import NewInbound
from runtime.store.sqlite import SQLiteStore
from runtime.worker import InboxWorker
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import FAST_RETRY
from tests.fakes.webhooks import PSID
from tests.timers.conftest import SETTLE, TOUR_REST, TOUR_START, arrives, texts, timer_bot

DELAY = 600.0  # the tour's delay, "10m": only the test's clock gets there


class Clock:
    """Wall-clock time, moved by the test."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class Pipeline:
    bot: Bot
    store: SQLiteStore
    worker: InboxWorker
    clock: Clock

    async def said(self, text: str) -> None:
        """The person writes `text` now (by the clock), as the webhook would keep it."""
        account = self.bot.accounts["default"]
        now = self.clock()
        envelope = Envelope(
            account_id=account.id,
            psid=PSID,
            session_key=session_key(account.agent_id, PSID),
            kind=EventKind.MESSAGE,
            timestamp=now,
            message_id=f"m_clock_{now}",
            text=text,
        )
        event = NewInbound(
            account_id=account.id,
            psid=PSID,
            body=envelope.to_json(),
            message_id=envelope.message_id,
            session_key=envelope.session_key,
            at=now,
        )
        await self.worker.accept([event], now=now, dedupe_ttl=3600)

    async def settled(self) -> None:
        """Wait until nothing is waiting: no event, no reply to send."""
        deadline = time.monotonic() + 15
        while await self.store.count_inbound() or await self.store.count_outbound():
            assert time.monotonic() < deadline, "the pipeline did not settle"
            await asyncio.sleep(0.01)


@pytest.fixture
async def pipeline(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> AsyncIterator[Pipeline]:
    """The server's pipeline (store -> worker -> engine -> outbox -> senders) on a Clock."""
    bot = build_bot(timer_bot(tmp_path, wait="10m"), env=env).bot
    clock = Clock()
    store = SQLiteStore(tmp_path / "state.db")
    await store.open()
    client = GraphClient(bot.config.graph)
    await client.open()
    workers: list[InboxWorker] = []
    senders = SenderPool(
        client,
        store,
        lambda: bot.accounts,
        retry=FAST_RETRY,
        clock=clock,
        next_lease=lambda: lease_from_now("clock-worker", clock=clock),
        on_settled=lambda events: workers[0].hand(events),
    )
    senders.start()
    worker = InboxWorker(
        store=store, bot=lambda: bot, sender=senders, worker_id="clock-worker", clock=clock
    )
    workers.append(worker)
    worker.start()
    try:
        yield Pipeline(bot, store, worker, clock)
    finally:
        await worker.stop()
        await senders.stop()
        await client.close()
        await store.close()


async def test_a_jump_past_a_timer_fires_it_once_and_a_jump_back_fires_nothing(
    pipeline: Pipeline, graph: FakeGraphAPI
) -> None:
    await pipeline.said("tour")
    await arrives(graph, TOUR_START)
    await pipeline.settled()
    assert [timer.slot for timer in await pipeline.store.list_timers()] == ["delay:tour:1"]
    pipeline.clock.offset += DELAY + 60  # forward, past the delay's time
    await arrives(graph, TOUR_REST)
    await pipeline.settled()
    assert await pipeline.store.count_timers() == 0
    pipeline.clock.offset -= DELAY + 60  # back, before its time again
    await asyncio.sleep(SETTLE)  # the worker's polls see nothing due
    pipeline.clock.offset += 2 * (DELAY + 60)  # and forward again, further
    await asyncio.sleep(SETTLE)
    await pipeline.settled()
    assert texts(graph, PSID) == [TOUR_START, TOUR_REST]


async def test_a_jump_back_while_a_timer_waits_leaves_it_due_at_its_time(
    pipeline: Pipeline, graph: FakeGraphAPI
) -> None:
    """The due time is a point in time, not a countdown: after a jump back the timer waits
    for the clock to reach it, then fires once."""
    await pipeline.said("tour")
    await arrives(graph, TOUR_START)
    await pipeline.settled()
    pipeline.clock.offset -= 3600  # an hour back
    await asyncio.sleep(SETTLE)
    assert texts(graph, PSID) == [TOUR_START]
    assert await pipeline.store.count_timers() == 1
    pipeline.clock.offset += 3600 + DELAY + 1  # past its time
    await arrives(graph, TOUR_REST)
    await asyncio.sleep(SETTLE)
    await pipeline.settled()
    assert texts(graph, PSID) == [TOUR_START, TOUR_REST]
