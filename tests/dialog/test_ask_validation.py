"""`runtime validate` on the input contract: typed asks, retry caps and interrupt triggers."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.cli import main

CONFIG = (
    '{ channels: { messenger: { pageAccessToken: "t", verifyToken: "v", appSecret: "s",'
    ' pageId: "111" } }, flows: "flows/" }'
)


def validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flows: str
) -> tuple[int, list[str]]:
    """Exit code and the output lines of `runtime validate --offline` on one flow file."""
    (tmp_path / "flows").mkdir()
    (tmp_path / "config.json5").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "flows" / "main.json5").write_text(flows, encoding="utf-8")
    code = main(["validate", "--offline", "-c", str(tmp_path / "config.json5")])
    captured = capsys.readouterr()
    return code, (captured.out + captured.err).splitlines()


def one_flow(*steps: str, triggers: str = '[{ keywords: ["go"] }]') -> str:
    return (
        f"{{ flows: {{ main: {{ triggers: {triggers}, steps: [{', '.join(steps)}] }},"
        ' later: { triggers: [{ keywords: ["later"] }], steps: [{ text: "later" }] } } }'
    )


@pytest.mark.parametrize(
    ("step", "path", "message"),
    [
        (
            '{ ask: "Size?", save_as: "size", validate: "choice",'
            ' quick_replies: [{ content_type: "user_email" }] }',
            "flows.main.steps.0.validate",
            '"choice" takes one of the ask\'s quick replies as the answer, and this ask has no'
            " text quick replies",
        ),
        (
            '{ ask: "Size?", save_as: "size", validate: "choice" }',
            "flows.main.steps.0.validate",
            "this ask has no text quick replies",
        ),
        (
            '{ ask: "Email?", save_as: "email", max_retries: 3, on_fail: "latter" }',
            "flows.main.steps.0.on_fail",
            "no flow is named 'latter'; did you mean 'later'?",
        ),
        (
            '{ ask: "Email?", save_as: "email", on_fail: "later" }',
            "flows.main.steps.0.on_fail",
            "runs after `max_retries` wrong answers, and this ask has no max_retries;"
            " add max_retries: 3",
        ),
        (
            '{ text: "Hi", max_retries: 2 }',
            "flows.main.steps.0.max_retries",
            "is only used with `ask`, not with `text`",
        ),
        (
            '{ goto: "later", on_fail: "later" }',
            "flows.main.steps.0.on_fail",
            "is only used with `ask`, not with `goto`",
        ),
        (
            '{ ask: "Zip?", save_as: "zip", max_retries: 0 }',
            "flows.main.steps.0.max_retries",
            "must be at least 1, got 0",
        ),
        (
            '{ ask: "Zip?", save_as: "zip", max_retries: true }',
            "flows.main.steps.0.max_retries",
            "expected an integer, got a boolean",
        ),
        (
            '{ ask: "When?", save_as: "day", validate: "dates" }',
            "flows.main.steps.0.validate",
            "unknown value 'dates'; expected one of email, number, phone, date, url, choice,"
            ' image, file, location, or { regex: "..." }; did you mean "date"?',
        ),
    ],
)
def test_a_wrong_ask_is_an_error_at_its_key_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], step: str, path: str, message: str
) -> None:
    code, lines = validate(tmp_path, capsys, one_flow(step))
    assert code == 1
    assert [line for line in lines if f": {path}: " in line and message in line], lines


def test_interrupt_must_be_true_or_false(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    triggers = '[{ keywords: ["go"], interrupt: "yes" }]'
    code, lines = validate(tmp_path, capsys, one_flow('{ text: "hi" }', triggers=triggers))
    assert code == 1
    assert any(
        "flows.main.triggers.0.interrupt: expected true or false, got a string" in line
        for line in lines
    ), lines


def test_typed_asks_a_retry_cap_and_interrupts_are_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flows = """{ flows: {
      main: {
        triggers: [{ keywords: ["go"] }, { keywords: ["stop", "menu"], interrupt: true },
                   { regex: "^cancel", interrupt: true }, { attachment: "image", interrupt: true },
                   { payload: "MAIN", interrupt: false }],
        steps: [
          { ask: "When?", save_as: "day", validate: "date", max_retries: 2, on_fail: "gave_up" },
          { ask: "Site?", save_as: "site", validate: "url" },
          { ask: "Plan?", save_as: "plan", validate: "choice",
            quick_replies: [{ title: "Basic", payload: "BASIC" }] },
          { ask: "Photo?", save_as: "photo", validate: "image", max_retries: 1 },
          { ask: "Form?", save_as: "form", validate: "file" },
          { ask: "Where?", save_as: "where", validate: "location" },
        ],
      },
      // reached only by on_fail: no "no trigger starts this flow" warning
      gave_up: { steps: [{ text: "Let's stop there." }] },
    } }"""
    code, lines = validate(tmp_path, capsys, flows)
    assert code == 0, lines
    assert not [line for line in lines if "gave_up" in line], lines
