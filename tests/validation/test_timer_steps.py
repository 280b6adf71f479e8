"""The steps that wait, as flow files write them: `delay` (with `keep`), an ask's `timeout`
and `on_timeout`, a handover's `timeout`. What they compile to, and `runtime validate`'s
error for each mistake, at its key path, with the fix."""

from __future__ import annotations

import json

import pytest

from runtime.bot import AskStep, DelayStep, HandoverStep, Step
from runtime.cli import main
from tests.validation.conftest import BotFolder, one_flow
from tests.validation.test_http_step import validate

FILE = "flows/main.json5"
STEP = f"{FILE}: flows.main.steps.0"
DURATION = 'a duration: a number and its unit (s, m, h or d), such as "30s", "10m", "2h" or "3d"'
ASK = 'ask: "Your email?", save_as: "email"'
# the flow an ask's on_timeout runs
NUDGE = '{ flows: { nudge: { steps: [{ text: "Still there?" }] } } }'


def test_the_waits_compile_to_seconds_with_their_flows(bot: BotFolder) -> None:
    bot.flow(
        one_flow(
            '{ delay: "90m" }, { delay: "1.5h", keep: true },'
            f' {{ {ASK}, timeout: "2h", on_timeout: "nudge" }},'
            f' {{ {ASK}, timeout: "30s" }},'
            ' { handover: { to: "inbox", timeout: "7d" } }'
        )
    )
    bot.flow(NUDGE, name="nudge.json5")
    steps = bot.build().bot.flows["main"].steps
    assert [waits_of(step) for step in steps] == [
        ("delay", 5400.0, False),
        ("delay", 5400.0, True),
        ("ask", 7200.0, "nudge"),
        ("ask", 30.0, None),
        ("handover", 604800.0),
    ]


def test_steps_without_waits_compile_without_timeouts(bot: BotFolder) -> None:
    bot.flow(one_flow(f'{{ {ASK} }}, {{ handover: {{ to: "inbox" }} }}'))
    steps = bot.build().bot.flows["main"].steps
    assert [waits_of(step) for step in steps] == [("ask", None, None), ("handover", None)]


def waits_of(step: Step) -> tuple[object, ...]:
    """What a compiled step holds about waiting."""
    if isinstance(step, DelayStep):
        return ("delay", step.seconds, step.keep)
    if isinstance(step, AskStep):
        return ("ask", step.timeout, step.on_timeout)
    if isinstance(step, HandoverStep):
        return ("handover", step.timeout)
    return (type(step).__name__,)


def test_a_flow_that_waits_validates(bot: BotFolder, capsys: pytest.CaptureFixture[str]) -> None:
    bot.flow(
        one_flow(
            '{ text: "Hi" }, { delay: "2h", when: "vars.busy" }, { delay: "10m", keep: true },'
            f' {{ {ASK}, timeout: "1h", on_timeout: "nudge" }},'
            ' { handover: { to: "inbox", timeout: "3d" } }'
        )
    )
    bot.flow(NUDGE, name="nudge.json5")
    assert validate(bot, capsys) == (0, [])


ERRORS = {
    "a bare number": (
        "{ delay: 2 }",
        f'{STEP}.delay: expected a duration with its unit, such as "30s", "10m", "2h" or "3d",'
        " got an integer",
    ),
    "words": ('{ delay: "2 hours" }', f"{STEP}.delay: invalid value '2 hours': {DURATION}"),
    "a negative delay": ('{ delay: "-5m" }', f"{STEP}.delay: invalid value '-5m': {DURATION}"),
    "no delay at all": (
        '{ delay: "0s" }',
        f'{STEP}.delay: is 0s, no wait at all; write how long to wait, such as "10m"',
    ),
    "keep not a boolean": (
        '{ delay: "1h", keep: "yes" }',
        f"{STEP}.keep: expected true or false, got a string",
    ),
    "keep on a text": (
        '{ text: "Hi", keep: true }',
        f"{STEP}.keep: is only used with `delay`, not with `text`",
    ),
    "an ask timeout in words": (
        f'{{ {ASK}, timeout: "a day" }}',
        f"{STEP}.timeout: invalid value 'a day': {DURATION}",
    ),
    "an ask timeout of nothing": (
        f'{{ {ASK}, timeout: "0m" }}',
        f'{STEP}.timeout: is 0m, no wait at all; write how long to wait, such as "10m"',
    ),
    "on_timeout without a timeout": (
        f'{{ {ASK}, on_timeout: "main" }}',
        f"{STEP}.on_timeout: runs when no answer came within the ask's timeout, and this ask"
        ' has no timeout; add timeout: "10m" (no answer within 10 minutes then runs this flow)',
    ),
    "on_timeout naming no flow": (
        f'{{ {ASK}, timeout: "1h", on_timeout: "mian" }}',
        f"{STEP}.on_timeout: no flow is named 'mian'; did you mean 'main'?",
    ),
    "a timeout on a text": (
        '{ text: "Hi", timeout: "1h" }',
        f"{STEP}.timeout: is only used with `ask`, not with `text`",
    ),
    "a handover's timeout beside it": (
        '{ handover: { to: "inbox" }, timeout: "1h" }',
        f"{STEP}.timeout: is only used with `ask`, not with `handover`; put it inside:"
        " { handover: { ..., timeout: ... } }",
    ),
    "a handover timeout past 7 days": (
        '{ handover: { to: "inbox", timeout: "8d" } }',
        f"{STEP}.handover.timeout: is 8d, longer than 7d: Meta lets the page's people answer a"
        " person only within 7 days of their last message (HUMAN_AGENT), so no thread stays"
        ' with them longer; write "7d" or less',
    ),
    "a handover timeout in hours past 7 days": (
        '{ handover: { to: "inbox", timeout: "169h" } }',
        f"{STEP}.handover.timeout: is 169h, longer than 7d: Meta lets the page's people answer"
        " a person only within 7 days of their last message (HUMAN_AGENT), so no thread stays"
        ' with them longer; write "7d" or less',
    ),
    "a handover timeout of nothing": (
        '{ handover: { to: "inbox", timeout: "0.0h" } }',
        f'{STEP}.handover.timeout: is 0.0h, no wait at all; write how long to wait, such as "10m"',
    ),
    "a handover timeout as a number": (
        '{ handover: { to: "inbox", timeout: 3600 } }',
        f'{STEP}.handover.timeout: expected a duration with its unit, such as "30s", "10m",'
        ' "2h" or "3d", got an integer',
    ),
    "a delay of centuries": (
        '{ delay: "40000d" }',
        f'{STEP}.delay: is 40000d, more than 100 years; write a wait such as "3d"',
    ),
}


@pytest.mark.parametrize(("step", "error"), ERRORS.values(), ids=ERRORS.keys())
def test_a_wrong_wait_is_an_error_at_its_key_path(
    bot: BotFolder, capsys: pytest.CaptureFixture[str], step: str, error: str
) -> None:
    bot.flow(one_flow(step))
    assert validate(bot, capsys) == (1, [error])


def test_every_wrong_wait_of_a_file_is_reported_at_once(
    bot: BotFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.flow(
        one_flow(
            '{ delay: "0s" }, { text: "Hi", keep: true },'
            f' {{ {ASK}, on_timeout: "main" }},'
            ' { handover: { to: "inbox", timeout: "30d" } }'
        )
    )
    code, lines = validate(bot, capsys)
    assert code == 1
    assert [line.split(": ")[1] for line in lines] == [
        "flows.main.steps.0.delay",
        "flows.main.steps.1.keep",
        "flows.main.steps.2.on_timeout",
        "flows.main.steps.3.handover.timeout",
    ]


def test_validate_json_names_the_wait_and_its_fix(
    bot: BotFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.flow(one_flow('{ delay: "0s" }'))
    assert main(["validate", "-c", "config.json5", "--json"]) == 1
    [problem] = [item for item in json.loads(capsys.readouterr().out) if item["file"] == FILE]
    assert problem["path"] == "flows.main.steps.0.delay"
    assert problem["severity"] == "error"
    assert 'such as "10m"' in problem["message"]
