"""Escape words: triggers with `interrupt: true` win over a waiting ask, its own answers win
over them."""

from __future__ import annotations

import pytest

from runtime.envelope import Envelope
from tests.dialog.conftest import Chat, MakeBot, said
from tests.dialog.events import attachment, image, postback, tap, text

FLOWS = """
{
  flows: {
    signup: {
      triggers: [{ keywords: ["signup"], interrupt: true }],
      steps: [
        { text: "Let's sign you up." },
        { ask: "Your email?", save_as: "email", validate: "email", retry: "Again?" },
        { ask: "Your plan?", save_as: "plan", validate: "choice",
          quick_replies: [{ title: "Basic", payload: "BASIC" },
                          { title: "Menu", payload: "MENU_PLAN" }] },
        { ask: "Your avatar?", save_as: "avatar", validate: "image" },
        { text: "done {{ vars.plan }} {{ vars.avatar }}" },
      ],
    },
    menu: {
      triggers: [{ payload: "MENU" }, { keywords: ["menu", "stop"], interrupt: true }],
      steps: [{ text: "the menu" }],
    },
    cancel: {
      triggers: [{ regex: "(?i)^\\\\s*cancel\\\\b(?P<rest>.*)", interrupt: true }],
      steps: [{ text: "cancelled{{ match.rest }}" }],
    },
    photo: {
      triggers: [{ attachment: "image", interrupt: true }, { attachment: "file" }],
      steps: [{ text: "nice {{ message.attachments[0].type }}" }],
    },
    hello: { triggers: [{ keywords: ["hello"] }], steps: [{ text: "hello!" }] },
    fallback: { steps: [{ text: "fallback" }] },
  },
}
"""


@pytest.fixture
def chat(make_bot: MakeBot) -> Chat:
    chat = Chat(make_bot(FLOWS))
    chat.send(text("signup"))
    return chat


@pytest.mark.parametrize(
    ("event", "answer"),
    [
        (text("menu"), "the menu"),  # an interrupting keyword
        (text("  STOP "), "the menu"),
        (text("Cancel my signup"), "cancelled my signup"),  # an interrupting regex, its groups
        (image(), "nice image"),  # an interrupting attachment trigger
        (postback("MENU"), "the menu"),  # payload triggers always interrupt
    ],
)
def test_an_interrupting_trigger_wins_over_the_waiting_ask(
    chat: Chat, event: Envelope, answer: str
) -> None:
    turn = chat.send(event)
    assert said(turn) == [answer]
    assert (turn.session.flow, turn.session.step, turn.session.retries) == (None, None, 0)
    # the wait is dropped: the next message is no answer to it
    assert chat.said(text("ada@example.com")) == ["fallback"]


@pytest.mark.parametrize("event", [text("hello"), attachment("file")])
def test_a_trigger_without_interrupt_does_not_interrupt(chat: Chat, event: Envelope) -> None:
    turn = chat.send(event)
    assert said(turn) == ["Again?"]
    assert (turn.session.step, turn.session.retries) == (1, 1)


def test_the_asks_own_flow_starts_again_from_its_first_step(chat: Chat) -> None:
    chat.send(text("nope"))
    turn = chat.send(text("SIGNUP"))
    assert said(turn) == ["Let's sign you up.", "Your email?"]
    assert (turn.session.step, turn.session.retries) == (1, 0)


@pytest.mark.parametrize("event", [text("menu"), text(" MENU "), tap("MENU_PLAN", "Menu")])
def test_the_asks_own_quick_reply_wins_over_an_interrupt(chat: Chat, event: Envelope) -> None:
    chat.send(text("ada@example.com"))
    turn = chat.send(event)
    assert said(turn) == ["Your avatar?"]
    assert turn.session.vars["plan"] == "MENU_PLAN"


def test_a_tap_on_another_messages_quick_reply_is_known_by_its_payload(chat: Chat) -> None:
    chat.send(text("ada@example.com"))
    # an older message's "Menu" (payload MENU), not the ask's own "Menu" (MENU_PLAN)
    turn = chat.send(tap("MENU", "Menu"))
    assert said(turn) == ["the menu"]
    assert "plan" not in turn.session.vars


def test_the_attachment_an_ask_wants_wins_over_its_interrupt_trigger(chat: Chat) -> None:
    chat.send(text("ada@example.com"))
    chat.send(text("basic"))
    turn = chat.send(image("https://cdn.example.com/me.png"))
    assert said(turn) == ["done BASIC https://cdn.example.com/me.png"]


def test_an_interrupt_keyword_when_nothing_waits_is_a_plain_trigger(make_bot: MakeBot) -> None:
    assert Chat(make_bot(FLOWS)).said(text("stop")) == ["the menu"]
