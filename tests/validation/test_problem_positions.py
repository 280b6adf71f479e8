"""Every problem `runtime validate` prints names the line and column of its key, whichever
check found it: `${VAR}`s, the schema, accounts, state, the `flows` setting, the compiler,
links between flow files, goto cycles, warnings. A key that is missing is placed at the
object it is to be added to."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from runtime.cli import main

CONFIG_WITH_ERRORS = """{
  channels: {
    messenger: {
      pageAccessToken: "${PAGE_TOKEN}",
      appSecret: "app-secret",
      dmPolicy: "closed",
      accounts: {
        shop: {
          pageId: "1",
        },
      },
    },
  },
  state: { backend: "redis" },
  flows: ["flows/", "more/*.json5"],
}
"""
CONFIG = """{
  channels: {
    messenger: {
      pageAccessToken: "t",
      appSecret: "s",
      verifyToken: "v",
      dmPolicy: "pairing",
      pairingMessage: "Hi, wait for approval",
    },
  },
  flows: "flows/",
}
"""
FLOW_A = """{
  flows: {
    a: {
      triggers: [
        { payload: "GO" },
        { regex: "(" },
      ],
      steps: [
        { text: "Pick", quick_replies: [{ title: "Yes" }] },
        { goto: "nowhere" },
      ],
    },
  },
}
"""
FLOW_B = """{
  flows: {
    b: {
      triggers: [{ payload: "GO" }],
      steps: [{ text: "Hi" }, { goto: "c" }],
    },
    c: { steps: [{ goto: "b" }] },
    a: { steps: [{ text: "again" }] },
  },
}
"""
WARNED_FLOW = """{
  flows: {
    a: {
      triggers: [{ keywords: ["hi"] }],
      steps: [
        { text: "Hello", quick_replies: [{ title: "Prices", payload: "PRICES" }] },
        { txt: "typo" },
      ],
    },
  },
}
"""
# `file:line:col: key.path:` at the start of a problem's line
WHERE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): (?P<path>[^: ]+):")


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PAGE_TOKEN", raising=False)
    monkeypatch.delenv("MESSENGER_PAGE_ACCESS_TOKEN", raising=False)
    (tmp_path / "flows").mkdir()
    return tmp_path


def where(output: str) -> list[tuple[str, int, int, str]]:
    """(file, line, column, key path) of each problem line; every line must have them."""
    found = []
    for text in output.splitlines():
        match = WHERE.match(text)
        assert match is not None, f"no file:line:col: key.path: in {text!r}"
        found.append((match["file"], int(match["line"]), int(match["column"]), match["path"]))
    return found


def test_each_config_problem_is_at_its_key(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "config.json5").write_text(CONFIG_WITH_ERRORS)
    (folder / "flows" / "a.json5").write_text('{ flows: { a: { steps: [{ text: "Hi" }] } } }')
    assert main(["validate", "-c", "config.json5"]) == 1
    assert where(capsys.readouterr().err) == [
        ("config.json5", 4, 7, "channels.messenger.pageAccessToken"),  # ${PAGE_TOKEN} unset
        ("config.json5", 6, 7, "channels.messenger.dmPolicy"),  # the schema
        # missing keys: at the object that lacks them
        ("config.json5", 8, 9, "channels.messenger.accounts.shop.verifyToken"),
        ("config.json5", 14, 3, "state.url"),
        ("config.json5", 15, 21, "flows.1"),  # matches no file
    ]


def test_each_flow_problem_is_at_its_key_in_its_file(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "config.json5").write_text(CONFIG)
    (folder / "flows" / "a.json5").write_text(FLOW_A)
    (folder / "flows" / "b.json5").write_text(FLOW_B)
    assert main(["validate", "-c", "config.json5"]) == 1
    assert sorted(where(capsys.readouterr().err)) == [
        ("flows/a.json5", 6, 11, "flows.a.triggers.1.regex"),  # does not compile
        ("flows/a.json5", 9, 41, "flows.a.steps.0.quick_replies.0.payload"),  # missing
        ("flows/a.json5", 10, 11, "flows.a.steps.1.goto"),  # to no flow
        ("flows/b.json5", 4, 20, "flows.b.triggers.0.payload"),  # claimed by a.json5
        ("flows/b.json5", 5, 33, "flows.b.steps.1.goto"),  # a cycle
        ("flows/b.json5", 8, 5, "flows.a"),  # defined in a.json5 already
    ]


def test_warnings_are_at_their_keys_too(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "config.json5").write_text(CONFIG)
    (folder / "flows" / "a.json5").write_text(WARNED_FLOW.replace('{ txt: "typo" },', ""))
    assert main(["validate", "-c", "config.json5"]) == 0
    assert where(capsys.readouterr().err) == [
        ("config.json5", 4, 7, "channels.messenger.pageAccessToken"),  # inline token
        ("config.json5", 8, 7, "channels.messenger.pairingMessage"),  # no {{ code }}
        ("flows/a.json5", 6, 61, "flows.a.steps.0.quick_replies.0.payload"),  # no trigger
    ]


def test_json_output_has_the_line_and_column(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "config.json5").write_text(CONFIG)
    (folder / "flows" / "a.json5").write_text(WARNED_FLOW)
    assert main(["validate", "--json", "-c", "config.json5"]) == 1
    [problem] = json.loads(capsys.readouterr().out)
    assert problem == {
        "file": "flows/a.json5",
        "path": "flows.a.steps.1.txt",
        "line": 7,
        "column": 11,
        "severity": "error",
        "message": "unknown key; did you mean `text`?",
    }


def test_other_commands_place_config_problems_too(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "config.json5").write_text(CONFIG.replace('"pairing"', '"closed"'))
    assert main(["pair", "list", "messenger", "-c", "config.json5"]) == 1
    assert where(capsys.readouterr().err) == [
        ("config.json5", 7, 7, "channels.messenger.dmPolicy"),
    ]
