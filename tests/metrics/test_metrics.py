"""GET /metrics after real traffic through one real server and the fake Graph API.

One server for the module (its counters only grow): each test reads the counts before and
after what it does, and checks the difference.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import RunningApp, running
from tests.fakes.webhooks import postback, sample, text
from tests.messenger.conftest import APP_SECRET, single_page, write_bot
from tests.metrics.scrape import Scrape, graph_requests, read, scrape_until

pytestmark = pytest.mark.asyncio(loop_scope="module")

FLOWS = """{ flows: {
  welcome: { triggers: [{ keywords: ["hi"] }], steps: [{ text: "%s" }] },
  help: { triggers: [{ payload: "HELP" }, { keywords: ["help"] }], steps: [{ text: "Help." }] },
  later: {
    triggers: [{ keywords: ["later"] }],
    steps: [{ text: "Soon." }, { delay: "1h" }, { text: "Later." }],
  },
  fallback: { steps: [{ text: "Sorry?" }] },
} }"""
TRANSIENT = {"error": {"message": "Please retry", "code": 2, "is_transient": True}}


@pytest.fixture(scope="module")
def fake_graph() -> Iterator[FakeGraphAPI]:
    fake = FakeGraphAPI().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def bot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("metrics-bot")
    write_bot(folder, single_page(senderActions="false"), flows=FLOWS % "Hello v1")
    return folder


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(bot_dir: Path, fake_graph: FakeGraphAPI) -> AsyncIterator[RunningApp]:
    env = {"MESSENGER_GRAPH_API_BASE": fake_graph.base_url}
    async with running(bot_dir / "config.json5", env=env) as app:
        yield app


async def scrape(server: RunningApp) -> Scrape:
    return read(await server.get("/metrics"))


async def say(server: RunningApp, graph: FakeGraphAPI, words: str, psid: str) -> None:
    before = len(graph.messages(psid))
    response = await server.post(text(words, psid=psid), secret=APP_SECRET)
    assert response.status_code == 200
    await graph.wait_for(before + 1, psid=psid)


async def test_webhooks_are_counted_by_how_they_were_answered(server: RunningApp) -> None:
    before = await scrape(server)
    assert (await server.post(text("hi", psid="3100"), secret=APP_SECRET)).status_code == 200
    read_receipt = sample("read")  # kept by nobody: an event, skipped
    assert (await server.post(read_receipt, secret=APP_SECRET)).status_code == 200
    assert (await server.post(text("hi"), secret="not-the-secret")).status_code == 403
    raw = b'{"object": "page", "entry": '
    assert (await server.post(raw, secret=APP_SECRET)).status_code == 400
    unknown = "/webhook/messenger/nobody"
    assert (await server.post(text("hi"), secret=APP_SECRET, path=unknown)).status_code == 404
    after = await scrape(server)

    def more(outcome: str) -> float:
        name = "runtime_webhooks_total"
        return after.value(name, outcome=outcome) - before.value(name, outcome=outcome)

    assert more("ok") == 2
    assert more("bad_signature") == 1
    assert more("malformed") == 1
    assert more("unknown_account") == 1
    assert more("store_unavailable") == 0
    events = "runtime_events_total"
    assert after.value(events, kind="message") - before.value(events, kind="message") == 1
    assert after.value(events, kind="skipped") - before.value(events, kind="skipped") == 1


async def test_turns_by_flow_replies_sent_and_graph_latency(
    server: RunningApp, fake_graph: FakeGraphAPI
) -> None:
    before = await scrape(server)
    requests_before = graph_requests(fake_graph)
    await say(server, fake_graph, "hi", "3201")
    await say(server, fake_graph, "what?", "3202")
    response = await server.post(postback("Help", "HELP", psid="3203"), secret=APP_SECRET)
    assert response.status_code == 200
    await fake_graph.wait_for(1, psid="3203")

    def grew(name: str, by: float, **labels: str) -> bool:
        return after.value(name, **labels) - before.value(name, **labels) == by

    sent = "runtime_replies_sent_total"
    after = await scrape_until(
        lambda: server.get("/metrics"), lambda now: now.value(sent) - before.value(sent) >= 3
    )
    assert grew(sent, 3)
    assert grew("runtime_turns_total", 1, flow="welcome")
    assert grew("runtime_turns_total", 1, flow="fallback")
    assert grew("runtime_turns_total", 1, flow="help")
    assert grew("runtime_events_total", 1, kind="postback")
    # one latency observation a request the Graph API got, whatever it carried
    latencies = after.total("runtime_graph_request_seconds_count")
    latencies -= before.total("runtime_graph_request_seconds_count")
    assert latencies == graph_requests(fake_graph) - requests_before >= 1
    assert all(
        labels["endpoint"] in {"me/messages", "batch"}
        for labels in after.labels("runtime_graph_request_seconds_count")
    )
    # no PSID in a label (a label's value is quoted; the digits may occur inside a number)
    assert not any(f'"{psid}"' in after.text for psid in ("3201", "3202", "3203"))


async def test_a_retry_and_a_dead_letter_are_counted(
    server: RunningApp, fake_graph: FakeGraphAPI
) -> None:
    before = await scrape(server)
    fake_graph.reply_next(status=500, json=TRANSIENT)  # then it goes through
    await say(server, fake_graph, "hi", "3301")
    fake_graph.error_next(100, message="No matching user found")  # for good
    assert (await server.post(text("help", psid="3302"), secret=APP_SECRET)).status_code == 200
    dead, sent = "runtime_replies_dead_lettered_total", "runtime_replies_sent_total"
    after = await scrape_until(
        lambda: server.get("/metrics"),
        lambda now: now.value(dead) > before.value(dead) and now.value(sent) > before.value(sent),
    )
    assert after.value(dead) - before.value(dead) == 1
    assert after.value(sent) - before.value(sent) == 1
    retried = "runtime_replies_retried_total"
    assert after.value(retried) - before.value(retried) == 1
    requests = "runtime_graph_requests_total"
    for status in ("500", "400"):
        now = after.value(requests, endpoint="me/messages", status=status)
        assert now - before.value(requests, endpoint="me/messages", status=status) == 1


async def test_timers_and_replies_waiting_in_the_store_are_counted(
    server: RunningApp, fake_graph: FakeGraphAPI
) -> None:
    before = await scrape(server)
    await say(server, fake_graph, "later", "3401")  # "Soon.", then a timer for an hour
    timers = "runtime_timers_pending"
    await scrape_until(
        lambda: server.get("/metrics"), lambda now: now.value(timers) == before.value(timers) + 1
    )
    fake_graph.reply_next(delay=1.0)  # the Graph API takes its time: the reply waits
    assert (await server.post(text("hi", psid="3402"), secret=APP_SECRET)).status_code == 200
    outbox = "runtime_outbox_messages"
    await scrape_until(lambda: server.get("/metrics"), lambda now: now.value(outbox) == 1)
    await fake_graph.wait_for(1, psid="3402")
    after = await scrape_until(lambda: server.get("/metrics"), lambda now: now.value(outbox) == 0)
    assert after.has("runtime_inbox_events")
    assert after.value("runtime_inbox_events") == 0


async def test_reloads_their_failures_and_the_version_served(
    server: RunningApp, bot_dir: Path
) -> None:
    main = bot_dir / "flows" / "main.json5"
    first = (await server.get("/healthz")).json()["version"]
    before = await scrape(server)
    assert before.labels("runtime_bot_version_info") == [{"version": first}]
    assert before.value("runtime_bot_version_info", version=first) == 1

    replace(main, FLOWS % "Hello v2")
    second = await healthz_until(server, lambda health: health["version"] != first)
    reloads, failures = "runtime_reloads_total", "runtime_reload_failures_total"
    after = await scrape_until(
        lambda: server.get("/metrics"), lambda now: now.value(reloads) > before.value(reloads)
    )
    assert after.value(reloads) - before.value(reloads) == 1
    assert after.value(failures) == before.value(failures)
    assert after.labels("runtime_bot_version_info") == [{"version": second["version"]}]

    replace(main, "{ flows: { welcome: { steps: [{ txt: 'x' }] } } }")  # a wrong key
    await healthz_until(server, lambda health: health["lastReloadError"] is not None)
    broken = await scrape(server)
    assert broken.value(failures) - before.value(failures) == 1
    assert broken.value(reloads) - before.value(reloads) == 2
    assert broken.labels("runtime_bot_version_info") == [{"version": second["version"]}]

    replace(main, FLOWS % "Hello v1")  # as the other tests expect it
    await healthz_until(server, lambda health: health["lastReloadError"] is None)


async def test_metrics_off_serves_no_route(tmp_path: Path, fake_graph: FakeGraphAPI) -> None:
    config = write_bot(tmp_path, single_page(), flows=FLOWS % "Hello")
    metrics_off = "flows: 'flows/', server: { metrics: false }"
    config.write_text(config.read_text().replace("flows: 'flows/'", metrics_off))
    env = {"MESSENGER_GRAPH_API_BASE": fake_graph.base_url}
    async with running(config, env=env) as off:
        assert (await off.get("/metrics")).status_code == 404
        assert (await off.get("/healthz")).status_code == 200


def replace(path: Path, content: str) -> None:
    """Save as an editor does that writes a new file and renames it over the old one: the
    watcher sees one change."""
    new = path.with_suffix(".tmp")
    new.write_text(content)
    os.replace(new, path)


async def healthz_until(
    server: RunningApp, condition: Callable[[dict[str, Any]], bool], *, within: float = 10.0
) -> dict[str, Any]:
    """/healthz once `condition` holds for it (a reload is done, or rejected)."""
    deadline = time.monotonic() + within
    while True:
        health: dict[str, Any] = (await server.get("/healthz")).json()
        if condition(health):
            return health
        assert time.monotonic() < deadline, health
        await asyncio.sleep(0.02)
