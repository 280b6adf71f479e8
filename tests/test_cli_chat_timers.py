"""Timers in `runtime chat`: `/timers` lists them, `/wait` moves the chat's clock on, and they
fire by themselves while the chat waits for input; driven through stdin and stdout of a real
subprocess, as a person would."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from queue import Empty, Queue

import pytest

from tests.testing.quickstart import run_runtime

CONFIG = """{
  channels: { messenger: { pageAccessToken: "t", verifyToken: "v", dmPolicy: "open" } },
}"""
FLOWS = """{
  flows: {
    tour: {
      triggers: [{ keywords: ["tour"] }],
      steps: [
        { text: "Welcome to the tour." },
        { delay: "10m" },
        { text: "Ten minutes in: how is it going?", quick_replies: [
          { title: "Great", payload: "GREAT" }, { title: "Lost", payload: "LOST" }] },
      ],
    },
    quick: {
      triggers: [{ keywords: ["quick"] }],
      steps: [{ text: "Wait for it..." }, { delay: "1s" }, { text: "There it is." }],
    },
    great: { triggers: [{ payload: "GREAT" }], steps: [{ text: "Glad to hear it!" }] },
    signup: {
      triggers: [{ keywords: ["signup"] }],
      steps: [
        { ask: "Your email?", save_as: "email", validate: "email", timeout: "1h",
          on_timeout: "nudge" },
        { text: "Thanks, {{ vars.email }}." },
      ],
    },
    nudge: { steps: [{ text: "Still there? Type signup to try again." }] },
    human: {
      triggers: [{ keywords: ["human"] }],
      steps: [{ text: "A human will answer." }, { handover: { to: "inbox", timeout: "30m" } }],
    },
    fallback: { steps: [{ text: "Pardon?" }] },
  },
}"""
TOUR_TIMER = re.compile(r"delay flows\.tour\.steps\.1 in (10m|9m \d+s)")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "flows.json5").write_text(FLOWS, encoding="utf-8")
    path = tmp_path / "config.json5"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def chat(config: Path, *lines: str) -> list[str]:
    """What the chat printed after its first line, fed `lines` on stdin."""
    result = run_runtime("chat", "-c", str(config), input="".join(f"{x}\n" for x in lines))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout.splitlines()[1:]


def test_timers_lists_the_pending_timers_and_wait_fires_them(config: Path) -> None:
    lines = chat(config, "/timers", "tour", "/timers", "/wait 10m", "/timers", "1")
    assert lines[:2] == ["(no timers)", "bot: Welcome to the tour."]
    assert TOUR_TIMER.fullmatch(lines[2]), lines[2]
    assert lines[3:] == [
        "(timer) delay flows.tour.steps.1 fell due",
        "bot: Ten minutes in: how is it going?",
        "  1) Great",
        "  2) Lost",
        "(no timers)",
        "bot: Glad to hear it!",  # the delayed message's quick replies are the choices now
    ]


def test_a_wait_too_short_fires_nothing_and_says_so(config: Path) -> None:
    lines = chat(config, "tour", "/wait 9m", "/timers")
    assert lines[1] == "(9m later: no timer fell due)"
    assert re.fullmatch(r"delay flows\.tour\.steps\.1 in (1m|\d+s)", lines[2]), lines[2]


def test_an_ask_s_timeout_runs_its_flow_after_the_wait_and_not_before(config: Path) -> None:
    lines = chat(config, "signup", "/wait 59m", "/timers", "/wait 1m", "/timers")
    assert lines[0:2] == ["bot: Your email?", "(59m later: no timer fell due)"]
    assert re.fullmatch(r"ask_timeout flows\.signup\.steps\.0 in (1m|\d+s)", lines[2]), lines[2]
    assert lines[3:] == [
        "(timer) ask_timeout flows.signup.steps.0 fell due",
        "bot: Still there? Type signup to try again.",
        "(no timers)",
    ]


def test_an_answer_cancels_the_ask_s_timeout(config: Path) -> None:
    lines = chat(config, "signup", "me@example.com", "/timers", "/wait 2h")
    assert lines == [
        "bot: Your email?",
        "bot: Thanks, me@example.com.",
        "(no timers)",
        "(2h later: no timer fell due)",
    ]


def test_a_flow_the_person_starts_cancels_a_delay(config: Path) -> None:
    lines = chat(config, "tour", "hello", "/timers", "/wait 1h")
    assert lines == [
        "bot: Welcome to the tour.",
        "bot: Pardon?",
        "(no timers)",
        "(1h later: no timer fell due)",
    ]


def test_a_handover_s_timeout_gives_the_thread_back(config: Path) -> None:
    lines = chat(config, "human", "hello?", "/wait 30m", "hello?")
    assert lines == [
        "bot: A human will answer.",
        "(handed over to a human: Page Inbox; the bot stays quiet until the thread comes back:"
        " /back)",
        "(with a human: Page Inbox has the thread, so the bot stays quiet; /back passes it back)",
        "(timer) handover_timeout flows.human.steps.1 fell due",
        "(the handover's timeout ran out: the bot takes the thread back)",
        "bot: Pardon?",
    ]


def test_back_drops_the_handover_s_timeout(config: Path) -> None:
    lines = chat(config, "human", "/back", "/timers")
    assert lines[-2:] == ["(the thread is back: the bot answers your next message)", "(no timers)"]


def test_a_wait_that_is_no_duration_says_what_to_write(config: Path) -> None:
    lines = chat(config, "/wait 10 minutes", "/wait 0s", "/wait")
    assert lines == [
        "(a wait of '10 minutes' is not one; write a duration with its unit, such as \"30s\","
        ' "10m", "2h" or "3d")',
        "(a wait of '0s' lets no time pass; write a duration with its unit, such as \"30s\","
        ' "10m", "2h" or "3d")',
        "(unknown command or missing argument: /wait; /help lists the commands)",
    ]


def test_help_names_the_timer_commands(config: Path) -> None:
    lines = chat(config, "/help")
    assert any(line.startswith("  /timers ") for line in lines)
    assert any(line.startswith("  /wait DURATION ") for line in lines)


class RunningChat:
    """`runtime chat` with its stdin left open: lines arrive as the chat prints them."""

    def __init__(self, config: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "runtime", "chat", "-c", str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.lines: Queue[str] = Queue()
        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{line}\n")
        self.process.stdin.flush()

    def next_lines(self, count: int) -> list[str]:
        """The next `count` lines printed (the test fails if they do not come within 30s)."""
        try:
            return [self.lines.get(timeout=30) for _ in range(count)]
        except Empty:
            pytest.fail("runtime chat printed no more lines")

    def end(self) -> int:
        """Close its input, as Ctrl-D does: the chat ends; its exit code."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(timeout=30)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._reader.join(timeout=30)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def running(config: Path) -> Iterator[RunningChat]:
    chat = RunningChat(config)
    yield chat
    chat.close()


def test_a_timer_fires_by_itself_while_the_chat_waits_for_input(running: RunningChat) -> None:
    running.next_lines(1)  # the intro
    running.type("quick")
    # nothing more is typed: the delay's rest arrives by itself
    assert running.next_lines(3) == [
        "bot: Wait for it...",
        "(timer) delay flows.quick.steps.1 fell due",
        "bot: There it is.",
    ]
    running.type("/timers")
    assert running.next_lines(1) == ["(no timers)"]
    assert running.end() == 0


def test_a_timer_pending_when_the_chat_ends_fires_in_the_next_one(config: Path) -> None:
    assert chat(config, "quick") == ["bot: Wait for it..."]
    again = RunningChat(config)
    try:
        again.next_lines(1)  # the intro
        assert again.next_lines(2) == [
            "(timer) delay flows.quick.steps.1 fell due",
            "bot: There it is.",
        ]
        assert again.end() == 0
    finally:
        again.close()


class Terminal:
    """The screen of a program run at a pseudo-terminal, read as it shows it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.shown = b""
        self.seen = 0  # what `wait_for` has gone past

    def wait_for(self, text: bytes) -> bytes:
        """What the screen showed from the last match to `text`, included (the test fails
        if it does not show within 30s)."""
        import os
        import select

        while text not in self.shown[self.seen :]:
            ready, _, _ = select.select([self.fd], [], [], 30)
            if not ready:
                pytest.fail(f"the terminal never showed {text!r}; it showed {self.shown!r}")
            self.shown += os.read(self.fd, 4096)
        end = self.shown.index(text, self.seen) + len(text)
        part, self.seen = self.shown[self.seen : end], end
        return part

    def type(self, text: bytes) -> None:
        import os

        os.write(self.fd, text)


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal needs a POSIX system")
def test_at_a_terminal_a_timer_s_messages_go_above_the_prompt_and_the_typed_text_stays(
    config: Path,
) -> None:
    import os
    import pty

    fd, child_end = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "runtime", "chat", "-c", str(config)],
        stdin=child_end,
        stdout=child_end,
        stderr=child_end,
    )
    os.close(child_end)
    terminal = Terminal(fd)
    try:
        terminal.wait_for(b"> ")
        terminal.type(b"quick\r")
        terminal.wait_for(b"bot: Wait for it...")
        terminal.wait_for(b"> ")
        terminal.type(b"hel")  # half a line typed when the delay falls due
        terminal.wait_for(b"hel")
        # the prompt line is cleared, the messages printed, the prompt and "hel" drawn again
        assert terminal.wait_for(b"There it is.\r\n> hel") == (
            b"\r\x1b[K(timer) delay flows.quick.steps.1 fell due\r\nbot: There it is.\r\n> hel"
        )
        terminal.type(b"lo\r")  # the typing goes on: "hello" is sent
        terminal.wait_for(b"bot: Pardon?")
        terminal.type(b"/quit\r")
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(fd)
