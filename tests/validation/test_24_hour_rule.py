"""Meta's 24-hour rule, checked by `runtime validate` (and by every build: `runtime serve`
will not start on such flows): a message that can only be sent 24 hours or more after the
person's last message is an error naming the step, the total and the waits that make it."""

from __future__ import annotations

import pytest

from tests.validation.conftest import BotFolder
from tests.validation.test_http_step import validate

ASK = 'save_as: "answer"'
RULE = "Meta allows a bot's messages within 24 hours of it"


def late(where: str, total: str, waits: str, file: str = "flows/main.json5") -> str:
    return (
        f"{file}: {where}: this message can only be sent {total} after the person's last"
        f" message ({waits}); {RULE}: shorten the waits"
    )


def flows(*definitions: str) -> str:
    return "{ flows: { " + ", ".join(definitions) + " } }"


def flow(name: str, steps: str, *, trigger: str | None = None) -> str:
    triggers = f'triggers: [{{ payload: "{trigger}" }}], ' if trigger else ""
    return f"{name}: {{ {triggers}steps: [{steps}] }}"


def test_a_23_hour_chain_of_waits_is_valid(
    bot: BotFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.flow(
        flows(
            flow(
                "main",
                '{ text: "Hi" }, { delay: "20h" }, { text: "Still there?" }, { delay: "2h" },'
                f' {{ ask: "Last call?", {ASK}, timeout: "59m", on_timeout: "bye" }}',
                trigger="GO",
            ),
            flow("bye", '{ text: "Bye for now" }'),
        )
    )
    assert validate(bot, capsys) == (0, [])


def test_twelve_hours_and_twelve_more_is_24_hours_too_late(
    bot: BotFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.flow(
        flows(
            flow(
                "main",
                '{ delay: "12h" }, { text: "Half a day" }, { delay: "12h" }, { text: "A day" }',
                trigger="GO",
            )
        )
    )
    assert validate(bot, capsys) == (
        1,
        [
            late(
                "flows.main.steps.3",
                "24h",
                "flows.main.steps.0 delay 12h + flows.main.steps.2 delay 12h",
            )
        ],
    )


def test_an_ask_timeout_adds_up_into_its_on_timeout_flow(
    bot: BotFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.flow(
        flows(
            flow(
                "nudge",
                '{ text: "Hi" }, { delay: "23h" },'
                f' {{ ask: "Still interested?", {ASK}, timeout: "2h", on_timeout: "remind" }}',
                trigger="GO",
            ),
            # started by its own trigger too: from there its message is on time, but not
            # when the ask's timeout runs it
            flow("remind", '{ set: { reminded: true } }, { text: "Last reminder" }', trigger="R"),
        ),
        name="nudge.json5",
    )
    assert validate(bot, capsys) == (
        1,
        [
            late(
                "flows.remind.steps.1",
                "25h",
                "flows.nudge.steps.1 delay 23h + flows.nudge.steps.2 ask timeout 2h",
                file="flows/nudge.json5",
            )
        ],
    )


def test_waits_add_up_across_gotos_and_files(
    bot: BotFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.flow(flows(flow("main", '{ delay: "20h" }, { goto: "later" }', trigger="GO")))
    bot.flow(
        flows(flow("later", '{ text: "Soon" }, { delay: "4.5h" }, { cards: [{ title: "Deal" }] }')),
        name="later.json5",
    )
    assert validate(bot, capsys) == (
        1,
        [
            late(
                "flows.later.steps.2",
                "24h 30m",
                "flows.main.steps.0 delay 20h + flows.later.steps.1 delay 4.5h",
                file="flows/later.json5",
            )
        ],
    )


def test_an_http_error_flow_carries_the_total_on(
    bot: BotFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.flow(
        flows(
            flow(
                "main",
                '{ delay: "1d" },'
                ' { http: { url: "https://api.example.com/x", on_error: "sorry" } }',
                trigger="GO",
            ),
            flow("sorry", '{ attachment: { type: "image", url: "https://example.com/s.png" } }'),
        )
    )
    assert validate(bot, capsys) == (
        1,
        [late("flows.sorry.steps.0", "24h", "flows.main.steps.0 delay 1d")],
    )


def test_an_answer_starts_the_count_again(
    bot: BotFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.flow(
        flows(
            flow(
                "main",
                f'{{ delay: "20h" }}, {{ ask: "Still there?", {ASK}, max_retries: 2,'
                ' on_fail: "help" }, { delay: "20h" }, { text: "Thanks for answering" }',
                trigger="GO",
            ),
            flow("help", '{ delay: "23h" }, { text: "Here is some help" }'),
        )
    )
    assert validate(bot, capsys) == (0, [])


def test_a_delay_with_a_when_may_be_skipped_so_it_counts_nothing(
    bot: BotFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.flow(
        flows(
            flow(
                "main",
                '{ delay: "1d", when: "not vars.answered" }, { delay: "23h" }, { text: "Hi" }',
                trigger="GO",
            )
        )
    )
    assert validate(bot, capsys) == (0, [])


def test_a_handover_timeout_sends_nothing_so_it_counts_nothing(
    bot: BotFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.flow(
        flows(
            flow(
                "main",
                '{ delay: "20h" }, { handover: { to: "inbox", timeout: "7d" } }',
                trigger="GO",
            )
        )
    )
    assert validate(bot, capsys) == (0, [])


def test_a_late_message_is_reported_once_with_the_first_late_step(
    bot: BotFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reached from two flows, it is one error; the messages after it are late for the same
    waits, and shortening them fixes all."""
    bot.flow(
        flows(
            flow("main", '{ delay: "25h" }, { goto: "later" }', trigger="GO"),
            flow("other", '{ delay: "26h" }, { goto: "later" }', trigger="OTHER"),
            flow("later", '{ text: "One" }, { text: "Two" }'),
        )
    )
    assert validate(bot, capsys) == (
        1,
        [late("flows.later.steps.0", "25h", "flows.main.steps.0 delay 25h")],
    )


def test_a_loop_of_delays_that_a_when_ends_is_valid(
    bot: BotFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.flow(
        flows(
            flow(
                "main",
                '{ text: "Tick" }, { set: { ticks: "{{ (vars.ticks or 0) + 1 }}" } },'
                ' { delay: "1h" }, { goto: "main", when: "vars.ticks | int < 3" }',
                trigger="GO",
            )
        )
    )
    assert validate(bot, capsys) == (0, [])


def test_a_loop_nothing_ends_is_24_hours_late_in_time(
    bot: BotFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a goto cycle (the delay ends the turn), but its message goes out again every hour
    for as long as the person is silent."""
    bot.flow(
        flows(
            flow("main", '{ goto: "poll" }', trigger="GO"),
            flow("poll", '{ text: "Any news?" }, { delay: "1h" }, { goto: "poll" }'),
        )
    )
    assert validate(bot, capsys) == (
        1,
        [
            "flows/main.json5: flows.poll.steps.0: this message is sent again after each"
            " flows.poll.steps.1 delay 1h for as long as the person says nothing, so in time it"
            f" goes out 24 hours or more after their last message; {RULE}: end the loop with"
            " a `when` on one of its steps (such as a count kept in vars)"
        ],
    )


def test_an_ask_that_times_out_into_itself_repeats_its_question(
    bot: BotFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.flow(
        flows(
            flow(
                "main",
                f'{{ ask: "Still there?", {ASK}, timeout: "30m", on_timeout: "main" }}',
                trigger="GO",
            )
        )
    )
    code, lines = validate(bot, capsys)
    assert code == 1
    assert lines == [
        "flows/main.json5: flows.main.steps.0: this message is sent again after each"
        " flows.main.steps.0 ask timeout 30m for as long as the person says nothing, so in"
        f" time it goes out 24 hours or more after their last message; {RULE}: end the loop"
        " with a `when` on one of its steps (such as a count kept in vars)"
    ]


def test_the_build_a_server_starts_from_refuses_a_late_message(bot: BotFolder) -> None:
    bot.flow(flows(flow("main", '{ delay: "2d" }, { text: "Hello again" }', trigger="GO")))
    assert bot.errors() == [late("flows.main.steps.1", "48h", "flows.main.steps.0 delay 2d")]


def test_waits_with_decimals_add_up_to_a_day_exactly(
    bot: BotFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.flow(
        flows(
            flow(
                "main",
                '{ delay: "12.1h" }, { delay: "11.9h" }, { text: "A day later" }',
                trigger="GO",
            )
        )
    )
    assert validate(bot, capsys) == (
        1,
        [
            late(
                "flows.main.steps.2",
                "24h",
                "flows.main.steps.0 delay 12.1h + flows.main.steps.1 delay 11.9h",
            )
        ],
    )
