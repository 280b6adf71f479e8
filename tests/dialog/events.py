"""Envelopes shaped as the webhook parser makes them: what one person does in Messenger."""

from __future__ import annotations

from collections.abc import Mapping

from runtime.envelope import Attachment, Envelope, EventKind
from runtime.session import session_key

PSID = "24032400001"
ACCOUNT = "default"
KEY = session_key("main", PSID)


def _envelope(kind: EventKind = EventKind.MESSAGE, **fields: object) -> Envelope:
    return Envelope(
        account_id=ACCOUNT,
        psid=PSID,
        session_key=KEY,
        kind=kind,
        timestamp=1_700_000_000.0,
        message_id="m_1",
        **fields,  # type: ignore[arg-type]
    )


def text(words: str, *attachments: Attachment) -> Envelope:
    """A typed message, maybe with attachments (a photo with a caption)."""
    return _envelope(text=words, attachments=attachments)


def tap(payload: str, title: str | None = None) -> Envelope:
    """A tap on a quick reply: Messenger sends its title as the text, and its payload."""
    return _envelope(text=title if title is not None else payload, quick_reply_payload=payload)


def postback(payload: str, title: str = "Menu") -> Envelope:
    """A tap on a postback button, the Get Started button or a persistent-menu item."""
    return _envelope(EventKind.POSTBACK, postback_payload=payload, postback_title=title)


def attachment(kind: str, url: str = "https://cdn.example.com/a") -> Envelope:
    """A message with one attachment (image, video, audio, file) and no text."""
    return _envelope(attachments=(Attachment(type=kind, url=url),))


def image(url: str = "https://cdn.example.com/cat.jpg") -> Envelope:
    return attachment("image", url)


def referral(ref: str = "spring_ad") -> Envelope:
    """An m.me link opened in a thread that already exists."""
    data: Mapping[str, object] = {"ref": ref, "source": "SHORTLINK", "type": "OPEN_THREAD"}
    return _envelope(EventKind.REFERRAL, referral=data)
