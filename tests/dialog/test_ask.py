"""Asking: the bot waits, checks the answer, asks again, and lets a menu tap through."""

from __future__ import annotations

import pytest

from runtime.dialog.messages import QuickReply, TextMessage
from runtime.session import Session
from tests.dialog.conftest import Chat, MakeBot, notes_at, said
from tests.dialog.events import KEY, PSID, image, postback, referral, tap, text

SIGNUP = """
{
  flows: {
    signup: {
      triggers: [{ payload: "SIGNUP" }],
      steps: [
        { text: "Let's sign you up." },
        { ask: "Your email?", save_as: "email", validate: "email",
          retry: "Not an email: {{ message.text }}. Try again?",
          quick_replies: [{ content_type: "user_email" }] },
        { ask: "How many seats?", save_as: "seats", validate: "number" },
        { ask: "Your phone?", save_as: "phone", validate: "phone" },
        { ask: "Your zip code?", save_as: "zip", validate: { regex: "[0-9]{5}" } },
        { ask: "Anything else?", save_as: "comment" },
        { text: "{{ vars.email }} {{ vars.seats * 2 }} {{ vars.phone }} {{ vars.zip }}\
 {{ vars.comment }}" },
      ],
    },
    menu: {
      triggers: [{ payload: "MENU" }, { keywords: ["menu"] }],
      steps: [{ text: "the menu" }],
    },
    fallback: { steps: [{ text: "fallback" }] },
  },
}
"""


@pytest.fixture
def chat(make_bot: MakeBot) -> Chat:
    return Chat(make_bot(SIGNUP))


def test_an_ask_sends_its_prompt_and_waits(chat: Chat) -> None:
    turn = chat.send(postback("SIGNUP"))
    assert turn.messages == (
        TextMessage(text="Let's sign you up."),
        TextMessage(text="Your email?", quick_replies=(QuickReply(content_type="user_email"),)),
    )
    assert (turn.session.flow, turn.session.step, turn.session.retries) == ("signup", 1, 0)
    assert turn.flow == "signup"


def test_every_answer_is_checked_saved_and_the_flow_goes_on(chat: Chat) -> None:
    chat.send(postback("SIGNUP"))
    assert chat.said(text(" ada@example.com ")) == ["How many seats?"]
    assert chat.said(text("1,5")) == ["Your phone?"]
    assert chat.said(text("+1 (555) 010-0123")) == ["Your zip code?"]
    assert chat.said(text("75011")) == ["Anything else?"]
    turn = chat.send(text("  no thanks "))
    assert said(turn) == ["ada@example.com 3.0 +15550100123 75011 no thanks"]
    assert turn.flow == "signup"
    assert dict(turn.session.vars) == {
        "email": "ada@example.com",
        "seats": 1.5,
        "phone": "+15550100123",
        "zip": "75011",
        "comment": "no thanks",
    }
    assert (turn.session.flow, turn.session.step, turn.session.retries) == (None, None, 0)


def test_a_wrong_answer_gets_the_retry_text_and_the_bot_keeps_waiting(chat: Chat) -> None:
    chat.send(postback("SIGNUP"))
    turn = chat.send(text("ada at example"))
    assert turn.messages == (
        TextMessage(
            text="Not an email: ada at example. Try again?",
            quick_replies=(QuickReply(content_type="user_email"),),
        ),
    )
    assert (turn.session.flow, turn.session.step, turn.session.retries) == ("signup", 1, 1)
    assert chat.send(text("still no")).session.retries == 2
    turn = chat.send(text("ada@example.com"))
    assert said(turn) == ["How many seats?"]
    assert (turn.session.step, turn.session.retries) == (2, 0)


def test_without_a_retry_text_the_prompt_is_sent_again(chat: Chat) -> None:
    chat.send(postback("SIGNUP"))
    chat.send(text("ada@example.com"))
    turn = chat.send(text("many"))
    assert said(turn) == ["How many seats?"]
    assert turn.session.retries == 1


@pytest.mark.parametrize(
    ("step", "answer"),
    [(2, "seats"), (3, "+1 555"), (4, "7501"), (4, "75011-1234")],
)
def test_wrong_answers_of_each_kind_are_asked_again(
    make_bot: MakeBot, step: int, answer: str
) -> None:
    bot = make_bot(SIGNUP)
    chat = Chat(bot, Session(key=KEY, account_id="default", psid=PSID, flow="signup", step=step))
    turn = chat.send(text(answer))
    assert turn.session.step == step
    assert turn.session.retries == 1
    assert len(turn.messages) == 1


def test_a_picture_does_not_answer_an_ask(chat: Chat) -> None:
    chat.send(postback("SIGNUP"))
    chat.send(text("ada@example.com"))
    chat.send(text("2"))
    chat.send(text("5550100"))
    chat.send(text("75011"))
    turn = chat.send(image())  # `comment` takes any text, but a picture is no text
    assert said(turn) == ["Anything else?"]
    assert turn.session.retries == 1


def test_a_menu_tap_still_works_while_an_ask_waits(chat: Chat) -> None:
    chat.send(postback("SIGNUP"))
    turn = chat.send(postback("MENU"))
    assert said(turn) == ["the menu"]
    assert turn.flow == "menu"
    assert (turn.session.flow, turn.session.step) == (None, None)


def test_a_typed_keyword_answers_the_ask_instead_of_starting_its_flow(chat: Chat) -> None:
    chat.send(postback("SIGNUP"))
    turn = chat.send(text("menu"))
    assert said(turn) == ["Not an email: menu. Try again?"]


def test_a_referral_leaves_the_ask_waiting(chat: Chat) -> None:
    chat.send(postback("SIGNUP"))
    turn = chat.send(referral())
    assert turn.messages == ()
    assert (turn.session.flow, turn.session.step, turn.session.retries) == ("signup", 1, 0)


CHOICE = """
{
  flows: {
    size: {
      triggers: [{ keywords: ["size"] }],
      steps: [
        { ask: "Which size?", save_as: "size",
          quick_replies: [{ title: "Small", payload: "S" }, { title: "Large", payload: "L" },
                          { title: "Menu", payload: "MENU" }] },
        { text: "size {{ vars.size }}" },
      ],
    },
    rating: {
      triggers: [{ keywords: ["rate"] }],
      steps: [
        { ask: "1 to 5?", save_as: "stars", validate: "number",
          quick_replies: [{ title: "Five stars", payload: "5" }] },
        { text: "{{ vars.stars + 1 }}" },
      ],
    },
    menu: { triggers: [{ payload: "MENU" }], steps: [{ text: "the menu" }] },
  },
}
"""


def test_a_quick_reply_tap_answers_with_its_payload(make_bot: MakeBot) -> None:
    chat = Chat(make_bot(CHOICE))
    chat.send(text("size"))
    turn = chat.send(tap("L", "Large"))
    assert said(turn) == ["size L"]
    assert turn.session.vars["size"] == "L"


def test_a_tapped_payload_is_checked_like_a_typed_answer(make_bot: MakeBot) -> None:
    chat = Chat(make_bot(CHOICE))
    chat.send(text("rate"))
    assert chat.said(tap("5", "Five stars")) == ["6"]


def test_the_asks_own_quick_reply_answers_even_when_a_flow_claims_its_payload(
    make_bot: MakeBot,
) -> None:
    chat = Chat(make_bot(CHOICE))
    chat.send(text("size"))
    assert chat.said(tap("MENU", "Menu")) == ["size MENU"]


def test_typed_text_answers_an_ask_with_quick_replies(make_bot: MakeBot) -> None:
    chat = Chat(make_bot(CHOICE))
    chat.send(text("size"))
    assert chat.said(text("medium")) == ["size medium"]


def test_an_ask_reached_by_goto_waits_in_its_own_flow(make_bot: MakeBot) -> None:
    bot = make_bot(
        """{ flows: {
          start: { triggers: [{ keywords: ["go"] }], steps: [{ goto: "name" }] },
          name: { steps: [{ text: "hello" }, { ask: "Name?", save_as: "name" },
                          { text: "Hi {{ vars.name }}" }] },
        } }"""
    )
    chat = Chat(bot)
    turn = chat.send(text("go"))
    assert (turn.flow, turn.session.flow, turn.session.step) == ("start", "name", 1)
    turn = chat.send(text("Ada"))
    assert said(turn) == ["Hi Ada"]
    assert turn.flow == "name"


RELOADED = """
{
  flows: {
    signup: { triggers: [{ payload: "SIGNUP" }], steps: [{ text: "only one step now" }] },
    menu: { triggers: [{ keywords: ["menu"] }], steps: [{ text: "the menu" }] },
    fallback: { steps: [{ text: "fallback" }] },
  },
}
"""


@pytest.mark.parametrize(
    ("flow", "step", "gone"),
    [
        ("removed", 0, "no longer exists"),
        ("signup", 4, "no longer exists"),
        ("signup", 0, "is no longer an ask"),
    ],
)
def test_a_wait_the_reloaded_flows_no_longer_have_is_dropped(
    make_bot: MakeBot, flow: str, step: int, gone: str
) -> None:
    bot = make_bot(RELOADED)
    waiting = Session(key=KEY, account_id="default", psid=PSID, flow=flow, step=step, retries=2)
    chat = Chat(bot, waiting)
    turn = chat.send(text("menu"))
    assert said(turn) == ["the menu"]
    assert (turn.session.flow, turn.session.step, turn.session.retries) == (None, None, 0)
    assert len(notes_at(turn, f"flows.{flow}.steps.{step}")) == 1
    assert gone in turn.notes[0]
    assert chat.said(text("what")) == ["fallback"]


def test_an_ask_waiting_when_the_flows_change_still_gets_its_answer(make_bot: MakeBot) -> None:
    first = make_bot(SIGNUP)
    chat = Chat(first)
    chat.send(postback("SIGNUP"))
    chat.bot = make_bot(SIGNUP.replace("Let's sign you up.", "Sign up!"))
    assert chat.said(text("ada@example.com")) == ["How many seats?"]


def test_the_user_email_quick_reply_answers_with_the_address(chat: Chat) -> None:
    chat.send(postback("SIGNUP"))
    # Messenger sends the address as both the text and the payload of the tap
    turn = chat.send(tap("ada@example.com", "ada@example.com"))
    assert said(turn) == ["How many seats?"]
    assert turn.session.vars["email"] == "ada@example.com"
