"""Work held in memory keeps its lease: a backlog longer than the lease is nobody else's."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

from runtime.config.load import load_config
from runtime.dialog.messages import TextMessage
from runtime.leases import LeaseKeeper
from runtime.messenger.graph import GraphClient
from runtime.messenger.payloads import message_request
from runtime.messenger.sender import SenderPool, SendJob
from runtime.store.base import NewOutbound
from runtime.store.sqlite import SQLiteStore
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import RunningApp, running
from tests.fakes.webhooks import text
from tests.messenger.conftest import APP_SECRET, single_page, write_bot

PARTS = [f"part {number}" for number in range(1, 7)]
SIX_REPLIES = (
    "{ flows: { fallback: { steps: ["
    + ", ".join(f'{{ text: "{part}" }}' for part in PARTS)
    + "] } } }"
)
LEASE = 0.5  # seconds; the slow Graph API below takes 6 x 0.3 s to take one turn's replies


async def drained(*servers: RunningApp, within: float = 20.0) -> None:
    """Wait until no server's store holds an event or a reply any more."""
    deadline = time.monotonic() + within
    for server in servers:
        store = server.app.ctx.runtime.store
        while await store.count_inbound() or await store.count_outbound():
            assert time.monotonic() < deadline, "the inbox and outbox were not drained in time"
            await asyncio.sleep(0.02)


async def test_replies_queued_longer_than_their_lease_are_sent_once_with_two_servers(
    tmp_path: Path, graph: FakeGraphAPI, env: dict[str, str]
) -> None:
    """Two servers on one state file, as two processes or hosts would be. The first queues a
    turn's six replies behind a slow Graph API: they wait in its memory for 1.8 s, more than
    three leases. The second looks for replies whose lease ran out every second; it must
    find none, since the first renews the leases of what it holds."""
    config = write_bot(
        tmp_path, single_page(senderActions="false", graphBatch="false"), flows=SIX_REPLIES
    )
    for _ in range(40):
        graph.reply_next(delay=0.3)
    async with (
        running(config, env=env, lease=LEASE) as first,
        running(config, env=env, lease=LEASE) as second,
    ):
        answer = await first.post(text("hi"), secret=APP_SECRET)
        assert answer.status_code == 200
        await graph.wait_for(len(PARTS), within=20)
        await drained(first, second)
    assert [message.text for message in graph.messages()] == PARTS  # each once, in order


class NoEvents:
    """A lease holder with no inbox events in hand."""

    def held(self) -> list[int]:
        return []

    def drop(self, ids: frozenset[int]) -> None:
        raise AssertionError(f"no events were held, yet {sorted(ids)} were dropped")


async def test_a_reply_another_worker_took_over_is_not_sent_from_here(
    tmp_path: Path, graph: FakeGraphAPI, env: dict[str, str]
) -> None:
    """A worker stalled past a reply's lease (a stopped VM): another worker claimed it. The
    next renewal tells the first, which then does not send it too."""
    config = load_config(write_bot(tmp_path, single_page(graphBatch="false")), env=env).config
    store = SQLiteStore(tmp_path / "state.db")
    await store.open()
    client = GraphClient(config.graph)
    await client.open()
    senders = SenderPool(client, store, lambda: config.accounts, shards=1)
    keeper = LeaseKeeper(store, "stalled", inbound=NoEvents(), outbound=senders, lease=60.0)
    try:
        now = time.time()
        jobs = []
        for psid, text_, lease in (("2001", "slow", 60.0), ("2002", "taken over", 0.2)):
            body = message_request(psid, TextMessage(text=text_))
            reply = NewOutbound(account_id="default", psid=psid, body=json.dumps(body))
            await store.enqueue_outbound([reply], now=now)
            [claimed] = await store.claim_outbound("stalled", now=now, lease=lease, limit=1)
            jobs.append(SendJob("default", psid, body, claimed.id))
        graph.reply_next(delay=1.0)  # the first send holds the one shard's queue
        for job in jobs:
            senders.submit(job)
        senders.start()
        # a second later, by the store's clock, the short lease ran out: another worker takes it
        [taken] = await store.claim_outbound("other", now=now + 1.0, lease=60.0, limit=10)
        assert taken.id == jobs[1].outbox_id
        await keeper.renew()
        await senders.stop(drain_seconds=10.0)
    finally:
        await client.close()
        await store.close()
    assert [message.text for message in graph.messages()] == ["slow"]
    assert lease_owner(tmp_path / "state.db", jobs[1].outbox_id) == "other"


def lease_owner(path: Path, outbox_id: int | None) -> str:
    """Who holds the lease of an outbox row, read straight from the file."""
    with sqlite3.connect(path) as conn:
        (owner,) = conn.execute(
            "SELECT lease_owner FROM outbox WHERE id = ?", (outbox_id,)
        ).fetchone()
    return str(owner)
