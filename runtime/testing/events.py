"""What a local user does (types, taps, sends an attachment) as the Envelope the engine reads,
and a timer of theirs falling due.

`runtime test` and `runtime chat` have no webhook: they build the Envelope Messenger's would
normalize to. A quick-reply tap arrives as a message whose text is the reply's title and whose
`quick_reply.payload` is its payload; a button tap arrives as a postback with the button's
title; both are built here the same way. They have no store to fire timers either: a timer
that falls due is built here as the event the store would queue for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runtime.config.model import Account
from runtime.dialog.messages import (
    Button,
    ButtonTemplate,
    GenericTemplate,
    OutMessage,
    QuickReply,
)
from runtime.envelope import Attachment, Envelope, EventKind
from runtime.session import session_key
from runtime.timers import Timer

# what Messenger sends for a user_email / user_phone_number quick reply is the user's own
# address or number; a local run has neither, so it sends these stand-ins
STAND_IN_EMAIL = "you@example.com"
STAND_IN_PHONE = "+15555550100"


def text_event(account: Account, psid: str, text: str, *, now: float, mid: str) -> Envelope:
    """The user typed `text`."""
    return _envelope(account, psid, now, mid, kind=EventKind.MESSAGE, text=text)


def quick_reply_event(
    account: Account, psid: str, reply: QuickReply, *, now: float, mid: str
) -> Envelope:
    """The user tapped a quick reply: Messenger sends its title as the text, with its payload."""
    if reply.content_type == "user_email":
        text = payload = STAND_IN_EMAIL
    elif reply.content_type == "user_phone_number":
        text = payload = STAND_IN_PHONE
    else:
        text, payload = reply.title or "", reply.payload or ""
    return _envelope(
        account, psid, now, mid, kind=EventKind.MESSAGE, text=text, quick_reply_payload=payload
    )


def postback_event(
    account: Account, psid: str, payload: str, *, title: str | None, now: float, mid: str
) -> Envelope:
    """The user tapped a postback button (or Get Started, or a persistent menu item)."""
    return _envelope(
        account,
        psid,
        now,
        mid,
        kind=EventKind.POSTBACK,
        postback_payload=payload,
        postback_title=title,
    )


def tap_event(
    account: Account,
    psid: str,
    payload: str,
    *,
    offered: Sequence[OutMessage],
    now: float,
    mid: str,
) -> Envelope:
    """A tap on whatever carries `payload` among the messages the bot just sent.

    A quick reply of the last message becomes a quick-reply message; a postback button a
    postback with its title; a payload nothing offered (GET_STARTED, say) a bare postback.
    """
    if offered:
        for reply in offered[-1].quick_replies:
            if reply.payload == payload:
                return quick_reply_event(account, psid, reply, now=now, mid=mid)
    for button in offered_buttons(offered):
        if button.type == "postback" and button.payload == payload:
            return postback_event(account, psid, payload, title=button.title, now=now, mid=mid)
    return postback_event(account, psid, payload, title=None, now=now, mid=mid)


def attachment_event(
    account: Account, psid: str, type: str, url: str | None, *, now: float, mid: str
) -> Envelope:
    """The user sent an attachment (an image, a file, a location...)."""
    attachment = Attachment(type=type, url=url)
    return _envelope(account, psid, now, mid, kind=EventKind.MESSAGE, attachments=(attachment,))


def timer_event(account: Account, psid: str, timer: Timer) -> Envelope:
    """The person's `timer` fell due: an event with no message, at the timer's due time,
    naming its slot and due time (the engine fires it only if the session still holds it)."""
    key = session_key(account.agent_id, psid)
    return Envelope.of_timer(account_id=account.id, psid=psid, session_key=key, timer=timer)


def offered_buttons(messages: Sequence[OutMessage]) -> list[Button]:
    """Every button of the messages, in order: button templates' and cards'."""
    buttons: list[Button] = []
    for message in messages:
        if isinstance(message, GenericTemplate):
            for card in message.cards:
                buttons.extend(card.buttons)
        elif isinstance(message, ButtonTemplate):
            buttons.extend(message.buttons)
    return buttons


def _envelope(account: Account, psid: str, now: float, mid: str | None, **fields: Any) -> Envelope:
    return Envelope(
        account_id=account.id,
        psid=psid,
        session_key=session_key(account.agent_id, psid),
        timestamp=now,
        message_id=mid,
        **fields,
    )
