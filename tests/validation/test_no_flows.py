"""A bot with no flow at all is never "valid": whether no file matches or no file defines one."""

from __future__ import annotations

import pytest

from runtime.cli import main
from tests.validation.conftest import BotFolder


def test_flow_files_that_define_no_flow_are_an_error(
    bot: BotFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.flow("{ flows: {} }", "a.json5")
    bot.flow("{ flows: {} }", "b.json5")
    assert main(["validate", "-c", "config.json5"]) == 1
    captured = capsys.readouterr()
    assert captured.err == (
        "config.json5:1:88: flows: its 2 flow files define no flow, so the bot would answer"
        " nothing;"
        ' add one, such as flows: { welcome: { triggers: [{ keywords: ["hi"] }],'
        ' steps: [{ text: "Hi!" }] } }\n'
    )
    assert captured.out == ""


def test_no_flow_file_at_all_is_an_error_not_a_valid_bot(
    bot: BotFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    (bot.root / "flows").mkdir()
    assert main(["validate", "--offline", "-c", "config.json5"]) == 1
    captured = capsys.readouterr()
    assert "config.json5:1:88: flows: 'flows/' matches no flow file: the folder" in captured.err
    assert "valid" not in captured.out
