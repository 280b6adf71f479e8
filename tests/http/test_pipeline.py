"""The `http` step through the real server: a signed webhook, the worker's call to a real
local API, the replies at the fake Graph API, and the log lines."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from tests.fakes.business_api import FakeBusinessAPI, held, json_answer, refusing_url
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import running
from tests.fakes.webhooks import PSID, text
from tests.http.bots import order_bot, server_env
from tests.http.conftest import SECRET
from tests.messenger.conftest import APP_SECRET

ORDER_DOWN = "Our order desk is not answering; try again in a while."


def texts(graph: FakeGraphAPI, psid: str = PSID) -> list[str | None]:
    return [message.text for message in graph.messages(psid)]


async def test_an_order_lookup_calls_the_api_and_answers_with_what_it_said(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, api: FakeBusinessAPI
) -> None:
    gate = threading.Event()
    api.on("POST", "/orders/A1", held(gate, json_answer(200, {"status": "shipped"})))
    async with running(order_bot(tmp_path, api.base_url), env=server_env(env)) as server:
        assert (await server.post(text("order A1"), secret=APP_SECRET)).status_code == 200
        [got] = await api.wait_for(1)
        # while the API answers, the person sees the bot at work; nothing is said yet
        actions = await graph.wait_for(2, kind="actions")
        assert [action.sender_action for action in actions] == ["mark_seen", "typing_on"]
        assert graph.messages() == []
        gate.set()
        await graph.wait_for(2)
    assert texts(graph) == ["Looking up order A1...", "Order A1: shipped"]
    assert (got.method, got.target) == ("POST", "/orders/A1")
    assert got.headers["authorization"] == f"Bearer {SECRET}"
    key = got.headers["idempotency-key"]
    assert len(key) == 32
    assert int(key, 16) >= 0
    assert got.json == {"psid": PSID, "number": "A1"}
    assert [action.sender_action for action in graph.actions()] == ["mark_seen", "typing_on"]


@pytest.mark.parametrize("failure", ["500", "timeout", "refused"])
async def test_a_failed_call_runs_on_error_logs_one_warning_and_the_server_stays_healthy(
    tmp_path: Path,
    env: dict[str, str],
    graph: FakeGraphAPI,
    api: FakeBusinessAPI,
    caplog: pytest.LogCaptureFixture,
    failure: str,
) -> None:
    caplog.set_level(logging.INFO)
    base, error = api.base_url, "the API answered 500 Internal Server Error"
    if failure == "500":
        api.on("POST", "/orders/A1", json_answer(500, {"error": "database down"}))
    elif failure == "timeout":
        api.on("POST", "/orders/A1", api.never())
        error = "no answer within 0.5 s"
    else:
        base, error = refusing_url(), "could not connect (refused, or no such host)"
    config = order_bot(tmp_path, base, timeout=0.5, senderActions="false")
    async with running(config, env=server_env(env)) as server:
        await server.post(text("order A1"), secret=APP_SECRET)
        await graph.wait_for(2)
        assert (await server.get("/healthz")).status_code == 200
        await server.post(text("hello"), secret=APP_SECRET)  # and it answers as before
        await graph.wait_for(3)
    assert texts(graph) == ["Looking up order A1...", ORDER_DOWN, "You said: hello"]
    [line] = [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name == "runtime.worker"
    ]
    assert line.startswith(f"http account=default psid={PSID} POST {base}/orders/A1 -> ")
    assert f": {error} (" in line
    assert line.endswith(f"{tmp_path.name}/flows/main.json5: flows.order.steps.1)")
    assert SECRET not in caplog.text


async def test_without_on_error_the_flow_goes_on_and_reads_ok(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, api: FakeBusinessAPI
) -> None:
    api.on("GET", "/parcels/P1", json_answer(200, {"city": "Lyon"}))
    api.on("GET", "/parcels/P2", json_answer(503, {"error": "maintenance"}))
    config = order_bot(tmp_path, api.base_url, senderActions="false")
    async with running(config, env=server_env(env)) as server:
        await server.post(text("track P1"), secret=APP_SECRET)
        await graph.wait_for(1)
        await server.post(text("track P2"), secret=APP_SECRET)
        await graph.wait_for(2)
    assert texts(graph) == [
        "Parcel P1 is in Lyon.",
        "No tracking right now (the API answered 503 Service Unavailable).",
    ]
    assert [r.method for r in api.received()] == ["GET", "GET"]
    assert [r.json for r in api.received()] == [None, None]  # a GET carries no body
