"""A handover in `runtime test` and `runtime chat`: shown, expected, and the bot quiet after."""

from __future__ import annotations

from pathlib import Path

from tests.testing.quickstart import copy_quickstart, run_runtime

HANDED_OVER = "OK! Someone from our team will answer you here soon."


def run_tests(tmp_path: Path, tests: str) -> tuple[int, list[str]]:
    config = copy_quickstart(tmp_path / "bot", tests=False)
    path = tmp_path / "human.json5"
    path.write_text(tests)
    result = run_runtime("test", "-c", str(config), str(path))
    return result.returncode, result.stdout.splitlines()


def test_a_test_expects_the_handover_after_the_reply_and_silence_after_it(tmp_path: Path) -> None:
    code, lines = run_tests(
        tmp_path,
        f"""{{ tests: [{{ name: "human", turns: [
          {{ tap: "HUMAN", expect: [{{ text: "{HANDED_OVER}" }}, {{ handover: "inbox" }}] }},
          {{ user: "hello?", expect: [] }},
          {{ tap: "GET_STARTED", expect: [] }},
        ] }}] }}""",
    )
    assert (code, lines) == (0, ["PASS human", "1 passed, 0 failed"])


def test_a_test_that_does_not_expect_the_handover_sees_it_in_the_diff(tmp_path: Path) -> None:
    code, lines = run_tests(
        tmp_path,
        f"""{{ tests: [{{ name: "human", turns: [
          {{ tap: "HUMAN", expect: [{{ text: "{HANDED_OVER}" }}] }},
        ] }}] }}""",
    )
    assert code == 1
    assert lines[2:6] == [
        "--- expected",
        "+++ actual",
        f' text: "{HANDED_OVER}"',
        "+handover: Page Inbox",
    ]


def test_the_note_is_compared_when_the_test_names_it_and_an_app_id_is_the_inbox(
    tmp_path: Path,
) -> None:
    code, lines = run_tests(
        tmp_path,
        f"""{{ tests: [
          {{ name: "right note", turns: [{{ tap: "HUMAN", expect: [
            {{ text: "{HANDED_OVER}" }},
            {{ handover: {{ to: 263902037430900,
                            note: "asked for a human from the welcome menu" }} }},
          ] }}] }},
          {{ name: "wrong note", turns: [{{ tap: "HUMAN", expect: [
            {{ text: "{HANDED_OVER}" }},
            {{ handover: {{ to: "inbox", note: "wants a refund" }} }},
          ] }}] }},
        ] }}""",
    )
    assert code == 1
    assert lines[0] == "PASS right note"
    assert lines[1] == "FAIL wrong note"
    assert lines[-4:-2] == [
        '-handover: Page Inbox (note "wants a refund")',
        '+handover: Page Inbox (note "asked for a human from the welcome menu")',
    ]


def test_chat_shows_the_handover_stays_quiet_and_back_gives_the_thread_back(
    tmp_path: Path,
) -> None:
    config = copy_quickstart(tmp_path / "bot", tests=False)
    lines = ["hi", "4", "hello?", "/back", "/back", "hi"]
    result = run_runtime("chat", "-c", str(config), input="".join(f"{x}\n" for x in lines))
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    start = out.index(f"bot: {HANDED_OVER}")
    assert out[start + 1 : start + 6] == [
        "(handed over to a human: Page Inbox; the bot stays quiet until the thread comes back:"
        " /back)",
        "(with a human: Page Inbox has the thread, so the bot stays quiet; /back passes it back)",
        "(the thread is back: the bot answers your next message)",
        "(the bot has the thread already: /back is for after a handover)",
        "bot: Hi there! What do you need?",
    ]


def test_a_chat_started_while_a_human_has_the_thread_says_so(tmp_path: Path) -> None:
    config = copy_quickstart(tmp_path / "bot", tests=False)
    first = run_runtime("chat", "-c", str(config), input="hi\n4\n")
    assert first.returncode == 0, first.stderr
    again = run_runtime("chat", "-c", str(config), input="")
    assert again.stdout.splitlines()[1:] == [
        "(with a human: Page Inbox has the thread, so the bot stays quiet; /back passes it back)"
    ]
