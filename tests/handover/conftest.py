"""A bot with a `handover` step on disk, and the webhooks of a thread changing hands.

The thread-control and standby bodies have Meta's shapes (FACTS-2026.md §3): handover events
in `entry[].messaging[]`, standby events in `entry[].standby[]`, standby postbacks without
their payload.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from runtime.dialog.effects import PAGE_INBOX_APP_ID
from tests.access.conftest import Ran, run_cli
from tests.fakes.graph_api import FAKE_APP_ID, FakeGraphAPI, Recorded
from tests.fakes.webhooks import PAGE_ID, PSID, body, new_mid
from tests.messenger.conftest import single_page, write_bot

HANDED_OVER = "OK! Someone from our team will answer you here soon."
WELCOME = "Hi! What do you need?"

FLOWS = """{
  flows: {
    welcome: { triggers: [{ keywords: ["hi"] }], steps: [{ text: "Hi! What do you need?" }] },
    signup: {
      triggers: [{ keywords: ["signup"] }],
      steps: [{ ask: "Your email?", save_as: "email" }, { text: "Thanks, {{ vars.email }}." }],
    },
    me: { triggers: [{ keywords: ["me"] }], steps: [{ text: "You are {{ vars.email }}." }] },
    human: {
      triggers: [{ keywords: ["human"] }, { payload: "HUMAN" }],
      steps: [
        { text: "OK! Someone from our team will answer you here soon." },
        { handover: { to: "inbox", note: "{{ vars.email or 'someone' }} asked for a human" } },
      ],
    },
    fallback: { steps: [{ text: "You said: {{ message.text }}" }] },
  },
}
"""


def human_bot(directory: Path, **overrides: str) -> Path:
    """A one-page open bot whose `human` flow hands over to the Page Inbox; state is SQLite
    in directory/.runtime."""
    return write_bot(directory, single_page(**overrides), flows=FLOWS)


def _now_ms() -> int:
    return int(time.time() * 1000)


def said(text: str, *, psid: str = PSID) -> dict[str, Any]:
    """The person writes (now, so the 24-hour window is open)."""
    message = {
        "sender": {"id": psid},
        "recipient": {"id": PAGE_ID},
        "timestamp": _now_ms(),
        "message": {"mid": new_mid(), "text": text},
    }
    return body(message)


def standby(*events: dict[str, Any]) -> dict[str, Any]:
    """A POST whose entry holds `standby` events: the thread is another app's."""
    return {
        "object": "page",
        "entry": [{"id": PAGE_ID, "time": _now_ms(), "standby": list(events)}],
    }


def standby_text(text: str, *, psid: str = PSID, timestamp: int | None = None) -> dict[str, Any]:
    return {
        "sender": {"id": psid},
        "recipient": {"id": PAGE_ID},
        "timestamp": timestamp or _now_ms(),
        "message": {"mid": new_mid(), "text": text},
    }


def standby_postback(title: str, *, psid: str = PSID) -> dict[str, Any]:
    """A tap in a thread another app owns: Meta sends the title, never the payload."""
    return {
        "sender": {"id": psid},
        "recipient": {"id": PAGE_ID},
        "timestamp": _now_ms(),
        "postback": {"title": title},
    }


def thread_event(action: str, *, psid: str = PSID, **fields: object) -> dict[str, Any]:
    """A `messaging_handovers` event (`pass_thread_control`, `take_thread_control`,
    `request_thread_control`) about `psid`."""
    return body(
        {
            "sender": {"id": psid},
            "recipient": {"id": PAGE_ID},
            "timestamp": _now_ms(),
            action: dict(fields),
        }
    )


def passed_back(*, psid: str = PSID) -> dict[str, Any]:
    """The Page Inbox passes the thread back to the bot: Meta tells the new owner, us."""
    return thread_event(
        "pass_thread_control",
        psid=psid,
        previous_owner_app_id=PAGE_INBOX_APP_ID,
        new_owner_app_id=FAKE_APP_ID,
        metadata="done here",
    )


def taken(*, psid: str = PSID) -> dict[str, Any]:
    """Someone in the Page Inbox takes the thread: Meta tells the app that lost it, us."""
    return thread_event(
        "take_thread_control",
        psid=psid,
        previous_owner_app_id=FAKE_APP_ID,
        new_owner_app_id=PAGE_INBOX_APP_ID,
        metadata="taken in the inbox",
    )


async def calls_to(
    graph: FakeGraphAPI, endpoint: str, count: int = 1, *, within: float = 10.0
) -> list[Recorded]:
    """Wait (with a deadline) until `count` calls to `endpoint` arrived, failed ones too."""
    deadline = time.monotonic() + within
    while len(graph.calls(endpoint)) < count:
        assert time.monotonic() < deadline, f"{endpoint}: {graph.calls(endpoint)}"
        await asyncio.sleep(0.01)
    return graph.calls(endpoint)


def outbox_calls(graph: FakeGraphAPI) -> list[tuple[str, str | None]]:
    """Every message and thread-control call that went out, in order: (endpoint, text)."""
    return [(r.endpoint, r.text) for r in graph.calls() if r.delivered and not r.sender_action]


async def handover_cli(config: Path, *args: str) -> Ran:
    """`runtime handover ARGS -c CONFIG`, a real process."""
    return await run_cli("handover", *args, "-c", str(config))
