"""`Conversation`, the in-memory driver users can import into their own test suites."""

from __future__ import annotations

import pytest

from runtime.build import build_bot
from runtime.dialog.messages import Button, ButtonTemplate, QuickReply, TextMessage
from runtime.envelope import EventKind
from runtime.errors import ConfigError
from runtime.testing import Conversation, HttpAnswer
from runtime.testing.events import tap_event
from tests.testing.quickstart import QUICKSTART

BOT = build_bot(QUICKSTART / "config.json5").bot
ACCOUNT = BOT.accounts["default"]
ORDERS = "https://api.example.com/orders"
SHIPPED = HttpAnswer(url=f"{ORDERS}/A123", json={"status": "shipped"})


def test_a_conversation_keeps_its_session_between_turns() -> None:
    chat = Conversation(BOT)
    assert chat.say("hi").flow == "welcome"
    assert chat.tap("SIGNUP").messages == (
        TextMessage(
            text="What's your email address?",
            quick_replies=(QuickReply(content_type="user_email"),),
        ),
    )
    chat.say("me@example.com")
    turn = chat.tap("SOCIAL")
    assert turn.messages == (TextMessage(text="Thanks! We'll write to me@example.com."),)
    assert chat.session is not None
    assert chat.session.vars == {
        "email": "me@example.com",
        "heard_from": "SOCIAL",
        "signed_up": True,
    }
    assert chat.session.key == "agent:main:messenger:dm:test-user"


def test_reset_starts_over_as_a_new_user() -> None:
    chat = Conversation(BOT, psid="42")
    chat.tap("SIGNUP")
    chat.reset()
    assert chat.session is None
    assert chat.say("me@example.com").flow == "fallback"


def test_attach_sends_an_attachment() -> None:
    turn = Conversation(BOT).attach("image", "https://example.com/cat.jpg")
    assert turn.flow == "picture"


def test_an_unknown_account_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no account 'support'; the enabled accounts are"):
        Conversation(BOT, account_id="support")


def test_a_tap_is_a_quick_reply_or_a_postback_as_on_messenger() -> None:
    menu = TextMessage(text="?", quick_replies=(QuickReply(title="Pricing", payload="PRICING"),))
    quick = tap_event(ACCOUNT, "1", "PRICING", offered=(menu,), now=1.0, mid="m1")
    assert (quick.kind, quick.text, quick.quick_reply_payload) == (
        EventKind.MESSAGE,
        "Pricing",
        "PRICING",
    )
    back = Button(type="postback", title="Back", payload="GET_STARTED")
    plans = ButtonTemplate(text="Plans", buttons=(back,))
    button = tap_event(ACCOUNT, "1", "GET_STARTED", offered=(plans,), now=1.0, mid="m2")
    assert (button.kind, button.postback_payload, button.postback_title) == (
        EventKind.POSTBACK,
        "GET_STARTED",
        "Back",
    )
    bare = tap_event(ACCOUNT, "1", "HUMAN", offered=(), now=1.0, mid="m3")
    assert (bare.kind, bare.postback_payload, bare.postback_title) == (
        EventKind.POSTBACK,
        "HUMAN",
        None,
    )


def test_the_answers_given_answer_the_calls_and_the_calls_are_listed() -> None:
    chat = Conversation(BOT, http=[SHIPPED])
    turn = chat.say("order A123")
    assert turn.messages == (TextMessage(text="Order A123: shipped."),)
    [exchange] = chat.calls
    assert (exchange.call.method, exchange.call.url, exchange.answered) == (
        "GET",
        f"{ORDERS}/A123",
        True,
    )
    # the secret stays as the flow names it: a test never needs it
    assert dict(exchange.call.headers) == {"Authorization": "Bearer ${ORDERS_TOKEN}"}
    assert chat.session is not None
    assert chat.session.vars["order"] == {
        "ok": True,
        "status": 200,
        "body": {"status": "shipped"},
        "error": None,
    }
    assert chat.unanswered == ()


def test_a_turn_s_answers_come_first_and_a_call_without_one_gets_ok_false() -> None:
    chat = Conversation(BOT, http=[SHIPPED])
    gone = HttpAnswer(url=f"{ORDERS}/A123", status=404)
    assert chat.say("order A123", http=[gone]).messages == (
        TextMessage(
            text="I can't find order A123. Could you check the number in your confirmation email?"
        ),
    )
    [sorry] = chat.say("order C333").messages
    assert [call.url for call in chat.unanswered] == [f"{ORDERS}/C333"]
    assert isinstance(sorry, TextMessage)
    assert sorry.text.startswith("Sorry, I can't reach our order system")
    assert chat.say("hi").flow == "welcome"
    assert chat.calls == ()  # the last turn's calls: none


def test_an_answer_that_never_comes_times_out_after_the_step_s_timeout() -> None:
    chat = Conversation(BOT, http=[HttpAnswer(url=f"{ORDERS}/A123", error="timeout")])
    chat.say("order A123")
    assert chat.session is not None
    assert chat.session.vars["order"] == {
        "ok": False,
        "status": None,
        "body": None,
        "error": "no answer within 5 s",
    }


def test_two_answers_to_one_request_are_refused() -> None:
    with pytest.raises(ValueError, match=f"two answers to GET {ORDERS}/A123; keep one"):
        Conversation(BOT, http=[SHIPPED, HttpAnswer(url=f"{ORDERS}/A123", method="get")])
    with pytest.raises(ValueError, match="give `json` or `text`, not both"):
        HttpAnswer(url=f"{ORDERS}/A123", json={}, text="x")
    with pytest.raises(ValueError, match="error 'slow' is not one of timeout, refused"):
        HttpAnswer(url=f"{ORDERS}/A123", error="slow")
