"""`runtime chat`, driven as a person would, through stdin and stdout of a real subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.testing.quickstart import copy_quickstart, run_runtime

GREETING = "bot: Hi there! What do you need?"
MENU = ["  1) Pricing", "  2) Our products", "  3) Sign up", "  4) Talk to a human"]
ASK = "bot: What's your email address?"
RETRY = "bot: Hmm, that doesn't look like an email address. Try again? (like name@example.com)"
HEARD = "bot: Last thing: how did you hear about us?"
SOURCES = ["  1) A friend", "  2) Social media", "  3) A search engine", "  4) Somewhere else"]
THANKS = "bot: Thanks! We'll write to me@example.com."
WAITING = "(the bot is waiting for your answer to: What's your email address?)"
FALLBACK = "bot: Sorry, I didn't get that."


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The quickstart, copied so that its state file lands in tmp_path."""
    return copy_quickstart(tmp_path / "bot")


def chat(config: Path, *lines: str, args: tuple[str, ...] = ()) -> list[str]:
    result = run_runtime("chat", "-c", str(config), *args, input="".join(f"{x}\n" for x in lines))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout.splitlines()


def test_hi_shows_the_welcome_with_numbered_quick_replies(config: Path) -> None:
    lines = chat(config, "hi")
    assert "DM policy (pairing) is bypassed" in lines[0]
    assert "as chat-local" in lines[0]
    assert lines[1:] == [GREETING, *MENU]
    assert not any(line.startswith(">") for line in lines)  # no prompt on a pipe


def test_a_number_taps_its_choice(config: Path) -> None:
    lines = chat(config, "hi", "1", "1", "2")
    pricing = lines.index("bot: Plans start at 9.90 EUR a month.")
    assert lines[pricing + 1 :] == [
        "  1) See plans  (opens https://example.com/pricing)",
        "  2) Back",
        # a web_url button opens its link: nothing is sent to the bot
        "(opens https://example.com/pricing)",
        # "Back" is a postback to GET_STARTED
        GREETING,
        *MENU,
    ]


def test_cards_show_titles_subtitles_and_numbered_buttons(config: Path) -> None:
    lines = chat(config, "hi", "2", "2")
    start = lines.index("bot: Here is what we make:")
    assert lines[start + 1 : start + 14] == [
        "bot: [card 1/2] Starter kit",
        "     Everything you need to begin.",
        "     [image] https://example.com/img/starter.png",
        "     (tap opens https://example.com/products/starter)",
        "  1) Details  (opens https://example.com/products/starter)",
        "  2) Sign up",
        "bot: [card 2/2] Pro kit",
        "     For teams that ship every day.",
        "     [image] https://example.com/img/pro.png",
        "     (tap opens https://example.com/products/pro)",
        "  3) Details  (opens https://example.com/products/pro)",
        "  4) Call sales  (calls +15555550123)",
        # the card's "Sign up" button
        ASK,
    ]


def test_an_ask_waits_for_a_valid_answer(config: Path) -> None:
    lines = chat(config, "hi", "3", "not an email", "me@example.com", "a friend", "/vars")
    ask = lines.index(ASK)
    assert lines[ask + 1 : ask + 10] == [
        "  1) (your email address)",
        RETRY,  # the retry offers the quick reply again
        "  1) (your email address)",
        HEARD,  # a `choice`: typed as its title, saved as its payload
        *SOURCES,
        "bot: Thanks! We'll write to me@example.com.",
    ]
    assert json.loads("\n".join(lines[ask + 10 :])) == {
        "email": "me@example.com",
        "heard_from": "FRIEND",
        "signed_up": True,
    }


def test_the_user_email_quick_reply_sends_a_stand_in_address(config: Path) -> None:
    lines = chat(config, "/tap SIGNUP", "1", "1")
    assert lines[-7:] == [
        "(Messenger would send yours; chat sends you@example.com)",
        HEARD,
        *SOURCES,
        "bot: Thanks! We'll write to you@example.com.",
    ]


def test_reset_forgets_the_session(config: Path) -> None:
    lines = chat(config, "/tap SIGNUP", "me@example.com", "/reset", "/vars", "/tap SIGNUP")
    assert "(session forgotten: the bot sees you as a new user)" in lines
    assert lines[-3:-1] == ["{}", ASK]  # a new user: the first signup again, not "Updated"
    lines = chat(config, "me@example.com", "1")
    assert lines[-6:] == [HEARD, *SOURCES, THANKS]


def test_the_session_survives_a_restart_of_chat(config: Path) -> None:
    first = chat(config, "hi", "3")
    assert first[-2:] == [ASK, "  1) (your email address)"]
    assert (config.parent / ".runtime" / "state.db").exists()
    # a new process on the same state file: the ask still waits for its answer, and says so
    second = chat(config, "me@example.com", "/vars")
    assert second[1:8] == [WAITING, "  1) (your email address)", HEARD, *SOURCES]
    assert json.loads("\n".join(second[8:]))["email"] == "me@example.com"


def test_after_a_restart_a_number_picks_the_waiting_question_s_choice(config: Path) -> None:
    chat(config, "/tap SIGNUP")
    lines = chat(config, "1")
    assert lines[1:] == [
        WAITING,
        "  1) (your email address)",
        "(Messenger would send yours; chat sends you@example.com)",
        HEARD,
        *SOURCES,
    ]


def test_a_restarted_chat_says_nothing_of_an_answered_question(config: Path) -> None:
    chat(config, "/tap SIGNUP", "me@example.com", "1")
    lines = chat(config, "hi")
    assert lines[1:] == [GREETING, *MENU]


def test_a_number_beyond_the_choices_says_which_there_are(config: Path) -> None:
    lines = chat(config, "hi", "7", "0", "1")
    assert lines[1 + len(MENU) + 1 :] == [
        "(there is no choice 7; the choices are 1-4; /say 7 sends it as text)",
        "(there is no choice 0; the choices are 1-4; /say 0 sends it as text)",
        # nothing was sent: the menu's choices still hold
        "bot: Plans start at 9.90 EUR a month.",
        "  1) See plans  (opens https://example.com/pricing)",
        "  2) Back",
    ]


def test_with_one_choice_the_message_says_it_is_the_only_one(config: Path) -> None:
    lines = chat(config, "/tap SIGNUP", "2")
    assert lines[-1] == "(there is no choice 2; the only choice is 1; /say 2 sends it as text)"


def test_a_number_with_no_choices_on_offer_is_text(config: Path) -> None:
    lines = chat(config, "7", "²")  # a superscript two is a digit, but not a number to pick
    assert lines[1:] == [FALLBACK, GREETING, *MENU, FALLBACK, GREETING, *MENU]


def test_each_psid_has_its_own_session(config: Path) -> None:
    chat(config, "/tap SIGNUP", args=("--as", "alice"))
    lines = chat(config, "me@example.com")
    assert lines[1] == FALLBACK  # chat-local has no ask waiting
    lines = chat(config, "me@example.com", args=("--as", "alice"))
    assert "as alice" in lines[0]
    assert lines[1:] == [WAITING, "  1) (your email address)", HEARD, *SOURCES]


def test_attachments_and_commands(config: Path) -> None:
    lines = chat(
        config, "/attach image https://example.com/cat.jpg", "/help", "/nope", "/quit", "hi"
    )
    assert lines[1:3] == ["bot: Nice picture!", "bot: [image: media/thanks.png]"]
    assert any(line.startswith("  /tap PAYLOAD") for line in lines)
    assert "(unknown command or missing argument: /nope; /help lists the commands)" in lines
    assert GREETING not in lines  # /quit ended the chat before "hi"


def test_say_sends_a_number_as_text(config: Path) -> None:
    lines = chat(config, "hi", "/say 1")
    assert lines[-len(MENU) - 2 :] == ["bot: Sorry, I didn't get that.", GREETING, *MENU]


def test_an_unknown_account_is_an_error(config: Path) -> None:
    result = run_runtime("chat", "-c", str(config), "--account", "support", input="hi\n")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"{config}: channels.messenger: no account 'support'; the enabled accounts are 'default'"
    )


def test_notes_go_to_stderr(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "boom.json5").write_text(
        '{ flows: { boom: { triggers: [{ keywords: ["boom"] }],'
        ' steps: [{ text: "{{ vars.a.b }}" }, { text: "after" }] } } }'
    )
    config = tmp_path / "config.json5"
    config.write_text('{ channels: { messenger: { pageAccessToken: "t", verifyToken: "v" } } }')
    result = run_runtime("chat", "-c", str(config), input="boom\n")
    assert result.returncode == 0
    assert result.stdout.splitlines()[1:] == ["bot: after"]
    [note] = result.stderr.splitlines()
    assert note.startswith("note: ")
    assert "flows.boom.steps.0.text: " in note
