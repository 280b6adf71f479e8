"""Envelope: one inbound event, channel-neutral, as the dialog engine sees it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class EventKind(StrEnum):
    MESSAGE = "message"  # text, a quick-reply tap, attachments
    POSTBACK = "postback"  # a button tap (postback button, get started, persistent menu)
    REFERRAL = "referral"  # an m.me link or an ad, in a thread that already exists
    OPTIN = "optin"  # a plugin opt-in or a notification-messages token


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    """An inbound attachment: `type` is image, video, audio, file, location or fallback."""

    type: str
    url: str | None = None
    title: str | None = None
    latitude: float | None = None
    longitude: float | None = None

    def as_context(self) -> dict[str, object]:
        return {
            "type": self.type,
            "url": self.url,
            "title": self.title,
            "latitude": self.latitude,
            "longitude": self.longitude,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    """What a person did, with where to answer. `timestamp` is Unix seconds.

    `session_key` is `agent:<agentId>:messenger:dm:<psid>`; `payload` is the quick-reply
    payload of a message or the payload of a postback, whichever the event carries.
    """

    account_id: str
    psid: str
    session_key: str
    kind: EventKind
    timestamp: float
    channel: str = "messenger"
    message_id: str | None = None
    text: str | None = None
    quick_reply_payload: str | None = None
    postback_payload: str | None = None
    postback_title: str | None = None
    attachments: tuple[Attachment, ...] = ()
    reply_to: str | None = None
    referral: Mapping[str, object] | None = None
    optin: Mapping[str, object] | None = None
    raw: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def payload(self) -> str | None:
        return self.quick_reply_payload or self.postback_payload

    def as_context(self) -> dict[str, object]:
        """The `message` variable templates see."""
        return {
            "kind": str(self.kind),
            "mid": self.message_id,
            "text": self.text,
            "payload": self.payload,
            "title": self.postback_title,
            "attachments": [attachment.as_context() for attachment in self.attachments],
            "reply_to": self.reply_to,
            "referral": dict(self.referral) if self.referral else None,
            "timestamp": self.timestamp,
        }
