"""What goes wrong around a timer's message: the person blocked the page meanwhile (551),
the Graph API is down when it falls due, or Meta's 24-hour window has closed. Nothing is
sent twice, and nothing is lost without a line saying why."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from tests.access.conftest import drained, run_cli
from tests.fakes import webhooks
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import running
from tests.fakes.webhooks import PSID
from tests.handover.conftest import said
from tests.messenger.conftest import APP_SECRET
from tests.timers.conftest import (
    SETTLE,
    TOUR_REST,
    TOUR_START,
    arrives,
    no_timers_left,
    texts,
    timer_bot,
    until,
)

UNAVAILABLE = "(#551) This person isn't available right now."


def attempts(graph: FakeGraphAPI, text: str) -> int:
    """How many times the Graph API was asked to send `text`, failed tries included."""
    return sum(1 for call in graph.attempts() if call.text == text)


async def dead_letters(config: Path) -> list[str]:
    """The dead letters' lines of `runtime outbox list` (a real process)."""
    listing = await run_cli("outbox", "list", "-c", str(config))
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    return lines[3:] if lines[1] != "no dead letters" else []


async def test_a_person_who_blocked_the_page_meanwhile_is_a_dead_letter_tried_once(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    config = timer_bot(tmp_path)
    async with running(config, env=env) as server:
        await server.post(said("tour"), secret=APP_SECRET)
        await arrives(graph, TOUR_START)
        graph.error_next(551, subcode=1545041, message=UNAVAILABLE)  # the delay's rest
        await until(lambda: attempts(graph, TOUR_REST), "the delay's rest being tried")
        await no_timers_left(server)
        await asyncio.sleep(SETTLE)  # nothing is tried again, nothing fires again
        await drained(server)
        [dead] = await dead_letters(config)
    assert attempts(graph, TOUR_REST) == 1
    assert texts(graph, PSID) == [TOUR_START]
    assert TOUR_REST in dead
    assert UNAVAILABLE in dead
    assert f"to {PSID} not sent, moved to the dead letters" in caplog.text
    assert caplog.text.count(f"psid={PSID} fired=delay") == 1


@pytest.mark.parametrize("outage", ["down", "5xx"])
async def test_a_timer_due_during_a_graph_outage_is_sent_once_the_api_is_back(
    outage: str,
    tmp_path: Path,
    env: dict[str, str],
    graph: FakeGraphAPI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    config = timer_bot(tmp_path)
    async with running(config, env=env) as server:
        await server.post(said("tour"), secret=APP_SECRET)
        await arrives(graph, TOUR_START)
        if outage == "down":
            graph.refuse()
        else:
            for _ in range(3):
                graph.error_next(2, status=500, message="An unexpected error has occurred.")
        await until(lambda: "fired=delay" in caplog.text, "the delay firing")
        # the rest is in the outbox, tried and tried again while the Graph API fails
        failed = f"sending to {PSID} failed"
        await until(lambda: caplog.text.count(failed) >= 3, "3 failed tries")
        if outage == "down":
            graph.accept()
        await arrives(graph, TOUR_REST)
        await no_timers_left(server)
        await drained(server)
        assert await dead_letters(config) == []
    assert texts(graph, PSID) == [TOUR_START, TOUR_REST]


async def test_a_timer_past_the_24_hour_window_is_a_dead_letter_never_tried(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """The person's message is stamped a year ago (the fake webhooks' default): the reply
    to it goes out, but a timer's message for them is past Meta's window."""
    caplog.set_level(logging.INFO)
    config = timer_bot(tmp_path, senderActions="true")
    async with running(config, env=env) as server:
        await server.post(webhooks.text("tour"), secret=APP_SECRET)
        await arrives(graph, TOUR_START)
        await until(lambda: "moved to the dead letters" in caplog.text, "the dead letter")
        await no_timers_left(server)
        await drained(server)
        [dead] = await dead_letters(config)
    assert attempts(graph, TOUR_REST) == 0  # not even tried
    # the person's message was answered; the timer's turn reached the Graph API not at all
    # (no typing bubble before a message that may not go out)
    assert [call.sender_action or call.text for call in graph.attempts()] == [
        "mark_seen",
        "typing_on",
        TOUR_START,
    ]
    window = "not sent: Meta's 24-hour window closed at 2025-11-25 16:00:"
    assert TOUR_REST in dead
    assert window in dead
    assert f"to {PSID} not sent, moved to the dead letters: {window}" in caplog.text
