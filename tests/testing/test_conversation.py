"""`Conversation`, the in-memory driver users can import into their own test suites."""

from __future__ import annotations

import pytest

from runtime.build import build_bot
from runtime.dialog.messages import Button, ButtonTemplate, QuickReply, TextMessage
from runtime.envelope import EventKind
from runtime.errors import ConfigError
from runtime.testing import Conversation
from runtime.testing.events import tap_event
from tests.testing.quickstart import QUICKSTART

BOT = build_bot(QUICKSTART / "config.json5").bot
ACCOUNT = BOT.accounts["default"]


def test_a_conversation_keeps_its_session_between_turns() -> None:
    chat = Conversation(BOT)
    assert chat.say("hi").flow == "welcome"
    assert chat.tap("SIGNUP").messages == (
        TextMessage(
            text="What's your email address?",
            quick_replies=(QuickReply(content_type="user_email"),),
        ),
    )
    turn = chat.say("me@example.com")
    assert turn.messages == (TextMessage(text="Thanks! We'll write to me@example.com."),)
    assert chat.session is not None
    assert chat.session.vars == {"email": "me@example.com", "signed_up": True}
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
