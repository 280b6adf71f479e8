"""Typed asks in a conversation, and the retry cap: `max_retries` with or without `on_fail`."""

from __future__ import annotations

import pytest

from runtime.envelope import Attachment, Envelope
from runtime.session import Session
from tests.dialog.conftest import Chat, MakeBot, said
from tests.dialog.events import KEY, PSID, attachment, image, postback, tap, text

TYPED = """
{
  flows: {
    booking: {
      triggers: [{ keywords: ["book"] }],
      steps: [
        { ask: "Which day?", save_as: "day", validate: "date",
          retry: "A day, like 24/12/2026 or 24 Dec?" },
        { ask: "Your website?", save_as: "site", validate: "url" },
        { ask: "Which room?", save_as: "room", validate: "choice",
          quick_replies: [{ title: "Garden view", payload: "GARDEN" },
                          { title: "{{ 'Sea' }} view", payload: "SEA" },
                          { content_type: "user_email" }] },
        { ask: "A photo of your ID?", save_as: "id_photo", validate: "image" },
        { ask: "Your signed form?", save_as: "form", validate: "file" },
        { ask: "Where are you?", save_as: "where", validate: "location" },
        { text: "{{ vars.day }} {{ vars.site }} {{ vars.room }} {{ vars.where.latitude }}" },
      ],
    },
  },
}
"""


def test_every_typed_answer_is_saved_as_its_kind_says(make_bot: MakeBot) -> None:
    chat = Chat(make_bot(TYPED))
    assert chat.said(text("book")) == ["Which day?"]
    assert chat.said(text("24 Dec 2026")) == ["Your website?"]
    assert chat.said(text("example.com/me")) == ["Which room?"]
    assert chat.said(text("sea VIEW")) == ["A photo of your ID?"]
    assert chat.said(image("https://cdn.example.com/id.jpg")) == ["Your signed form?"]
    assert chat.said(attachment("file", "https://cdn.example.com/form.pdf")) == ["Where are you?"]
    place = Attachment(type="location", latitude=48.8584, longitude=2.2945)
    turn = chat.send(text("", place))
    assert dict(turn.session.vars) == {
        "day": "2026-12-24",
        "site": "https://example.com/me",
        "room": "SEA",
        "id_photo": "https://cdn.example.com/id.jpg",
        "form": "https://cdn.example.com/form.pdf",
        "where": {"latitude": 48.8584, "longitude": 2.2945},
    }
    assert said(turn) == ["2026-12-24 https://example.com/me SEA 48.8584"]


def start_at(bot_text: str, make_bot: MakeBot, step: int) -> Chat:
    session = Session(key=KEY, account_id="default", psid=PSID, flow="booking", step=step)
    return Chat(make_bot(bot_text), session)


@pytest.mark.parametrize(
    ("step", "wrong"),
    [
        (0, text("03/04/2026")),
        (1, text("ada@example.com")),
        (2, text("Mountain view")),
        (3, text("here it is")),
        (3, attachment("file")),
        (4, image()),
        (5, text("Paris")),
    ],
)
def test_a_wrong_typed_answer_is_asked_again(make_bot: MakeBot, step: int, wrong: Envelope) -> None:
    chat = start_at(TYPED, make_bot, step)
    turn = chat.send(wrong)
    assert (turn.session.step, turn.session.retries) == (step, 1)
    assert len(turn.messages) == 1  # the question again
    assert dict(turn.session.vars) == {}


def test_a_tap_on_a_choice_saves_its_payload(make_bot: MakeBot) -> None:
    chat = start_at(TYPED, make_bot, 2)
    turn = chat.send(tap("GARDEN", "Garden view"))
    assert turn.session.vars["room"] == "GARDEN"


CAPPED = """
{
  flows: {
    signup: {
      triggers: [{ keywords: ["signup"] }],
      steps: [
        { ask: "Your email?", save_as: "email", validate: "email", retry: "Again?",
          max_retries: 3, on_fail: "no_email" },
        { text: "Thanks {{ vars.email }}" },
      ],
    },
    no_email: { steps: [{ text: "Let's leave it there. Type signup to try again." }] },
    zip: {
      triggers: [{ keywords: ["zip"] }],
      steps: [
        { ask: "Your zip?", save_as: "zip", validate: { regex: "[0-9]{5}" }, max_retries: 1 },
        { text: "zip {{ vars.zip }}" },
      ],
    },
    menu: { triggers: [{ keywords: ["menu"] }], steps: [{ text: "the menu" }] },
    fallback: { steps: [{ text: "fallback: {{ message.text }}" }] },
  },
}
"""


def test_on_fail_runs_after_exactly_max_retries_wrong_answers(make_bot: MakeBot) -> None:
    chat = Chat(make_bot(CAPPED))
    chat.send(text("signup"))
    first = chat.send(text("no"))
    assert (said(first), first.session.retries) == (["Again?"], 1)
    second = chat.send(text("still no"))
    assert (said(second), second.session.retries) == (["Again?"], 2)
    third = chat.send(text("never"))
    # no retry text this time: the on_fail flow answers, and nothing waits any more
    assert said(third) == ["Let's leave it there. Type signup to try again."]
    assert (third.session.flow, third.session.step, third.session.retries) == (None, None, 0)
    assert "email" not in third.session.vars
    assert chat.said(text("ada@example.com")) == ["fallback: ada@example.com"]


def test_the_count_is_kept_in_the_session_between_turns(make_bot: MakeBot) -> None:
    bot = make_bot(CAPPED)
    waiting = Session(key=KEY, account_id="default", psid=PSID, flow="signup", step=0, retries=2)
    turn = Chat(bot, waiting).send(text("nope"))
    assert said(turn) == ["Let's leave it there. Type signup to try again."]


def test_a_right_answer_before_the_cap_goes_on_and_the_count_restarts(make_bot: MakeBot) -> None:
    chat = Chat(make_bot(CAPPED))
    chat.send(text("signup"))
    chat.send(text("no"))
    chat.send(text("no"))
    turn = chat.send(text("ada@example.com"))
    assert said(turn) == ["Thanks ada@example.com"]
    assert turn.session.retries == 0
    chat.send(text("signup"))
    assert chat.send(text("no")).session.retries == 1


def test_without_on_fail_the_last_wrong_answer_is_handled_as_any_message(
    make_bot: MakeBot,
) -> None:
    chat = Chat(make_bot(CAPPED))
    chat.send(text("zip"))
    turn = chat.send(text("my zip is 750"))  # max_retries: 1, so no retry at all
    assert said(turn) == ["fallback: my zip is 750"]
    assert turn.flow == "fallback"
    assert (turn.session.flow, turn.session.step) == (None, None)


def test_without_on_fail_the_last_wrong_answer_may_start_a_flow(make_bot: MakeBot) -> None:
    chat = Chat(make_bot(CAPPED))
    chat.send(text("zip"))
    turn = chat.send(text("menu"))  # not an interrupt: it answers, wrongly, then starts menu
    assert said(turn) == ["the menu"]
    assert turn.flow == "menu"


def test_a_menu_tap_does_not_count_as_a_wrong_answer(make_bot: MakeBot) -> None:
    bot = make_bot(CAPPED.replace('{ keywords: ["menu"] }', '{ payload: "MENU" }'))
    chat = Chat(bot)
    chat.send(text("signup"))
    chat.send(text("no"))
    chat.send(text("no"))
    assert chat.said(postback("MENU")) == ["the menu"]
    chat.send(text("signup"))
    assert chat.said(text("no")) == ["Again?"]
