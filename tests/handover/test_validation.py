"""`runtime validate` on handover steps: every mistake with its file, key path and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.cli import main
from tests.messenger.conftest import single_page, write_bot


def validate(tmp_path: Path, steps: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`runtime validate` of a bot whose `human` flow has `steps`, run from its folder: the
    exit code and what it printed, but for the token warning every test bot has."""
    flows = f"""{{
  flows: {{
    human: {{
      triggers: [{{ keywords: ["human"] }}],
      steps: [
        {steps}
      ],
    }},
  }},
}}
"""
    write_bot(tmp_path, single_page(dmPolicy='"pairing"'), flows=flows)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        code = main(["validate", "-c", "config.json5"])
    lines = capsys.readouterr().err.splitlines(keepends=True)
    return code, "".join(line for line in lines if "pageAccessToken" not in line)


def test_inbox_an_app_id_and_a_templated_note_are_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = validate(
        tmp_path,
        """{ text: "Passing you on." },
        { handover: { to: 1234567890123456, note: "{{ user.psid }}" }, when: "vars.vip" },
        { handover: { to: "inbox" } },""",
        capsys,
    )
    assert (code, err) == (0, "")


def test_an_unknown_target_says_what_is_expected_and_what_was_meant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = validate(tmp_path, '{ handover: { to: "Inbox " } },', capsys)
    assert code == 1
    assert err == (
        "flows/main.json5:6:23: flows.human.steps.0.handover.to: unknown target 'Inbox ';"
        ' expected "inbox" (the Page Inbox, where the page\'s people answer) or the numeric id'
        ' of the app to pass the thread to; did you mean "inbox"?\n'
    )


def test_a_handover_without_to_says_how_to_add_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = validate(tmp_path, '{ handover: { note: "order #12" } },', capsys)
    assert code == 1
    assert 'flows.human.steps.0.handover.to: is required: add to: "inbox"' in err


def test_steps_after_a_handover_never_run_and_say_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = validate(
        tmp_path,
        """{ handover: { to: "inbox" } },
        { text: "A human will answer soon." },
        { text: "Bye." },""",
        capsys,
    )
    assert code == 1
    assert err == (
        "flows/main.json5:7:9: flows.human.steps.1: never runs: the handover at"
        " flows.human.steps.0 ends the turn, and the bot says nothing more until the thread"
        " comes back; move this step (and those after it) before the handover, or give the"
        " handover a `when`\n"
    )


def test_a_note_over_meta_limit_and_quick_replies_on_a_handover_are_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long_note = "x" * 1001
    code, err = validate(
        tmp_path,
        f'{{ handover: {{ to: "inbox", note: "{long_note}" }},'
        ' quick_replies: [{ title: "Back", payload: "BACK" }] },',
        capsys,
    )
    assert code == 1
    lines = err.splitlines()
    assert any(
        line.endswith(
            "flows.human.steps.0.handover.note: is 1001 characters; Messenger allows at most 1000"
        )
        for line in lines
    )
    assert any(
        line.endswith(
            "flows.human.steps.0.quick_replies: a `handover` step sends no message to put them on"
        )
        for line in lines
    )


def test_a_note_naming_an_unknown_variable_warns_like_any_template(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = validate(tmp_path, '{ handover: { to: "inbox", note: "{{ usr.psid }}" } },', capsys)
    assert code == 0
    assert "flows.human.steps.0.handover.note: warning: names 'usr'" in err
