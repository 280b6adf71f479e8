"""Many people's timers falling due together, with several workers on one state file: each
timer fires once (one event, one turn, one message), whichever worker fires it."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.processes import Server, serve_command
from tests.timers.conftest import (
    FIRED_DELAY,
    SETTLE,
    TOUR_REST,
    TOUR_START,
    arrived_sync,
    post_to,
    timer_bot,
    tours,
)

PEOPLE = [f"40000000000{number:05d}" for number in range(120)]  # more than a worker's room


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
    # one POST per server, carrying its share of the people's messages
    for number, server in enumerate(servers):
        post_to(server, tours(PEOPLE[number :: len(servers)]))
    arrived_sync(graph, TOUR_START, len(PEOPLE))
    arrived_sync(graph, TOUR_REST, len(PEOPLE))
    time.sleep(SETTLE)  # a second firing would have come by now
    for server in servers:
        assert server.stop() == 0
    rests = Counter(message.psid for message in graph.messages() if message.text == TOUR_REST)
    assert rests == Counter(PEOPLE)  # each person's once
    fired = Counter(
        psid for server in servers for psid in FIRED_DELAY.findall(server.log.read_text())
    )
    assert fired == Counter(PEOPLE)  # each timer became one event, one turn
