"""`runtime test` and `runtime chat` take the person's profile from the test or the command
line, never from Meta: run as a user runs them, real subprocesses on the quickstart."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.graph_api import FakeGraphAPI
from tests.testing.quickstart import copy_quickstart, run_runtime

TESTS = """{ tests: [
  { name: "by name", user: { first_name: "Ada", locale: "en_GB", timezone: 1 }, turns: [
    { user: "hi", expect: [{ text: "Hi Ada! What do you need?" }] },
  ] },
  { name: "no profile", turns: [
    { user: "hi", expect: [{ text: "Hi there! What do you need?" }] },
  ] },
] }"""


def test_runtime_test_greets_by_the_name_the_test_gives(
    tmp_path: Path, graph: FakeGraphAPI
) -> None:
    config = copy_quickstart(tmp_path, tests=False)
    graph.people["test-user"] = {"first_name": "Meta's name"}
    (tmp_path / "profiles.json5").write_text(TESTS)
    result = run_runtime(
        "test",
        "-c",
        str(config),
        str(tmp_path / "profiles.json5"),
        env={"MESSENGER_GRAPH_API_BASE": graph.base_url},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == ["PASS by name", "PASS no profile", "2 passed, 0 failed"]
    assert graph.requests == []


def test_a_wrong_profile_field_in_a_test_is_named_with_its_key_path(tmp_path: Path) -> None:
    config = copy_quickstart(tmp_path, tests=False)
    (tmp_path / "profiles.json5").write_text(
        TESTS.replace('first_name: "Ada"', 'firstName: "Ada"').replace(
            "timezone: 1", 'timezone: "CET"'
        )
    )
    result = run_runtime("test", "-c", str(config), str(tmp_path / "profiles.json5"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{tmp_path / 'profiles.json5'}: tests.0.user.firstName: unknown key;"
        " did you mean `first_name`?",
        f"{tmp_path / 'profiles.json5'}: tests.0.user.timezone: expected a number, got a string",
    ]


def test_runtime_chat_greets_by_the_name_given_with_user(
    tmp_path: Path, graph: FakeGraphAPI
) -> None:
    config = copy_quickstart(tmp_path, tests=False)
    graph.people["chat-local"] = {"first_name": "Meta's name"}
    result = run_runtime(
        "chat",
        "-c",
        str(config),
        "--user",
        "first_name=Ada",
        "--user",
        "timezone=-7",
        input="hi\n",
        env={"MESSENGER_GRAPH_API_BASE": graph.base_url},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "as chat-local (profile: first_name=Ada timezone=-7)" in lines[0]
    assert lines[1] == "bot: Hi Ada! What do you need?"
    assert graph.requests == []


def test_runtime_chat_without_user_knows_no_name(tmp_path: Path) -> None:
    config = copy_quickstart(tmp_path, tests=False)
    result = run_runtime("chat", "-c", str(config), input="hi\n")
    assert result.stdout.splitlines()[1] == "bot: Hi there! What do you need?"


def test_runtime_chat_refuses_a_field_meta_does_not_give(tmp_path: Path) -> None:
    config = copy_quickstart(tmp_path, tests=False)
    result = run_runtime("chat", "-c", str(config), "--user", "frist_name=Ada", input="hi\n")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "runtime chat: error: argument --user: no profile field 'frist_name'; did you mean"
        " first_name? the fields are first_name, last_name, name, profile_pic, locale, timezone"
    )
    assert result.stdout == ""
