"""The send path in Graph API batch requests: what waits together leaves together, in order.

A SenderPool with its real GraphClient and a real SQLite outbox, against the fake Graph API.
Jobs submitted before the senders start are all waiting at once (one shard), so they form
one batch.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from runtime.config.load import load_config
from runtime.config.model import Config
from runtime.dialog.messages import TextMessage
from runtime.messenger.endpoints import PASS_THREAD_CONTROL
from runtime.messenger.graph import GraphClient
from runtime.messenger.payloads import SenderAction, message_request, sender_action_request
from runtime.messenger.sender import RetryPolicy, SenderPool, SendJob
from runtime.store.base import NewOutbound
from runtime.store.sqlite import SQLiteStore
from tests.fakes.graph_api import FakeGraphAPI, Recorded
from tests.messenger.conftest import APP_SECRET, TOKEN

SECOND_TOKEN = "EAAH-page-token-support-0987654321"
FAST = RetryPolicy(base=0.02, cap=0.05)
Pool = Callable[..., SenderPool]


def _config(tmp_path: Path, env: dict[str, str], batch: bool = True) -> Config:
    (tmp_path / "flows").mkdir(exist_ok=True)
    (tmp_path / "flows" / "main.json5").write_text('{ flows: { f: { steps: [{ text: "x" }] } } }')
    config = tmp_path / "config.json5"
    config.write_text(
        f"""{{ channels: {{ messenger: {{ verifyToken: "v", graphBatch: {str(batch).lower()},
        accounts: {{
          main: {{ pageAccessToken: "{TOKEN}", appSecret: "{APP_SECRET}", pageId: "1001" }},
          support: {{ pageAccessToken: "{SECOND_TOKEN}", appSecret: "s2", pageId: "1002" }},
        }} }} }}, flows: "flows/" }}"""
    )
    return load_config(config, env=env).config


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "state.db")
    await opened.open()
    yield opened
    await opened.close()


class Senders:
    """Submit jobs, then start the pool and wait until everything queued is settled."""

    def __init__(self, config: Config, store: SQLiteStore) -> None:
        self.config = config
        self.store = store
        self.client = GraphClient(config.graph)
        # one shard: every job waits in the same queue, so what is submitted is one batch
        self.pool = SenderPool(self.client, store, lambda: config.accounts, shards=1, retry=FAST)

    async def reply(self, account: str, psid: str, text: str) -> None:
        body = message_request(psid, TextMessage(text=text))
        [outbox_id] = await self.store.enqueue_outbound(
            [NewOutbound(account_id=account, psid=psid, body=json.dumps(body))], now=0.0
        )
        self.pool.submit(SendJob(account, psid, body, outbox_id))

    def action(self, account: str, psid: str, action: SenderAction) -> None:
        self.pool.submit(SendJob(account, psid, sender_action_request(psid, action)))

    async def run(self) -> None:
        await self.client.open()
        self.pool.start()
        await self.pool.stop(drain_seconds=10.0)
        await self.client.close()


def texts(records: list[Recorded], psid: str) -> list[str | None]:
    return [r.text or r.sender_action for r in records if r.psid == psid]


async def test_waiting_calls_leave_in_one_batch_request_each_persons_in_order(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, store: SQLiteStore
) -> None:
    senders = Senders(_config(tmp_path, env), store)
    for psid in ("501", "502"):
        senders.action("main", psid, SenderAction.MARK_SEEN)
        senders.action("main", psid, SenderAction.TYPING_ON)
        await senders.reply("main", psid, f"first to {psid}")
        await senders.reply("main", psid, f"second to {psid}")
    await senders.run()
    calls = graph.all()
    assert len(calls) == 8
    assert {call.batch for call in calls} == {calls[0].batch}
    assert calls[0].batch is not None
    for psid in ("501", "502"):
        wanted = ["mark_seen", "typing_on", f"first to {psid}", f"second to {psid}"]
        assert texts(calls, psid) == wanted
    assert {call.token for call in calls} == {TOKEN}
    assert {call.path for call in calls} == {"/v27.0/me/messages"}
    assert await store.count_outbound() == 0


async def test_a_failed_call_holds_back_only_that_persons_later_ones(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, store: SQLiteStore
) -> None:
    senders = Senders(_config(tmp_path, env), store)
    await senders.reply("main", "501", "a1")
    await senders.reply("main", "501", "a2")
    await senders.reply("main", "502", "b1")
    graph.error_next(2, status=500, message="temporary")  # a1 fails; a2 does not run
    await senders.run()
    assert texts(graph.all(), "501") == ["a1", "a2"]
    assert texts(graph.all(), "502") == ["b1"]
    attempts = [(r.text, r.delivered) for r in graph.attempts()]
    assert attempts == [("a1", False), ("b1", True), ("a1", True), ("a2", True)]
    assert await store.count_outbound() == 0


async def test_a_refused_message_is_dead_lettered_and_the_persons_next_one_still_goes(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, store: SQLiteStore
) -> None:
    senders = Senders(_config(tmp_path, env), store)
    await senders.reply("main", "501", "a1")
    await senders.reply("main", "501", "a2")
    await senders.reply("main", "502", "b1")
    graph.error_next(100, message="(#100) No matching user found")
    await senders.run()
    assert texts(graph.all(), "501") == ["a2"]
    assert texts(graph.all(), "502") == ["b1"]
    [dead] = await store.list_dead_letters()
    assert json.loads(dead.body)["message"]["text"] == "a1"
    assert "#100" in dead.error
    assert await store.count_outbound() == 0


async def test_a_batch_that_fails_as_a_whole_is_sent_again_once(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, store: SQLiteStore
) -> None:
    senders = Senders(_config(tmp_path, env), store)
    senders.action("main", "501", SenderAction.MARK_SEEN)
    await senders.reply("main", "501", "a1")
    await senders.reply("main", "502", "b1")
    graph.fail_next_batch(503)
    await senders.run()
    assert graph.failed_batches == 1
    assert texts(graph.all(), "501") == ["mark_seen", "a1"]
    assert texts(graph.all(), "502") == ["b1"]
    assert len(graph.attempts()) == 3  # nothing of the failed request counted as sent
    assert await store.count_outbound() == 0


async def test_each_page_gets_its_own_batch_with_its_own_token(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, store: SQLiteStore
) -> None:
    senders = Senders(_config(tmp_path, env), store)
    await senders.reply("main", "501", "to main")
    await senders.reply("support", "601", "to support")
    await senders.reply("main", "502", "to main too")
    await senders.reply("support", "602", "to support too")
    await senders.run()
    by_token: dict[str | None, set[int | None]] = {}
    for call in graph.all():
        by_token.setdefault(call.token, set()).add(call.batch)
    assert {token: len(batches) for token, batches in by_token.items()} == {
        TOKEN: 1,
        SECOND_TOKEN: 1,
    }
    assert by_token[TOKEN] != by_token[SECOND_TOKEN]
    assert {call.text for call in graph.all() if call.token == SECOND_TOKEN} == {
        "to support",
        "to support too",
    }


async def test_with_graph_batch_off_every_call_is_its_own_request(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, store: SQLiteStore
) -> None:
    senders = Senders(_config(tmp_path, env, batch=False), store)
    senders.action("main", "501", SenderAction.MARK_SEEN)
    await senders.reply("main", "501", "a1")
    await senders.reply("main", "502", "b1")
    await senders.run()
    assert len(graph.all()) == 3
    assert {call.batch for call in graph.all()} == {None}


@pytest.mark.parametrize("batch", [True, False])
async def test_a_thread_control_call_leaves_after_the_replies_before_it_at_its_endpoint(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, store: SQLiteStore, batch: bool
) -> None:
    senders = Senders(_config(tmp_path, env, batch=batch), store)
    await senders.reply("main", "501", "A person will answer you here.")
    body = {"recipient": {"id": "501"}, "target_app_id": "263902037430900", "metadata": "order"}
    [outbox_id] = await store.enqueue_outbound(
        [
            NewOutbound(
                account_id="main",
                psid="501",
                body=json.dumps(body),
                endpoint=PASS_THREAD_CONTROL,
            )
        ],
        now=0.0,
    )
    senders.pool.submit(SendJob("main", "501", body, outbox_id, PASS_THREAD_CONTROL))
    await senders.run()
    calls = graph.calls()
    assert [call.endpoint for call in calls] == ["me/messages", "me/pass_thread_control"]
    assert calls[1].json == body
    assert calls[1].token == TOKEN
    assert (calls[1].batch is not None) is batch
    assert await store.count_outbound() == 0
