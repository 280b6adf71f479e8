"""kill -9 while a call waits: the restarted server replays the turn, with the same
Idempotency-Key, and the person gets each reply once."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.fakes.business_api import FakeBusinessAPI, held, json_answer
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.processes import Server, serve_command
from tests.fakes.webhooks import encode, signed_headers, text
from tests.http.bots import order_bot
from tests.http.conftest import ENVIRON, SECRET
from tests.messenger.conftest import APP_SECRET


def test_a_server_killed_during_a_call_makes_it_again_with_the_same_key_and_answers_once(
    tmp_path: Path,
    graph: FakeGraphAPI,
    api: FakeBusinessAPI,
    start: Callable[..., Server],
) -> None:
    gate = threading.Event()
    api.on("POST", "/orders/A1", held(gate, json_answer(200, {"status": "shipped"})))
    config = order_bot(tmp_path, api.base_url, timeout=20, senderActions="false")
    server = start(*serve_command(config), env=ENVIRON)
    server.wait_ready()
    raw = encode(text("order A1"))
    answer = httpx.post(
        f"{server.url}/webhook/messenger", content=raw, headers=signed_headers(raw, APP_SECRET)
    )
    assert answer.status_code == 200
    [first] = api.wait_sync(1)  # the call is open: the server dies now
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)
    assert graph.messages() == []  # nothing of the turn was sent: it was never finished

    server = start(*serve_command(config), env=ENVIRON)
    server.wait_ready()
    _, again = api.wait_sync(2)  # the accepted event is taken up again, and its turn replayed
    assert again.headers["idempotency-key"] == first.headers["idempotency-key"]
    assert again.json == first.json
    assert again.headers["authorization"] == f"Bearer {SECRET}"
    gate.set()
    graph.wait_sync(2)
    assert server.stop() == 0  # a clean stop sends what is queued: a double would show
    assert [m.text for m in graph.messages()] == ["Looking up order A1...", "Order A1: shipped"]
    assert len(api.received()) == 2
    for log in tmp_path.glob("server-*.log"):
        assert SECRET not in log.read_text()
