"""Many people's timers falling due together, with several workers on one state file: each
timer fires once (one event, one turn, one message), whichever worker fires it."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.processes import Server, serve_command
from tests.fakes.webhooks import body, event, new_mid
from tests.timers.conftest import SETTLE, TOUR_REST, TOUR_START, arrived_sync, post_to, timer_bot

PEOPLE = [f"40000000000{number:05d}" for number in range(120)]  # more than a worker's room
FIRED = re.compile(r"timer account=default psid=(\d+) fired=delay")


def tours(people: list[str]) -> dict[str, Any]:
    """One webhook body in which each of `people` says "tour", now."""
    now = int(time.time() * 1000)
    return body(
        *(
            event("message", {"mid": new_mid(), "text": "tour"}, psid=psid, timestamp=now)
            for psid in people
        )
    )


@pytest.mark.parametrize("layout", ["serve --workers 2", "two servers"])
def test_timers_falling_due_together_fire_once_each(
    layout: str, tmp_path: Path, graph: FakeGraphAPI, start: Callable[..., Server]
) -> None:
    config = timer_bot(tmp_path, wait="3s")
    if layout == "two servers":
        servers = [start(*serve_command(config)), start(*serve_command(config))]
    else:
        servers = [start(*serve_command(config, "--workers", "2"))]
    for server in servers:
        server.wait_ready()
    # one POST per server, carrying its share of the people's messages (Meta batches events
    # too): their delays fall due together
    for number, server in enumerate(servers):
        post_to(server, tours(PEOPLE[number :: len(servers)]))
    arrived_sync(graph, TOUR_START, len(PEOPLE))
    arrived_sync(graph, TOUR_REST, len(PEOPLE))
    time.sleep(SETTLE)  # a second firing would have come by now
    for server in servers:
        assert server.stop() == 0
    rests = Counter(message.psid for message in graph.messages() if message.text == TOUR_REST)
    assert rests == Counter(PEOPLE)  # each person's once
    fired = Counter(psid for server in servers for psid in FIRED.findall(server.log.read_text()))
    assert fired == Counter(PEOPLE)  # each timer became one event, one turn
