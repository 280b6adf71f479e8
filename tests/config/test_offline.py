"""Offline commands need no production secrets; `runtime validate` says every file's problems.

`runtime chat` and `runtime test` load offline: no token, no appSecret and an unset `${VAR}`
are warnings, not reasons to refuse. `runtime validate --offline` checks all the rest;
plain `runtime validate` stays the production check.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from runtime.cli import main

# no page token, no appSecret, a verifyToken and a page name from unset variables
CONFIG = """{
  channels: { messenger: { verifyToken: "${BOT_VERIFY}", name: "${BOT_PAGE_NAME}",
                           dmPolicy: "allowlist", allowFrom: ["1"] } },
}"""
FLOW = """{ flows: {
  hello: { triggers: [{ keywords: ["hi"] }], steps: [{ text: "Hello from {{ account.name }}" }] },
} }"""
TEST = """{ tests: [{ name: "greets", turns: [
  { user: "hi", expect: [{ text: "Hello from <BOT_PAGE_NAME not set>" }] },
] }] }"""
NEEDS = "fine offline; `runtime serve` and plain `runtime validate` need it"
TOKEN_MISSING = (
    # a key that is missing is placed at the object it belongs in: `messenger` on line 2
    "config.json5:2:15: channels.messenger.pageAccessToken: {label}is required: account 'default'"
    " has no page access token, so no reply can be sent; set pageAccessToken or tokenFile (a"
    " file holding the token), or the environment variable MESSENGER_PAGE_ACCESS_TOKEN"
)
NO_APP_SECRET = (
    "config.json5:2:15: channels.messenger.appSecret: warning: not set for account 'default':"
    " webhook signatures are not verified, so anyone who finds the URL can post fake messages;"
    " set appSecret (App Dashboard > Settings > Basic)"
)


@pytest.fixture
def bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A bot folder with none of production's secrets, as the working directory."""
    for name in ("MESSENGER_PAGE_ACCESS_TOKEN", "BOT_VERIFY", "BOT_PAGE_NAME", "RUNTIME_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "config.json5", CONFIG)
    write(tmp_path / "flows" / "hello.json5", FLOW)
    write(tmp_path / "tests" / "hello.json5", TEST)
    return tmp_path


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_chat_runs_with_no_token_no_app_secret_and_unset_variables(
    bot: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("hi\n/quit\n"))
    assert main(["chat", "-c", "config.json5"]) == 0
    assert "bot: Hello from <BOT_PAGE_NAME not set>" in capsys.readouterr().out.splitlines()


def test_runtime_test_runs_with_no_token_no_app_secret_and_unset_variables(
    bot: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["test", "-c", "config.json5"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["PASS greets", "1 passed, 0 failed"]
    assert captured.err == ""


def test_validate_offline_exits_0_and_warns_what_production_needs(
    bot: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--offline", "-c", "config.json5"]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"config.json5:2:28: channels.messenger.verifyToken: warning: environment variable"
        f" BOT_VERIFY is not set: {NEEDS}",
        f"config.json5:2:58: channels.messenger.name: warning: environment variable BOT_PAGE_NAME"
        f" is not set: {NEEDS}",
        TOKEN_MISSING.format(label="warning: ") + f": {NEEDS}",
        NO_APP_SECRET,
    ]
    assert captured.out == "config.json5: valid offline (1 account, 1 flow, 4 warnings)\n"


def test_plain_validate_exits_1_for_the_same_bot(
    bot: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "-c", "config.json5"]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "config.json5:2:28: channels.messenger.verifyToken: environment variable BOT_VERIFY is not"
        " set",
        "config.json5:2:58: channels.messenger.name: environment variable BOT_PAGE_NAME is not set",
        TOKEN_MISSING.format(label=""),
    ]
    assert captured.out == ""


def test_validate_offline_json_lists_the_warnings(
    bot: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--offline", "--json", "-c", "config.json5"]) == 0
    problems = json.loads(capsys.readouterr().out)
    assert [(p["path"], p["severity"]) for p in problems] == [
        ("channels.messenger.verifyToken", "warning"),
        ("channels.messenger.name", "warning"),
        ("channels.messenger.pageAccessToken", "warning"),
        ("channels.messenger.appSecret", "warning"),
    ]


def test_a_missing_verify_token_is_a_warning_offline_only(
    bot: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(bot / "config.json5", '{ channels: { messenger: { pageAccessToken: "${TOKEN}" } } }')
    assert main(["validate", "--offline", "-c", "config.json5"]) == 0
    err = capsys.readouterr().err
    assert (
        "config.json5:1:15: channels.messenger.verifyToken: warning: is required: account 'default'"
        " has none, so Meta's webhook subscription handshake cannot succeed; set verifyToken to"
        f" a string of your choice, then enter the same in the App Dashboard: {NEEDS}"
    ) in err.splitlines()
    assert main(["validate", "-c", "config.json5"]) == 1
    assert "channels.messenger.verifyToken: is required" in capsys.readouterr().err


def test_a_token_file_that_is_not_there_is_a_warning_offline_and_exit_2_in_production(
    bot: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        bot / "config.json5",
        '{ channels: { messenger: { tokenFile: "/run/secrets/no-such-page-token",'
        ' verifyToken: "v", appSecret: "s" } } }',
    )
    assert main(["test", "-c", "config.json5"]) == 1  # it runs: the test's expected name fails
    assert "FAIL greets" in capsys.readouterr().out
    assert main(["validate", "--offline", "-c", "config.json5"]) == 0
    assert (
        "config.json5:1:28: channels.messenger.tokenFile: warning: cannot read"
        f" '/run/secrets/no-such-page-token': No such file or directory: {NEEDS}"
    ) in capsys.readouterr().err.splitlines()
    assert main(["validate", "-c", "config.json5"]) == 2


def test_an_unset_variable_the_schema_refuses_is_left_out_offline(
    bot: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        bot / "config.json5",
        '{ channels: { messenger: { pageAccessToken: "t", verifyToken: "v", appSecret: "s",'
        ' dmPolicy: "${POLICY}" } } }',
    )
    assert main(["validate", "--offline", "-c", "config.json5"]) == 0
    assert capsys.readouterr().err.splitlines()[0] == (
        f"config.json5:1:84: channels.messenger.dmPolicy: warning: environment variable POLICY is"
        f" not set: {NEEDS}"
    )


def test_one_run_reports_the_config_error_and_every_flow_file_error(
    bot: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        bot / "config.json5",
        '{ channels: { messenger: { pageAccessToken: "token", verifyToken: "verify",'
        ' appSecret: "secret", dmPolicy: "closed" } } }',
    )
    write(bot / "flows" / "a.json5", '{ flows: { a: { steps: [{ txt: "Hi" }] } } }')
    write(bot / "flows" / "b.json5", '{ flows: { b: { steps: [{ goto: "nowhere" }] } } }')
    write(bot / "flows" / "c.json5", "{ flows: { c: [ } }")
    assert main(["validate", "-c", "config.json5"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        "config.json5:1:98: channels.messenger.dmPolicy: unknown value 'closed'; expected one of"
        " pairing, allowlist, open, disabled"
    )
    assert "flows/a.json5:1:27: flows.a.steps.0.txt: unknown key; did you mean `text`?" in err
    assert "flows/b.json5:1:27: flows.b.steps.0.goto: no flow is named 'nowhere'" in err
    assert any(line.startswith("flows/c.json5:1:") for line in err)


def test_a_wrong_flows_setting_is_reported_and_the_flows_are_not_read(
    bot: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        bot / "config.json5",
        '{ channels: { messenger: { pageAccessToken: "t", verifyToken: "v", appSecret: "s" } },'
        " flows: 42 }",
    )
    write(bot / "flows" / "a.json5", '{ flows: { a: { steps: [{ txt: "Hi" }] } } }')
    assert main(["validate", "-c", "config.json5"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "config.json5:1:88: flows: expected a string or a list, got an integer; the flow files"
        " are not read until this is right"
    ]
    assert not any("flows/a.json5" in line for line in err)
