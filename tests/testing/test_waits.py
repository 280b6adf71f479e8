"""`runtime test`'s `wait` turns: time passes, and the timers due by then fire as on Messenger
(a delay's rest, an ask's `on_timeout`, a handover's `timeout`); and `Conversation.wait`."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.build import build_bot
from runtime.cli import main
from runtime.dialog.messages import TextMessage
from runtime.testing import Conversation
from runtime.testing.waits import TimerLoopError

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
        { text: "Ten minutes in: how is it going?" },
        { delay: "2h" },
        { text: "Two hours on: the tour is over." },
      ],
    },
    reminder: {
      triggers: [{ keywords: ["remind me"] }],
      steps: [{ text: "I will remind you in an hour." }, { delay: "1h", keep: true },
              { text: "Here is your reminder." }],
    },
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
      steps: [{ text: "A human will answer." }, { handover: { to: "inbox", timeout: "2h" } }],
    },
    fallback: { steps: [{ text: "Pardon?" }] },
  },
}"""
WELCOME = '{ text: "Welcome to the tour." }'
TEN_MINUTES = '{ text: "Ten minutes in: how is it going?" }'
TWO_HOURS = '{ text: "Two hours on: the tour is over." }'
NUDGE = '{ text: "Still there? Type signup to try again." }'


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "flows.json5").write_text(FLOWS, encoding="utf-8")
    path = tmp_path / "config.json5"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def run_tests(
    config: Path, turns: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[str], str]:
    """One test of these turns through `runtime test`: exit code, stdout lines, stderr."""
    path = config.parent / "waits.json5"
    path.write_text(f'{{ tests: [{{ name: "waits", turns: [{turns}] }}] }}', encoding="utf-8")
    code = main(["test", "-c", str(config), str(path)])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def passes(config: Path, turns: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = run_tests(config, turns, capsys)
    assert (code, lines) == (0, ["PASS waits", "1 passed, 0 failed"]), "\n".join(lines) + err


def test_the_rest_of_a_flow_comes_after_its_delay_and_not_before(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passes(
        config,
        f"""{{ user: "tour", expect: [{WELCOME}] }},
        {{ wait: "9m", expect: [] }},
        {{ wait: "1m", expect: [{TEN_MINUTES}] }},
        {{ wait: "119m" }},
        {{ wait: "1m", expect: [{TWO_HOURS}] }}""",
        capsys,
    )


def test_one_wait_fires_every_timer_due_in_it_in_order(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passes(
        config,
        f"""{{ user: "tour", expect: [{WELCOME}] }},
        {{ wait: "3d", expect: [{TEN_MINUTES}, {TWO_HOURS}] }},
        {{ wait: "3d", expect: [] }}""",
        capsys,
    )


def test_an_ask_s_on_timeout_runs_after_the_timeout_and_not_before(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passes(
        config,
        f"""{{ user: "signup", expect: [{{ text: "Your email?" }}] }},
        {{ wait: "59m", expect: [] }},
        {{ wait: "1m", expect: [{NUDGE}] }},
        {{ user: "me@example.com", expect: [{{ text: "Pardon?" }}] }}""",
        capsys,
    )


def test_an_answer_before_the_timeout_cancels_it(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passes(
        config,
        """{ user: "signup", expect: [{ text: "Your email?" }] },
        { wait: "30m", expect: [] },
        { user: "me@example.com", expect: [{ text: "Thanks, me@example.com." }],
          vars: { email: "me@example.com" } },
        { wait: "1d", expect: [] }""",
        capsys,
    )


def test_a_wrong_answer_starts_the_timeout_again(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passes(
        config,
        f"""{{ user: "signup", expect: [{{ text: "Your email?" }}] }},
        {{ wait: "50m", expect: [] }},
        {{ user: "not an email", expect: [{{ text: "Your email?" }}] }},
        {{ wait: "50m", expect: [] }},
        {{ wait: "10m", expect: [{NUDGE}] }}""",
        capsys,
    )


def test_a_flow_the_person_starts_cancels_a_delay_unless_it_keeps(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passes(
        config,
        f"""{{ user: "tour", expect: [{WELCOME}] }},
        {{ user: "remind me", expect: [{{ text: "I will remind you in an hour." }}] }},
        {{ wait: "30m", expect: [] }},
        {{ user: "hello", expect: [{{ text: "Pardon?" }}] }},
        {{ wait: "30m", expect: [{{ text: "Here is your reminder." }}] }},
        {{ wait: "3d", expect: [] }}""",
        capsys,
    )


def test_a_handover_s_timeout_gives_the_thread_back_to_the_bot(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passes(
        config,
        """{ user: "human", expect: [{ text: "A human will answer." }, { handover: "inbox" }] },
        { user: "hello?", expect: [] },
        { wait: "119m", expect: [] },
        { wait: "1m", expect: [{ handover: "back" }] },
        { user: "hello?", expect: [{ text: "Pardon?" }] }""",
        capsys,
    )


def test_a_delay_falling_due_while_a_human_has_the_thread_is_dropped(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passes(
        config,
        """{ user: "remind me", expect: [{ text: "I will remind you in an hour." }] },
        { user: "human", expect: [{ text: "A human will answer." }, { handover: "inbox" }] },
        { wait: "3h", expect: [{ handover: "back" }] },
        { wait: "3d", expect: [] }""",
        capsys,
    )


def test_what_a_wait_sent_is_checked_and_a_difference_shown_as_a_diff(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, _ = run_tests(
        config,
        f"""{{ user: "tour", expect: [{WELCOME}] }},
        {{ wait: "10m", expect: [] }}""",
        capsys,
    )
    assert code == 1
    path = config.parent / "waits.json5"
    assert lines == [
        "FAIL waits",
        f"{path}: tests.0.turns.1: test 'waits', turn 2 (wait: 10m):",
        "--- expected",
        "+++ actual",
        "-(nothing)",
        '+text: "Ten minutes in: how is it going?"',
        "",
        "0 passed, 1 failed",
    ]


def test_a_take_back_not_expected_shows_in_the_diff(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, _ = run_tests(
        config,
        """{ user: "human", expect: [{ text: "A human will answer." }, { handover: "inbox" }] },
        { wait: "1d", expect: [{ text: "Welcome back!" }] }""",
        capsys,
    )
    assert code == 1
    assert lines[2:6] == [
        "--- expected",
        "+++ actual",
        '-text: "Welcome back!"',
        "+handover: back to the bot",
    ]


def test_a_wait_that_is_no_duration_is_an_error_naming_the_file_and_key_path(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, err = run_tests(
        config,
        """{ wait: "10 minutes" }, { wait: 10 }, { wait: "0s" }, { user: "hi" }""",
        capsys,
    )
    assert (code, lines) == (2, [])
    path = config.parent / "waits.json5"
    assert err.splitlines() == [
        f"{path}: tests.0.turns.0.wait: invalid value '10 minutes': a duration: a number and"
        ' its unit (s, m, h or d), such as "30s", "10m", "2h" or "3d"',
        f'{path}: tests.0.turns.1.wait: expected a duration with its unit, such as "30s", "10m",'
        ' "2h" or "3d", got an integer',
        f"{path}: tests.0.turns.2.wait: is 0s, no wait at all; write how long to wait, such as"
        ' "10m"',
        # only a wait may leave `expect` out (it then expects nothing)
        f"{path}: tests.0.turns.3.expect: is required: add `expect` (a list)",
    ]


def test_conversation_wait_returns_the_turns_it_fired(config: Path) -> None:
    chat = Conversation(build_bot(config, offline=True).bot)
    chat.say("tour")
    [delay] = chat.timers
    assert (delay.kind, delay.where, delay.due_at - chat.now) == (
        "delay",
        "flows.tour.steps.1",
        600,
    )
    assert chat.wait(599) == ()
    [rest] = chat.wait("1s")
    assert rest.messages == (TextMessage(text="Ten minutes in: how is it going?"),)
    assert [timer.where for timer in chat.timers] == ["flows.tour.steps.3"]
    with pytest.raises(ValueError, match="a wait of '2 hours' is not one"):
        chat.wait("2 hours")


LOOP = """{
  flows: {
    ping: {
      triggers: [{ keywords: ["ping"] }],
      steps: [{ delay: "1s" }, { text: "ping" }, { goto: "ping", when: "vars.more" }],
    },
    start: { triggers: [{ keywords: ["start"] }], steps: [{ set: { more: true } }] },
  },
}"""


def test_a_delay_in_a_loop_stops_the_wait_and_fails_the_turn_saying_so(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (config.parent / "flows" / "flows.json5").write_text(LOOP, encoding="utf-8")
    chat = Conversation(build_bot(config, offline=True).bot)
    chat.say("start")
    chat.say("ping")
    with pytest.raises(TimerLoopError, match="more than 1000 timers fell due within a wait"):
        chat.wait("1d")
    code, lines, _ = run_tests(
        config,
        """{ user: "start", expect: [] }, { user: "ping", expect: [] }, { wait: "1d" }""",
        capsys,
    )
    assert code == 1
    assert lines[1:3] == [
        f"{config.parent / 'waits.json5'}: tests.0.turns.2: test 'waits', turn 3 (wait: 1d):",
        "more than 1000 timers fell due within a wait of 1d (the last at flows.ping.steps.0:"
        " a delay in a loop?); wait less at a time",
    ]
