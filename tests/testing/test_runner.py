"""`runtime test`, run as a user runs it: a real subprocess against real flow files."""

from __future__ import annotations

from pathlib import Path

from tests.testing.quickstart import QUICKSTART, copy_quickstart, quickstart_results, run_runtime

QUICKSTART_CONFIG = QUICKSTART / "config.json5"
GREETING = "Hi there! What do you need?"
MENU = "[Pricing] [Our products] [Sign up] [Talk to a human]"

# a bot with one flow that says nothing (only a `set`), for `expect: []`
QUIET_CONFIG = """{
  channels: { messenger: { pageAccessToken: "t", verifyToken: "v", dmPolicy: "open" } },
}"""
QUIET_FLOWS = """{
  flows: {
    quiet: { triggers: [{ keywords: ["shh"] }], steps: [{ set: { quiet: true } }] },
    fallback: { steps: [{ text: "Pardon?" }] },
  },
}"""


def write_tests(folder: Path, text: str, name: str = "conversation.json5") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def quiet_bot(tmp_path: Path) -> Path:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "quiet.json5").write_text(QUIET_FLOWS, encoding="utf-8")
    config = tmp_path / "config.json5"
    config.write_text(QUIET_CONFIG, encoding="utf-8")
    return config


def test_the_quickstart_tests_pass() -> None:
    result = run_runtime("test", "-c", str(QUICKSTART_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines == quickstart_results()
    assert "PASS welcome" in lines
    assert "PASS signup" in lines


def test_a_wrong_text_fails_with_a_diff_naming_the_test_and_the_turn(tmp_path: Path) -> None:
    path = write_tests(
        tmp_path,
        """{ tests: [
          { name: "greets", turns: [
            { user: "hi", expect: [{ text: "Hi there! What do you need?" }] },
          ] },
          { name: "broken", turns: [
            { user: "hi", expect: [{ text: "Hi there! What do you need?" }] },
            { tap: "HUMAN", expect: [{ text: "A human will call you.", quick_replies: [] }] },
          ] },
        ] }""",
    )
    result = run_runtime("test", "-c", str(QUICKSTART_CONFIG), str(path))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "PASS greets"
    assert lines[1] == "FAIL broken"
    assert lines[2] == f"{path}: tests.1.turns.1: test 'broken', turn 2 (tap: HUMAN):"
    assert lines[3:7] == [
        "--- expected",
        "+++ actual",
        '-text: "A human will call you."',
        '+text: "OK! Someone from our team will answer you here soon."',
    ]
    assert lines[-1] == "1 passed, 1 failed"


def test_a_test_stops_at_its_first_failing_turn(tmp_path: Path) -> None:
    path = write_tests(
        tmp_path,
        """{ tests: [{ name: "two wrongs", turns: [
          { user: "hi", expect: [] },
          { tap: "HUMAN", expect: [{ text: "nope" }] },
        ] }] }""",
    )
    result = run_runtime("test", "-c", str(QUICKSTART_CONFIG), str(path))
    assert result.returncode == 1
    assert 'turn 1 (user: "hi")' in result.stdout
    assert "turn 2" not in result.stdout
    # the bot was expected to say nothing and said something
    assert "-(nothing)" in result.stdout
    assert f'+text: "{GREETING}"  {MENU}' in result.stdout


def test_an_invalid_test_file_exits_2_with_every_problem_as_file_key_path_message(
    tmp_path: Path,
) -> None:
    path = write_tests(
        tmp_path,
        """{ tests: [
          { name: "a", turns: [
            { user: "hi", tap: "HUMAN", expect: [] },
            { attach: "photo", expect: [] },
            { user: "hi", url: "https://x", expct: [] },
            { user: "hi", expect: [
              { quick_replies: ["A"] }, { text: "x", cards: ["y"] }, { text: 3 },
            ] },
          ] },
          { name: "a", turns: [{ tap: "HUMAN", expect: [{ buttons: { txt: "x" } }] }] },
        ] }""",
    )
    result = run_runtime("test", "-c", str(QUICKSTART_CONFIG), str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    one_kind = "an expected message needs exactly one of text, buttons, cards, attachment, handover"
    assert result.stderr.splitlines() == [
        f"{path}: tests.0.turns.0: a turn needs exactly one of user, tap, attach, wait;"
        " has user, tap",
        f"{path}: tests.0.turns.1.attach: unknown value 'photo'; expected one of image, video, "
        "audio, file, location, fallback",
        f"{path}: tests.0.turns.2.expct: unknown key; did you mean `expect`?",
        f"{path}: tests.0.turns.2.expect: is required: add `expect` (a list)",
        f"{path}: tests.0.turns.2.url: is only used with `attach`",
        f"{path}: tests.0.turns.3.expect.0: {one_kind}; has none",
        f"{path}: tests.0.turns.3.expect.1: {one_kind}; has text, cards",
        f"{path}: tests.0.turns.3.expect.2.text: expected a string, got an integer",
        f"{path}: tests.1.name: test 'a' is already defined at tests.0",
        f"{path}: tests.1.turns.0.expect.0.buttons.txt: unknown key; did you mean `text`?",
    ]


def test_an_invalid_test_file_runs_no_test(tmp_path: Path) -> None:
    write_tests(tmp_path, '{ tests: [{ name: "fine", turns: [{ tap: "HUMAN", expect: [] }] }] }')
    write_tests(tmp_path, "{ tests: [] }", name="empty.json5")
    result = run_runtime("test", "-c", str(QUICKSTART_CONFIG), str(tmp_path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"{tmp_path / 'empty.json5'}: tests: must have at least 1 ")


def test_a_syntax_error_or_a_missing_file_exits_2(tmp_path: Path) -> None:
    broken = write_tests(tmp_path, "{ tests: [,] }")
    result = run_runtime("test", "-c", str(QUICKSTART_CONFIG), str(broken))
    assert result.returncode == 2
    assert result.stderr.startswith(f"{broken}:1:")
    assert "JSON5 syntax error" in result.stderr

    missing = tmp_path / "nope.json5"
    result = run_runtime("test", "-c", str(QUICKSTART_CONFIG), str(missing))
    assert result.returncode == 2
    assert result.stderr.strip() == f"{missing}: cannot read: No such file or directory"


def test_no_tests_folder_next_to_the_config_exits_2(tmp_path: Path) -> None:
    config = copy_quickstart(tmp_path, tests=False)
    result = run_runtime("test", "-c", str(config))
    assert result.returncode == 2
    assert "no `tests` folder next to the config file" in result.stderr


def test_an_unknown_account_exits_2(tmp_path: Path) -> None:
    path = write_tests(
        tmp_path,
        '{ tests: [{ name: "a", account: "support", turns: [{ tap: "HUMAN", expect: [] }] }] }',
    )
    result = run_runtime("test", "-c", str(QUICKSTART_CONFIG), str(path))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"{path}: tests.0.account: no account 'support' in the config; "
        "the enabled accounts are 'default'"
    )


def test_loose_expectations_compare_only_what_they_name(tmp_path: Path) -> None:
    path = write_tests(
        tmp_path,
        """{ tests: [{ name: "loose", turns: [
          { user: "hi", expect: [{ text: "Hi there! What do you need?" }] },
          { tap: "PRICING", expect: [{ buttons: { buttons: ["See plans", "Back"] } }] },
          { tap: "PRICING", expect: [{ buttons: {} }] },
          { tap: "PRODUCTS", expect: [
            { text: "Here is what we make:" }, { cards: ["Starter kit", { title: "Pro kit" }] },
          ] },
          { attach: "image", expect: [{ text: "Nice picture!" }, { attachment: {} }] },
          { attach: "image", expect: [
            { text: "Nice picture!" }, { attachment: { type: "image" } },
          ] },
        ] }] }""",
    )
    result = run_runtime("test", "-c", str(QUICKSTART_CONFIG), str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == ["PASS loose", "1 passed, 0 failed"]


def test_the_number_of_messages_always_counts(tmp_path: Path) -> None:
    path = write_tests(
        tmp_path,
        """{ tests: [{ name: "short", turns: [
          { tap: "PRODUCTS", expect: [{ text: "Here is what we make:" }] },
        ] }] }""",
    )
    result = run_runtime("test", "-c", str(QUICKSTART_CONFIG), str(path))
    assert result.returncode == 1
    assert '+cards: "Starter kit" ("Everything you need to begin.") | "Pro kit"' in result.stdout


def test_expect_nothing(tmp_path: Path) -> None:
    config = quiet_bot(tmp_path)
    (tmp_path / "tests").mkdir()
    write_tests(
        tmp_path / "tests",
        """{ tests: [
          { name: "quiet", turns: [{ user: "shh", expect: [], vars: { quiet: true } }] },
          { name: "not quiet", turns: [{ user: "shh", expect: [{ text: "Pardon?" }] }] },
        ] }""",
    )
    result = run_runtime("test", "-c", str(config))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "PASS quiet"
    assert lines[1] == "FAIL not quiet"
    assert '-text: "Pardon?"' in lines
    assert "+(nothing)" in lines
    assert lines[-1] == "1 passed, 1 failed"


def test_session_variables_can_be_expected(tmp_path: Path) -> None:
    path = write_tests(
        tmp_path,
        """{ tests: [{ name: "vars", turns: [
          { tap: "SIGNUP", expect: [{ text: "What's your email address?" }], vars: { email: "x" } },
        ] }] }""",
    )
    result = run_runtime("test", "-c", str(QUICKSTART_CONFIG), str(path))
    assert result.returncode == 1
    assert '-vars.email = "x"' in result.stdout.splitlines()
    assert "+vars.email = (not set)" in result.stdout.splitlines()


def test_runs_offline_and_writes_no_state(tmp_path: Path) -> None:
    config = copy_quickstart(tmp_path)
    unreachable = "http://127.0.0.1:1"
    result = run_runtime(
        "test",
        "-c",
        str(config),
        env={
            "MESSENGER_GRAPH_API_BASE": unreachable,
            "HTTP_PROXY": unreachable,
            "HTTPS_PROXY": unreachable,
            "ALL_PROXY": unreachable,
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == quickstart_results()
    assert not (tmp_path / ".runtime").exists()  # sessions were kept in memory


def test_the_engines_notes_go_to_stderr_and_do_not_fail_a_test(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "boom.json5").write_text(
        '{ flows: { boom: { triggers: [{ keywords: ["boom"] }],'
        ' steps: [{ text: "{{ vars.a.b }}" }, { text: "after" }] } } }'
    )
    config = tmp_path / "config.json5"
    config.write_text(QUIET_CONFIG, encoding="utf-8")
    path = write_tests(
        tmp_path,
        '{ tests: [{ name: "boom", turns: [{ user: "boom", expect: [{ text: "after" }] }] }] }',
    )
    result = run_runtime("test", "-c", str(config), str(path))
    assert result.returncode == 0
    assert result.stdout.splitlines() == ["PASS boom", "1 passed, 0 failed"]
    [note] = result.stderr.splitlines()
    assert note.startswith(f"note: {path}: test 'boom', turn 1: ")
    assert "flows.boom.steps.0.text: " in note
