"""Typed asks, the retry cap and escape words as a bot's author meets them: `runtime test`
and `runtime chat`, run as subprocesses."""

from __future__ import annotations

from pathlib import Path

from tests.testing.quickstart import run_runtime

CONFIG = (
    '{ channels: { messenger: { pageAccessToken: "t", verifyToken: "v", appSecret: "s",'
    ' pageId: "111" } }, flows: "flows/" }'
)
FLOWS = """{
  flows: {
    booking: {
      triggers: [{ keywords: ["book"] }],
      steps: [
        { ask: "Which day?", save_as: "day", validate: "date", retry: "A day, like 24 Dec?",
          max_retries: 2, on_fail: "no_day" },
        { ask: "Which room?", save_as: "room", validate: "choice",
          quick_replies: [{ title: "Garden", payload: "GARDEN" },
                          { title: "Sea", payload: "SEA" }] },
        { ask: "A photo of your ID?", save_as: "id_photo", validate: "image" },
        { text: "Booked {{ vars.room }} on {{ vars.day }}." },
      ],
    },
    no_day: { steps: [{ text: "Let's find a day another time." }] },
    menu: {
      triggers: [{ keywords: ["menu"], interrupt: true }],
      steps: [{ text: "The menu." }],
    },
  },
}
"""
TESTS = """{
  tests: [
    {
      name: "booked",
      turns: [
        { user: "book", expect: [{ text: "Which day?" }] },
        { user: "24/12/2026", expect: [{ text: "Which room?", quick_replies: ["Garden", "Sea"] }],
          vars: { day: "2026-12-24" } },
        { user: "sea", expect: [{ text: "A photo of your ID?" }], vars: { room: "SEA" } },
        { user: "here", expect: [{ text: "A photo of your ID?" }] },
        { attach: "image", url: "https://cdn.example.com/id.jpg",
          expect: [{ text: "Booked SEA on 2026-12-24." }],
          vars: { id_photo: "https://cdn.example.com/id.jpg" } },
      ],
    },
    {
      name: "no day",
      turns: [
        { user: "book", expect: [{ text: "Which day?" }] },
        { user: "03/04/2026", expect: [{ text: "A day, like 24 Dec?" }] },
        { user: "soon", expect: [{ text: "Let's find a day another time." }] },
      ],
    },
    {
      name: "menu",
      turns: [
        { user: "book", expect: [{ text: "Which day?" }] },
        { user: "MENU", expect: [{ text: "The menu." }] },
      ],
    },
  ],
}
"""


def write_bot(root: Path) -> Path:
    (root / "flows").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "config.json5").write_text(CONFIG, encoding="utf-8")
    (root / "flows" / "main.json5").write_text(FLOWS, encoding="utf-8")
    (root / "tests" / "booking.json5").write_text(TESTS, encoding="utf-8")
    return root / "config.json5"


def test_runtime_test_walks_typed_asks_the_retry_cap_and_an_escape_word(tmp_path: Path) -> None:
    config = write_bot(tmp_path)
    result = run_runtime("test", "-c", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "PASS booked",
        "PASS no day",
        "PASS menu",
        "3 passed, 0 failed",
    ]


def test_runtime_test_fails_a_wrong_expectation_about_what_is_saved(tmp_path: Path) -> None:
    config = write_bot(tmp_path)
    tests = tmp_path / "tests" / "booking.json5"
    tests.write_text(TESTS.replace('vars: { room: "SEA" }', 'vars: { room: "sea" }'))
    result = run_runtime("test", "-c", str(config))
    assert result.returncode == 1
    assert "FAIL booked" in result.stdout


def test_a_restarted_chat_says_an_image_answers_and_how_to_send_one(tmp_path: Path) -> None:
    config = write_bot(tmp_path)
    first = run_runtime("chat", "-c", str(config), input="book\n1 May 2026\n2\n")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1] == "bot: A photo of your ID?"
    second = run_runtime(
        "chat", "-c", str(config), input="/attach image https://cdn.example.com/me.jpg\n"
    )
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines()[1:] == [
        "(the bot is waiting for your answer to: A photo of your ID?;"
        " answer with /attach image URL)",
        "bot: Booked SEA on 2026-05-01.",
    ]
