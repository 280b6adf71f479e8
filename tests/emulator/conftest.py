"""`runtime emulator` as a user starts it, a small bot of two pages, and the page's API.

One emulator for the module: each test is a new person (a new PSID), so no test depends on
another. The bot has no token and no secret: the emulator needs none.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

QUICKSTART_MEDIA = Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "media"
START_WITHIN = 30.0
STOP_WITHIN = 10.0  # Sanic would wait 15 s for a long poll it did not end itself
URL_LINE = re.compile(r"^Emulator: (http://127\.0\.0\.1:\d+)/emulator$")
STATE_LINE = re.compile(r"state sqlite (\S+)/state\.db")
_people = itertools.count(1)

CONFIG = """{
  channels: { messenger: {
    profile: {
      getStarted: "GET_STARTED",
      greeting: { default: "Hi {{user_first_name}}!", fr_FR: "Salut {{user_first_name}} !" },
      iceBreakers: [{ question: "How much?", payload: "PRICING" }],
      persistentMenu: [
        { title: "Pricing", payload: "PRICING" },
        { title: "Our website", url: "https://example.com" },
      ],
    },
    accounts: {
      default: { name: "Acme", dmPolicy: "open" },
      club: { name: "Club", dmPolicy: "pairing", pageId: "100000000000777" },
    },
  } },
  flows: "flows/",
}
"""

FLOWS = """{ flows: {
  welcome: {
    triggers: [{ payload: "GET_STARTED" }, { keywords: ["hi"] }],
    steps: [{ text: "Hi {{ user.first_name or 'there' }}! What do you need?",
              quick_replies: [{ title: "Pricing", payload: "PRICING" }] }],
  },
  pricing: {
    triggers: [{ payload: "PRICING" }],
    steps: [{ buttons: {
      text: "Plans start at 9.90 EUR.",
      buttons: [{ type: "postback", title: "Back", payload: "GET_STARTED" }],
    } }],
  },
  size: {
    triggers: [{ keywords: ["order"] }],
    steps: [{ ask: "Which size?", save_as: "size" }, { text: "One {{ vars.size }} coming up." }],
  },
  human: {
    triggers: [{ keywords: ["human"] }],
    steps: [{ text: "Someone will answer soon." },
            { handover: { to: "inbox", note: "asked for a human" } }],
  },
  picture: {
    triggers: [{ attachment: "image" }],
    steps: [{ attachment: { type: "image", file: "../media/thanks.png" } }],
  },
  fallback: { steps: [{ text: "You said: {{ message.text }}" }] },
} }
"""


def write_bot(folder: Path) -> Path:
    """The bot above in `folder`; its config's path."""
    (folder / "flows").mkdir(parents=True)
    (folder / "flows" / "main.json5").write_text(FLOWS)
    shutil.copytree(QUICKSTART_MEDIA, folder / "media")
    config = folder / "config.json5"
    config.write_text(CONFIG)
    return config


def new_psid() -> str:
    """A PSID as the page makes them: 7 and 15 digits."""
    return f"7{int(time.time() * 1000) % 10**9:09d}{next(_people):06d}"


@dataclass
class Running:
    """A server command in a process of its own, its stdout read line by line."""

    process: subprocess.Popen[str]
    lines: queue.Queue[str]
    log: Path
    reader: threading.Thread

    def line(self, within: float = START_WITHIN) -> str:
        """Its next line on stdout (AssertionError with its log when none comes)."""
        try:
            return self.lines.get(timeout=within)
        except queue.Empty:
            raise AssertionError(f"no line on stdout within {within}s:\n{self.output()}") from None

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def interrupt(self, within: float = 15.0) -> int:
        """Ctrl-C, as a user stops it; its exit code."""
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=within)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise AssertionError(
                f"still running {within}s after Ctrl-C:\n{self.output()}"
            ) from None
        finally:
            self.reader.join(timeout=5)
            if self.process.stdout is not None:
                self.process.stdout.close()


def start(*args: str, log: Path) -> Running:
    """`python -m runtime <args>`, stdout piped, stderr to `log`."""
    with log.open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "runtime", *args],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return Running(process, lines, log, reader)


def origin_of(running: Running) -> str:
    """The origin of the `Emulator: http://127.0.0.1:PORT/emulator` line it prints first."""
    line = running.line()
    found = URL_LINE.match(line)
    assert found, f"expected the URL line, got {line!r}:\n{running.output()}"
    return found.group(1)


class Page:
    """What the emulator's page does, through its API."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def send(self, psid: str, account: str = "default", **action: Any) -> dict[str, Any]:
        answer = self.client.post(
            "/emulator/api/send", json={"account": account, "psid": psid, **action}
        )
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def post(self, path: str, **body: Any) -> httpx.Response:
        return self.client.post(f"/emulator/api/{path}", json=body)

    def events(
        self, psid: str, account: str = "default", *, after: int = 0, wait: float = 0
    ) -> dict[str, Any]:
        params = {"account": account, "psid": psid, "after": str(after), "wait": str(wait)}
        answer = self.client.get("/emulator/api/events", params=params)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def wait_for(
        self,
        psid: str,
        until: Callable[[list[dict[str, Any]]], bool],
        account: str = "default",
        *,
        after: int = 0,
        within: float = 10.0,
    ) -> list[dict[str, Any]]:
        """The person's events after `after`, long-polled until `until(events)` holds."""
        deadline = time.monotonic() + within
        seen: list[dict[str, Any]] = []
        while not until(seen):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"not within {within}s; the events: {seen}")
            answer = self.events(psid, account, after=after, wait=min(left, 5.0))
            seen.extend(answer["events"])
            after = answer["seq"]
        return seen


def messages(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event["message"] for event in events if event["kind"] == "message"]


def texts(events: list[dict[str, Any]]) -> list[str]:
    """The texts of the bot's messages (a button template's too)."""
    found = []
    for message in messages(events):
        payload = message.get("attachment", {}).get("payload", {})
        found.append(message.get("text") or payload.get("text") or "")
    return found


def replied(count: int = 1) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda events: len(messages(events)) >= count


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`runtime emulator --port 0` on the bot above; its origin.

    After the module it is stopped with Ctrl-C while the page waits on a long poll, as a user
    stops it with the page open: it must exit at once (code 0) and delete its state.
    """
    folder = tmp_path_factory.mktemp("emulator")
    config = write_bot(folder / "bot")
    running = start("emulator", "-c", str(config), "--port", "0", log=folder / "emulator.log")
    try:
        origin = origin_of(running)
    except BaseException:
        running.process.kill()
        raise
    yield origin
    state = STATE_LINE.search(running.output())
    assert state, f"the state it uses is not said:\n{running.output()}"
    with long_poll(origin) as answer:
        assert running.interrupt(within=STOP_WITHIN) == 0, running.output()
    assert answer() in (b"", b'{"events":[],"seq":0}'), "the long poll was not ended cleanly"
    assert not Path(state.group(1)).exists(), "its temporary state outlived it"


@contextlib.contextmanager
def long_poll(origin: str) -> Iterator[Callable[[], bytes]]:
    """A long poll of a new person, in flight on a connection of its own; after the block,
    the body it was answered (b"" when the server closed the connection instead)."""
    host, port = origin.removeprefix("http://").split(":")
    query = f"account=default&psid={new_psid()}&wait=30"
    with socket.create_connection((host, int(port)), timeout=STOP_WITHIN) as connection:
        connection.sendall(
            f"GET /emulator/api/events?{query} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        )
        # answered after the poll was sent: the server has read the poll by now
        assert httpx.get(f"{origin}/healthz").status_code == 200
        received = bytearray()
        yield lambda: bytes(received).partition(b"\r\n\r\n")[2]
        while chunk := connection.recv(65536):
            received += chunk


@pytest.fixture(scope="module")
def page(emulator: str) -> Iterator[Page]:
    with httpx.Client(base_url=emulator, timeout=20) as client:
        yield Page(client)
