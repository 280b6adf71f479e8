"""Which flow answers: payload, keywords, regex, attachment type, fallback, in that order."""

from __future__ import annotations

import pytest

from runtime.dialog.engine import run_turn
from runtime.dialog.messages import TextMessage
from runtime.envelope import Attachment, Envelope
from tests.dialog.conftest import Chat, MakeBot, said
from tests.dialog.events import KEY, PSID, attachment, image, postback, referral, tap, text

FLOWS = """
{
  flows: {
    menu: {
      triggers: [{ payload: "MENU" }, { keywords: ["menu", "Main Menu"] }],
      steps: [{ text: "the menu" }],
    },
    order: {
      triggers: [{ regex: "^order (?P<count>[0-9]+) (?P<item>\\\\w+)" }, { regex: "order" }],
      steps: [{ text: "{{ match.count }} x {{ match.item }}" }],
    },
    help: {
      triggers: [{ regex: "help" }],
      steps: [{ text: "help{{ match.nothing }}" }],
    },
    photo: {
      triggers: [{ attachment: "image" }, { attachment: "audio" }],
      steps: [{ text: "a {{ message.attachments[0].type }}" }],
    },
    fallback: { steps: [{ text: "fallback: {{ message.text }}" }] },
  },
}
"""


@pytest.fixture
def chat(make_bot: MakeBot) -> Chat:
    return Chat(make_bot(FLOWS))


def test_a_postback_starts_its_flow(chat: Chat) -> None:
    turn = chat.send(postback("MENU"))
    assert said(turn) == ["the menu"]
    assert turn.flow == "menu"


def test_a_quick_reply_tap_starts_the_flow_of_its_payload(chat: Chat) -> None:
    assert chat.said(tap("MENU", "Something else")) == ["the menu"]


@pytest.mark.parametrize("words", ["menu", "MENU", "  Menu \n", "main menu", "MAIN MENU "])
def test_keywords_ignore_case_and_surrounding_space(chat: Chat, words: str) -> None:
    assert chat.said(text(words)) == ["the menu"]


def test_a_keyword_must_be_the_whole_message(chat: Chat) -> None:
    assert chat.said(text("show the menu please")) == ["fallback: show the menu please"]


def test_regex_named_groups_reach_templates_as_match(chat: Chat) -> None:
    turn = chat.send(text("order 3 pizzas now"))
    assert said(turn) == ["3 x pizzas"]
    assert turn.flow == "order"


def test_regexes_are_tried_in_file_order(chat: Chat) -> None:
    # "I need help to order" matches `order` (declared first) and `help`
    assert chat.said(text("I need help to order")) == [" x "]
    assert chat.said(text("help me")) == ["help"]


def test_an_attachment_starts_the_flow_of_its_type(chat: Chat) -> None:
    assert chat.said(image()) == ["a image"]
    assert chat.said(attachment("audio")) == ["a audio"]


def test_an_attachment_type_no_flow_claims_gets_the_fallback(chat: Chat) -> None:
    assert chat.said(attachment("video")) == ["fallback: "]


def test_anything_else_gets_the_fallback(chat: Chat) -> None:
    turn = chat.send(text("what?"))
    assert said(turn) == ["fallback: what?"]
    assert turn.flow == "fallback"


def test_an_unknown_payload_gets_the_fallback(chat: Chat) -> None:
    assert chat.said(postback("OLD_BUTTON", "Old")) == ["fallback: "]


PHOTO = Attachment(type="image", url="https://cdn.example.com/cat.jpg")


@pytest.mark.parametrize(
    ("envelope", "answer"),
    [
        # a payload beats the keyword and the regex the quick reply's title also is
        (tap("MENU", "order 2 cakes"), "the menu"),
        # a keyword beats a regex that matches the same text, and an attachment
        (text("menu", PHOTO), "the menu"),
        # a regex beats an attachment
        (text("order 2 cakes", PHOTO), "2 x cakes"),
        # an attachment beats the fallback
        (text("nice, right?", PHOTO), "a image"),
        (text("nice, right?"), "fallback: nice, right?"),
    ],
)
def test_payload_beats_keyword_beats_regex_beats_attachment_beats_fallback(
    chat: Chat, envelope: Envelope, answer: str
) -> None:
    assert chat.said(envelope) == [answer]


def test_without_a_fallback_nothing_answers(make_bot: MakeBot) -> None:
    bot = make_bot(
        '{ flows: { hi: { triggers: [{ keywords: ["hi"] }], steps: [{ text: "hi" }] } } }'
    )
    turn = run_turn(bot, text("something else"), None, now=5.0)
    assert turn.messages == ()
    assert turn.flow is None
    assert turn.notes == ()
    assert turn.session.updated_at == 5.0


def test_a_referral_gets_no_fallback(chat: Chat) -> None:
    turn = chat.send(referral())
    assert turn.messages == ()
    assert turn.flow is None


def test_a_new_sender_gets_a_new_session(chat: Chat) -> None:
    turn = chat.send(text("menu"))
    assert (turn.session.key, turn.session.psid, turn.session.account_id) == (KEY, PSID, "default")
    assert turn.session.updated_at == chat.now
    assert turn.messages == (TextMessage(text="the menu"),)
