"""Several workers, several processes, one state file: each person's messages in order."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.durability.conftest import echo_bot
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.processes import Server, serve_command
from tests.fakes.webhooks import encode, signed_headers, text
from tests.messenger.conftest import APP_SECRET

USERS = [f"900{number}" for number in range(6)]
PER_USER = 8


def send_in_turns(servers: list[Server]) -> None:
    """Each person's messages one after another (each accepted before the next is sent),
    going to the servers in turn."""
    with httpx.Client(timeout=10) as client:
        for number in range(PER_USER):
            for index, psid in enumerate(USERS):
                server = servers[(number + index) % len(servers)]
                raw = encode(text(f"{number}", psid=psid))
                answer = client.post(
                    server.url + "/webhook/messenger",
                    content=raw,
                    headers=signed_headers(raw, APP_SECRET),
                )
                assert answer.status_code == 200


def assert_in_order(graph: FakeGraphAPI) -> None:
    graph.wait_sync(len(USERS) * PER_USER, within=30)
    for psid in USERS:
        assert [m.text for m in graph.messages(psid)] == [f"You said: {n}" for n in range(PER_USER)]


def test_two_workers_answer_each_person_in_order(
    tmp_path: Path, graph: FakeGraphAPI, start
) -> None:
    config = echo_bot(tmp_path)
    server = start(*serve_command(config, "--workers", "2"))
    server.wait_ready()
    send_in_turns([server])
    assert_in_order(graph)
    assert server.stop() == 0


def test_two_servers_on_one_state_file_answer_each_person_in_order(
    tmp_path: Path,
    graph: FakeGraphAPI,
    start,
) -> None:
    config = echo_bot(tmp_path)
    first = start(*serve_command(config))
    second = start(*serve_command(config))
    first.wait_ready()
    second.wait_ready()
    send_in_turns([first, second])
    assert_in_order(graph)
    assert first.stop() == 0
    assert second.stop() == 0
