"""`kill -9` with a delay pending: the timer is in the store, so the server started again
after its time sends the delay's rest at once, and once."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.processes import Server, serve_command
from tests.fakes.webhooks import PSID
from tests.handover.conftest import said
from tests.timers.conftest import (
    SETTLE,
    TOUR_REST,
    TOUR_START,
    arrived_sync,
    outbox_emptied,
    post_to,
    texts,
    timer_bot,
)

DELAY = 3.0  # seconds


def test_a_delay_pending_at_kill_9_is_sent_once_after_the_restart(
    tmp_path: Path,
    graph: FakeGraphAPI,
    start: Callable[..., Server],
) -> None:
    """On SQLite; on Redis, tests/redis/test_timers.py kills a host with timers pending."""
    config = timer_bot(tmp_path, wait=f"{DELAY:.0f}s")
    server = start(*serve_command(config))
    server.wait_ready()
    post_to(server, said("tour"))
    arrived_sync(graph, TOUR_START)
    set_at = time.monotonic()
    outbox_emptied(config)  # killed later, it would send its reply again (README: Durability)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)
    time.sleep(max(set_at + DELAY + 0.5 - time.monotonic(), 0))  # its time passes while down
    assert texts(graph) == [TOUR_START]
    restarted = start(*serve_command(config))
    restarted.wait_ready()
    arrived_sync(graph, TOUR_REST)
    time.sleep(SETTLE)  # a second firing would have come by now
    assert restarted.stop() == 0
    assert texts(graph, PSID) == [TOUR_START, TOUR_REST]
    log = restarted.log.read_text()
    assert f"timer account=default psid={PSID} fired=delay at=flows.tour.steps.1" in log
