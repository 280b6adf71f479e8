"""A bot whose flows wait (an ask's timeout, delays, a handover's timeout), and what the
tests of its timers look at: the fake Graph API's messages and the store's timers.

Timers send only within Meta's 24-hour window, counted from the person's last message:
the people of these tests write now (`said`), unless a test shows an old window.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import RunningApp
from tests.messenger.conftest import single_page, write_bot

NUDGE = "Still there? Say signup to start again."
TOUR_START = "Welcome to the tour."
TOUR_REST = "How is the tour going?"
REMINDER = "Reminder!"
HANDED_OVER = "Someone from our team will answer you here."
SETTLE = 1.5  # seconds past a timer's time: a worker's poll (every second) has seen it


FLOWS = """{
  flows: {
    signup: {
      triggers: [{ keywords: ["signup"] }],
      steps: [
        { ask: "Your email?", save_as: "email", timeout: "WAIT", on_timeout: "nudge" },
        { text: "Thanks, {{ vars.email }}." },
      ],
    },
    nudge: { steps: [{ text: "NUDGE" }] },
    tour: {
      triggers: [{ keywords: ["tour"] }],
      steps: [{ text: "TOUR_START" }, { delay: "WAIT" }, { text: "TOUR_REST" }],
    },
    remind: {
      triggers: [{ keywords: ["remind me"] }],
      steps: [{ text: "I will remind you." }, { delay: "WAIT", keep: true }, { text: "REMINDER" }],
    },
    count: {
      triggers: [{ keywords: ["count"] }],
      steps: [
        { set: { n: "{{ (vars.n or 0) | int + 1 }}" } },
        { text: "n={{ vars.n }}" },
        { delay: "WAIT", keep: true },
        { set: { n: "{{ (vars.n or 0) | int + 1 }}" } },
        { text: "n={{ vars.n }} (the delay's rest)" },
      ],
    },
    tick: {
      triggers: [{ keywords: ["tick"] }],
      steps: [{ set: { n: "{{ (vars.n or 0) | int + 1 }}" } }, { text: "n={{ vars.n }}" }],
    },
    human: {
      triggers: [{ keywords: ["human"] }],
      steps: [{ text: "HANDED_OVER" }, { handover: { to: "inbox", timeout: "WAIT" } }],
    },
    fallback: { steps: [{ text: "You said: {{ message.text }}" }] },
  },
}
"""


def timer_flows(*, wait: str = "1s") -> str:
    """The flows; every wait of theirs (ask timeout, delay, handover timeout) lasts `wait`."""
    words = {
        "NUDGE": NUDGE,
        "TOUR_START": TOUR_START,
        "TOUR_REST": TOUR_REST,
        "REMINDER": REMINDER,
        "HANDED_OVER": HANDED_OVER,
        "WAIT": wait,
    }
    flows = FLOWS
    for word, value in words.items():
        flows = flows.replace(f'"{word}"', f'"{value}"')
    return flows


def timer_bot(directory: Path, *, wait: str = "1s", **overrides: str) -> Path:
    """A one-page open bot with the timer flows, no sender actions (only messages reach the
    fake Graph API); state is SQLite in directory/.runtime."""
    keys = {"senderActions": "false", **overrides}
    return write_bot(directory, single_page(**keys), flows=timer_flows(wait=wait))


def texts(graph: FakeGraphAPI, psid: str | None = None) -> list[str | None]:
    """The texts of the messages the fake Graph API delivered (to `psid`), in order."""
    return [message.text for message in graph.messages(psid)]


async def until(condition: Callable[[], object], what: str, *, within: float = 15.0) -> None:
    """Wait (with a deadline) until `condition()` is true; `what` says what did not happen."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {within}s"
        await asyncio.sleep(0.01)


async def arrives(
    graph: FakeGraphAPI, text: str, *, psid: str | None = None, within: float = 15.0
) -> None:
    """Wait (with a deadline) until a message saying `text` was delivered."""
    await until(
        lambda: text in texts(graph, psid),
        f"{text!r} reaching the Graph API (got {texts(graph, psid)})",
        within=within,
    )


async def no_timers_left(server: RunningApp, *, within: float = 15.0) -> None:
    """Wait until the store keeps no pending timer and the inbox is empty."""
    store = server.app.ctx.runtime.store
    deadline = time.monotonic() + within
    while await store.count_timers() or await store.count_inbound():
        assert time.monotonic() < deadline, f"timers left: {await store.list_timers()}"
        await asyncio.sleep(0.01)
