"""A call that outlasts the lease: the event stays this worker's, and so do its replies.

The worker runs on a clock the test moves (three leases pass while the API holds the
call), with the real SQLite store, sender pool, Graph client and HttpCaller; "another
worker" is a second claimer of the same store, asking for what is free.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path

from runtime.build import build_bot
from runtime.envelope import Envelope, EventKind
from runtime.http_calls import HttpCaller
from runtime.leases import LEASE_SECONDS, LeaseKeeper
from runtime.messenger.graph import GraphClient
from runtime.messenger.sender import SenderPool
from runtime.session import session_key
from runtime.store.base import NewInbound
from runtime.store.sqlite import SQLiteStore
from runtime.worker import InboxWorker
from tests.fakes.business_api import FakeBusinessAPI, held, json_answer
from tests.fakes.graph_api import FakeGraphAPI
from tests.http.bots import order_bot, server_env
from tests.http.conftest import ENVIRON

PSID = "5000000000000001"


async def until(condition: Callable[[], object], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "it did not happen in time"
        await asyncio.sleep(0.01)


async def test_a_call_longer_than_the_lease_keeps_the_event_and_writes_replies_leased_anew(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, api: FakeBusinessAPI
) -> None:
    gate = threading.Event()
    api.on("POST", "/orders/SLOW", held(gate, json_answer(200, {"status": "packed"})))
    config = order_bot(tmp_path, api.base_url, senderActions="false", graphBatch="false")
    bot = build_bot(config, env=server_env(env)).bot
    account = bot.accounts["default"]
    clock = [time.time()]
    store = SQLiteStore(tmp_path / "state.db")
    await store.open()
    client = GraphClient(bot.config.graph)
    await client.open()
    senders = SenderPool(client, store, lambda: bot.accounts, shards=1)
    senders.start()
    try:
        async with HttpCaller(environ=ENVIRON) as http:
            worker = InboxWorker(
                store=store,
                bot=lambda: bot,
                sender=senders,
                worker_id="slow-worker",
                clock=lambda: clock[0],
                http=http,
            )
            keeper = LeaseKeeper(
                store, "slow-worker", inbound=worker, outbound=senders, clock=lambda: clock[0]
            )
            envelope = Envelope(
                account_id=account.id,
                psid=PSID,
                session_key=session_key(account.agent_id, PSID),
                kind=EventKind.MESSAGE,
                timestamp=clock[0],
                message_id="m_slow_1",
                text="order SLOW",
            )
            event = NewInbound(
                account_id=account.id,
                psid=PSID,
                body=envelope.to_json(),
                message_id=envelope.message_id,
                session_key=envelope.session_key,
            )
            await worker.accept([event], now=clock[0], dedupe_ttl=3600)
            await api.wait_for(1)
            clock[0] += 3 * LEASE_SECONDS  # the API takes its time
            await keeper.renew()  # as the keeper does every quarter lease
            # the event being answered is nobody else's, however long the call
            assert await store.claim_inbound("other", now=clock[0], lease=60, limit=10) == []
            graph.reply_next(delay=1.0)  # the first reply is slow to leave
            gate.set()
            await until(graph.attempts)  # the first reply reached Meta, the second waits
            # the replies were written with a lease from when they were written: not free
            assert await store.claim_outbound("other", now=clock[0], lease=60, limit=10) == []
            await graph.wait_for(2)
            await worker.stop()
    finally:
        await senders.stop()
        await client.close()
        await store.close()
    assert [m.text for m in graph.messages()] == ["Looking up order SLOW...", "Order SLOW: packed"]
    assert len(api.received()) == 1
