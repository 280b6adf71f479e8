"""The quickstart sets its page up with a profile its flows answer; `runtime init`'s config
shows one, commented out, that works once uncommented."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from runtime.cli import main
from runtime.config.load import load_config
from runtime.messenger.endpoints import MESSENGER_PROFILE
from tests.fakes.graph_api import FakeGraphAPI

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart"
STARTER = ROOT / "runtime" / "starter"


def profile_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ".profile" in line]


def test_the_quickstart_profile_is_complete_and_every_payload_is_handled(
    capsys: pytest.CaptureFixture[str],
) -> None:
    profile = load_config(QUICKSTART / "config.json5", env={}).config.accounts["default"].profile
    assert profile is not None
    assert {"getStarted", "greeting", "iceBreakers", "persistentMenu"} <= set(profile)
    assert main(["validate", "-c", str(QUICKSTART / "config.json5")]) == 0
    assert profile_lines(capsys.readouterr().err) == []


def test_the_quickstart_sets_its_page_up_with_runtime_profile_sync(
    tmp_path: Path,
    graph: FakeGraphAPI,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MESSENGER_GRAPH_API_BASE", graph.base_url)
    shutil.copytree(QUICKSTART, tmp_path / "quickstart", ignore=shutil.ignore_patterns(".runtime"))
    config = str(tmp_path / "quickstart" / "config.json5")
    assert main(["profile", "sync", "-c", config]) == 0
    out = capsys.readouterr().out
    assert '  get_started: (not set) -> "GET_STARTED"' in out
    assert [call.method for call in graph.calls(MESSENGER_PROFILE)] == ["GET", "POST"]
    [page] = graph.page_profiles.values()
    assert set(page) == {"get_started", "greeting", "ice_breakers", "persistent_menu"}


def test_the_starter_s_commented_profile_is_valid_once_uncommented(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(STARTER / "flows", tmp_path / "flows")
    text = (STARTER / "config.json5").read_text(encoding="utf-8")
    block = re.search(r"^( *)// profile: \{\n(?:\1//.*\n)*?\1// \},\n", text, re.MULTILINE)
    assert block is not None, "the starter config shows no commented profile"
    uncommented = re.sub(r"^( *)// ", r"\1", block.group(0), flags=re.MULTILINE)
    (tmp_path / "config.json5").write_text(text.replace(block.group(0), uncommented))
    assert main(["validate", "-c", str(tmp_path / "config.json5")]) == 0
    assert profile_lines(capsys.readouterr().err) == []
    profile = load_config(tmp_path / "config.json5", env={}).config.accounts["default"].profile
    assert profile is not None
    assert profile["getStarted"] == "GET_STARTED"
