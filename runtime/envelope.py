"""Envelope: one inbound event, channel-neutral, as the dialog engine sees it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from runtime.errors import StoreError


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

    def to_json(self) -> str:
        """A compact JSON form, for the durable inbox."""
        data: dict[str, Any] = {
            "account_id": self.account_id,
            "psid": self.psid,
            "session_key": self.session_key,
            "kind": str(self.kind),
            "timestamp": self.timestamp,
            "channel": self.channel,
        }
        optional: dict[str, Any] = {
            "message_id": self.message_id,
            "text": self.text,
            "quick_reply_payload": self.quick_reply_payload,
            "postback_payload": self.postback_payload,
            "postback_title": self.postback_title,
            "attachments": [a.as_context() for a in self.attachments] or None,
            "reply_to": self.reply_to,
            "referral": dict(self.referral) if self.referral else None,
            "optin": dict(self.optin) if self.optin else None,
        }
        data.update({key: value for key, value in optional.items() if value is not None})
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Envelope:
        try:
            data = json.loads(text)
            attachments = tuple(Attachment(**item) for item in data.pop("attachments", ()))
            referral, optin = data.pop("referral", None), data.pop("optin", None)
            return cls(
                **{**data, "kind": EventKind(data["kind"])},
                attachments=attachments,
                referral=MappingProxyType(referral) if referral else None,
                optin=MappingProxyType(optin) if optin else None,
            )
        except (ValueError, TypeError, KeyError) as err:
            raise StoreError(f"a stored inbound event cannot be read: {err}") from err
