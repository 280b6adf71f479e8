"""Timers that fall due when the bot may not message the person: a human has the thread,
or a reload no longer admits them. Nothing is sent, and a line says why."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from runtime.messenger.endpoints import MESSAGES, PASS_THREAD_CONTROL, TAKE_THREAD_CONTROL
from tests.access.conftest import drained
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import RunningApp, running
from tests.fakes.webhooks import PSID
from tests.handover.conftest import calls_to, outbox_calls, said
from tests.messenger.conftest import APP_SECRET
from tests.reload.test_hot_reload import current_version, version_change
from tests.timers.conftest import (
    HANDED_OVER,
    TOUR_START,
    arrives,
    no_timers_left,
    texts,
    timer_bot,
    until,
)

RELOAD_WAIT = "4s"  # the reload lands well before the timer's time, even on a busy machine


async def test_a_delay_due_while_a_human_has_the_thread_is_dropped_with_a_line(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """The reminder (a kept delay) falls due before the handover's timeout: the human has
    the thread, so the bot sends nothing; then the timeout gives the thread back."""
    caplog.set_level(logging.INFO, logger="runtime.worker")
    async with running(timer_bot(tmp_path, wait="2s"), env=env) as server:
        await server.post(said("remind me"), secret=APP_SECRET)
        await arrives(graph, "I will remind you.")
        await server.post(said("human"), secret=APP_SECRET)
        await calls_to(graph, TAKE_THREAD_CONTROL)
        await no_timers_left(server)
        await drained(server)
        # the thread back, the session no longer lists the reminder either
        assert await session_timers(server) == []
    assert outbox_calls(graph) == [
        (MESSAGES, "I will remind you."),
        (MESSAGES, HANDED_OVER),
        (PASS_THREAD_CONTROL, None),
        (TAKE_THREAD_CONTROL, None),
    ]
    assert f"timer account=default psid={PSID} delay:remind:1 dropped: with a human" in (
        caplog.text
    )


async def test_a_delay_due_after_a_reload_no_longer_admits_the_person_is_dropped_with_a_line(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="runtime.worker")
    config = timer_bot(tmp_path, wait=RELOAD_WAIT, dmPolicy='"allowlist"', allowFrom=f'["{PSID}"]')
    async with running(config, env=env) as server:
        await server.post(said("tour"), secret=APP_SECRET)
        await arrives(graph, TOUR_START)
        old = await current_version(server)
        config.write_text(config.read_text().replace(f'["{PSID}"]', '["2000000000000009"]'))
        await version_change(server, old)
        dropped = f"timer account=default psid={PSID} delay:tour:1 dropped: not admitted"
        await until(lambda: dropped in caplog.text, "the line on the dropped timer")
        await no_timers_left(server)
        await drained(server)
        assert await session_timers(server) == []
    assert texts(graph, PSID) == [TOUR_START]


async def session_timers(server: RunningApp) -> list[str]:
    """The slots of the timers the person's session still holds."""
    store = server.app.ctx.runtime.store
    [stored] = [s for s in await store.list_sessions() if s.session.psid == PSID]
    return list(stored.session.timers)
