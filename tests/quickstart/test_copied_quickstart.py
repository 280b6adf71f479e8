"""`cp -r examples/quickstart mybot`: the copy is a whole bot, wherever it lands."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runtime.build import build_bot
from tests.testing.quickstart import QUICKSTART, quickstart_results, run_runtime


@pytest.fixture
def mybot(tmp_path: Path) -> Path:
    """The quickstart copied as `cp -r` copies it: a link stays a link (and would break)."""
    copy = tmp_path / "mybot"
    shutil.copytree(QUICKSTART, copy, symlinks=True, ignore=shutil.ignore_patterns(".runtime"))
    return copy


def test_the_quickstart_holds_no_link(mybot: Path) -> None:
    links = [path for path in mybot.rglob("*") if path.is_symlink()]
    assert links == []


def test_a_copy_validates(mybot: Path) -> None:
    result = run_runtime("validate", "-c", "config.json5", cwd=mybot)
    assert result.returncode == 0, result.stderr
    # the token written in the config, and ORDERS_TOKEN when this environment has none
    built = build_bot(QUICKSTART / "config.json5")
    flows, warnings = len(built.bot.flows), len(built.warnings)
    plural = "" if warnings == 1 else "s"
    assert warnings >= 1
    assert result.stdout == (
        f"config.json5: valid (1 account, {flows} flows, {warnings} warning{plural})\n"
    )


def test_a_copy_passes_its_own_tests(mybot: Path) -> None:
    result = run_runtime("test", "-c", "config.json5", cwd=mybot)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == quickstart_results()


def test_a_copy_chats_and_keeps_its_state_in_the_copy(mybot: Path) -> None:
    result = run_runtime("chat", "-c", str(mybot / "config.json5"), input="hi\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1] == "bot: Hi there! What do you need?"
    assert (mybot / ".runtime" / "state.db").is_file()
