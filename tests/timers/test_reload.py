"""A reload while a delay is pending that removes its step, or its whole flow: when the
timer falls due nothing is sent for it, and a line names the step. (A flow shortened
before the delay is the engine's same path: tests/dialog/test_timers.py.)"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.access.conftest import drained
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import running
from tests.fakes.webhooks import PSID
from tests.handover.conftest import said
from tests.messenger.conftest import APP_SECRET
from tests.reload.test_hot_reload import current_version, version_change
from tests.timers.conftest import (
    TOUR_REST,
    TOUR_START,
    arrives,
    no_timers_left,
    texts,
    timer_bot,
    timer_flows,
    until,
)

WAIT = "4s"  # the reload lands well before the timer's time, even on a busy machine
PENDING = "flows.tour.steps.1: a timer was pending here, but the step "
TOUR = f'steps: [{{ text: "{TOUR_START}" }}, {{ delay: "{WAIT}" }}, {{ text: "{TOUR_REST}" }}]'
EDITS = {  # what the reload changes in the flows: this text becomes that; what the note says
    "the delay removed": (  # what was step 1 is now the text after it
        TOUR,
        f'steps: [{{ text: "{TOUR_START}" }}, {{ text: "{TOUR_REST}" }}]',
        "is no longer a delay",
    ),
    "the flow renamed": ("tour: {", "visit: {", "no longer exists"),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
async def test_a_delay_whose_step_a_reload_removed_sends_nothing_and_says_so(
    edit: str,
    tmp_path: Path,
    env: dict[str, str],
    graph: FakeGraphAPI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="runtime")
    config = timer_bot(tmp_path, wait=WAIT)
    flows = tmp_path / "flows" / "main.json5"
    before, after, why = EDITS[edit]
    async with running(config, env=env) as server:
        await server.post(said("tour"), secret=APP_SECRET)
        await arrives(graph, TOUR_START)
        old = await current_version(server)
        assert flows.read_text().count(before) == 1
        flows.write_text(timer_flows(wait=WAIT).replace(before, after))
        await version_change(server, old)
        await until(lambda: PENDING in caplog.text, "the note on the dropped timer")
        await no_timers_left(server)
        await drained(server)
    assert texts(graph, PSID) == [TOUR_START]
    [note] = [record for record in caplog.records if PENDING in record.getMessage()]
    assert note.levelno == logging.WARNING
    assert f"{PENDING}{why}; the rest of the flow is not run" in note.getMessage()
