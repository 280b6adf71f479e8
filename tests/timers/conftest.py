"""A bot whose flows wait (an ask's timeout, delays, a handover's timeout), and what the
tests of its timers look at: the fake Graph API's messages and the store's timers.

Timers send only within Meta's 24-hour window, counted from the person's last message:
the people of these tests write now (`said`), unless a test shows an old window.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from runtime.build import build_bot
from runtime.store.factory import open_store
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.processes import Server
from tests.fakes.server import RunningApp
from tests.fakes.webhooks import body, encode, event, new_mid, signed_headers
from tests.messenger.conftest import APP_SECRET, single_page, write_bot

NUDGE = "Still there? Say signup to start again."
TOUR_START = "Welcome to the tour."
TOUR_REST = "How is the tour going?"
REMINDER = "Reminder!"
HANDED_OVER = "Someone from our team will answer you here."
SETTLE = 1.5  # seconds past a timer's time: a worker's poll (every second) has seen it
FIRED_DELAY = re.compile(r"timer account=default psid=(\d+) fired=delay")  # a log line


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


def post_to(server: Server, data: dict[str, Any]) -> None:
    """POST a signed webhook to a server in another process; it must answer 200."""
    raw = encode(data)
    answer = httpx.post(
        server.url + "/webhook/messenger",
        content=raw,
        headers=signed_headers(raw, APP_SECRET),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


def arrived_sync(graph: FakeGraphAPI, text: str, count: int = 1, *, within: float = 30.0) -> None:
    """`arrives` for tests without an event loop: wait until `count` messages say `text`."""
    deadline = time.monotonic() + within
    while texts(graph).count(text) < count:
        assert time.monotonic() < deadline, f"{text!r} x{count} not delivered: {texts(graph)}"
        time.sleep(0.01)


def outbox_emptied(config: Path, *, within: float = 15.0) -> None:
    """Wait until the outbox of the bot at `config` (its own store: SQLite or Redis) holds
    nothing: what was sent has been crossed off (a process killed before that sends it
    again when it restarts)."""
    state = build_bot(config).bot.config.state

    async def waiting() -> int:
        store = await open_store(state)
        try:
            return await store.count_outbound()
        finally:
            await store.close()

    deadline = time.monotonic() + within
    while asyncio.run(waiting()):
        assert time.monotonic() < deadline, "the outbox was not emptied in time"
        time.sleep(0.01)


def tours(people: list[str]) -> dict[str, Any]:
    """One webhook body in which each of `people` says "tour", now (Meta batches events
    too): their delays fall due together."""
    now = int(time.time() * 1000)
    return body(
        *(
            event("message", {"mid": new_mid(), "text": "tour"}, psid=psid, timestamp=now)
            for psid in people
        )
    )
