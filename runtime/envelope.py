"""Envelope: one inbound event, channel-neutral, as the dialog engine sees it.

What a person sends is capped here, where every entry point builds the event (the webhook,
`runtime chat`, `runtime test`): a signed body of 1 MiB may hold one enormous text, and
neither the triggers, the templates, the session nor the inbox should carry all of it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from runtime.errors import StoreError
from runtime.messenger.limits import LIMITS
from runtime.timers import FiredTimer, Timer

logger = logging.getLogger("runtime.envelope")

# the strings of an Envelope a person (or Meta on their behalf) chooses, and their caps
_CAPPED: Final = (
    ("text", "text", LIMITS.inbound_text),
    ("quick_reply_payload", "quick-reply payload", LIMITS.payload),
    ("postback_payload", "postback payload", LIMITS.payload),
    ("postback_title", "postback title", LIMITS.inbound_title),
)


class EventKind(StrEnum):
    MESSAGE = "message"  # text, a quick-reply tap, attachments
    POSTBACK = "postback"  # a button tap (postback button, get started, persistent menu)
    REFERRAL = "referral"  # an m.me link or an ad, in a thread that already exists
    OPTIN = "optin"  # a plugin opt-in or a notification-messages token
    THREAD_CONTROL = "thread_control"  # Conversation Routing: the thread changed hands
    TIMER = "timer"  # a timer of the person's fell due (`runtime/timers.py`): not from them


class ThreadAction(StrEnum):
    """The `messaging_handovers` events: who has the person's thread now."""

    PASS = "pass_thread_control"  # noqa: S105 - passed to us: Meta tells the new owner
    TAKE = "take_thread_control"  # taken from us: Meta tells the app that lost it
    REQUEST = "request_thread_control"  # another app asks us for it


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadControl:
    """A `messaging_handovers` event: app ids are decimal strings, None when Meta sent none
    (`previous_owner_app_id` is null when the thread was idle)."""

    action: ThreadAction
    new_owner_app_id: str | None = None
    previous_owner_app_id: str | None = None
    requested_owner_app_id: str | None = None
    metadata: str | None = None

    def as_json(self) -> dict[str, object]:
        data = {
            "action": str(self.action),
            "new_owner_app_id": self.new_owner_app_id,
            "previous_owner_app_id": self.previous_owner_app_id,
            "requested_owner_app_id": self.requested_owner_app_id,
            "metadata": self.metadata,
        }
        return {key: value for key, value in data.items() if value is not None}


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
    `standby` marks an event of a thread another app owns (a human, usually): it is kept
    and never answered. A THREAD_CONTROL event carries `thread_control` and no message; a
    TIMER event carries `timer` (which of the person's timers fell due) and no message.
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
    standby: bool = False
    thread_control: ThreadControl | None = None
    timer: FiredTimer | None = None

    def __post_init__(self) -> None:
        """Cap what the person sent; one log line says who sent how much, never what.

        Texts are cut to LIMITS.inbound_text, payloads to Meta's own 1000 (a longer one
        matches no trigger anyway). An Envelope read back from the inbox was capped when it
        was first built, so this logs once an event.
        """
        cuts: list[str] = []
        for field, what, limit in _CAPPED:
            value = getattr(self, field)
            if value is not None and len(value) > limit:
                object.__setattr__(self, field, value[:limit])
                cuts.append(f"{what} of {len(value)} characters cut to {limit}")
        if any(_oversized(attachment) for attachment in self.attachments):
            kept = tuple(_capped(attachment, cuts) for attachment in self.attachments)
            object.__setattr__(self, "attachments", kept)
        if cuts:
            logger.warning(
                "%s from %s to account '%s': %s",
                self.kind,
                self.psid,
                self.account_id,
                "; ".join(cuts),
            )

    @classmethod
    def of_timer(cls, *, account_id: str, psid: str, session_key: str, timer: Timer) -> Envelope:
        """The event of the person's `timer` falling due: no message, at its due time,
        naming its slot and due time (the engine fires it only if the session still holds
        that very timer)."""
        fired = FiredTimer(slot=timer.slot, due_at=timer.due_at)
        return cls(
            account_id=account_id,
            psid=psid,
            session_key=session_key,
            kind=EventKind.TIMER,
            timestamp=timer.due_at,
            timer=fired,
        )

    @property
    def payload(self) -> str | None:
        return self.quick_reply_payload or self.postback_payload

    @property
    def from_person(self) -> bool:
        """Whether the person did this (a thread-control event is Meta's, about them; a
        timer is the bot's): only what they did opens the 24-hour window."""
        return self.kind not in (EventKind.THREAD_CONTROL, EventKind.TIMER)

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
            "standby": True if self.standby else None,
            "thread_control": self.thread_control.as_json() if self.thread_control else None,
            "timer": self.timer.as_json() if self.timer else None,
        }
        data.update({key: value for key, value in optional.items() if value is not None})
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Envelope:
        try:
            data = json.loads(text)
            attachments = tuple(Attachment(**item) for item in data.pop("attachments", ()))
            referral, optin = data.pop("referral", None), data.pop("optin", None)
            control = data.pop("thread_control", None)
            timer = data.pop("timer", None)
            return cls(
                **{**data, "kind": EventKind(data["kind"])},
                attachments=attachments,
                referral=MappingProxyType(referral) if referral else None,
                optin=MappingProxyType(optin) if optin else None,
                thread_control=(
                    ThreadControl(**{**control, "action": ThreadAction(control["action"])})
                    if control
                    else None
                ),
                timer=FiredTimer(slot=str(timer["slot"]), due_at=float(timer["due_at"]))
                if timer
                else None,
            )
        except (ValueError, TypeError, KeyError) as err:
            raise StoreError(f"a stored inbound event cannot be read: {err}") from err


def _oversized(attachment: Attachment) -> bool:
    url, title = attachment.url, attachment.title
    return (url is not None and len(url) > LIMITS.inbound_url) or (
        title is not None and len(title) > LIMITS.inbound_title
    )


def _capped(attachment: Attachment, cuts: list[str]) -> Attachment:
    """`attachment` within the caps: a title is cut, a URL left out (a cut URL leads nowhere)."""
    url, title = attachment.url, attachment.title
    if url is not None and len(url) > LIMITS.inbound_url:
        cuts.append(f"{attachment.type} URL of {len(url)} characters left out")
        url = None
    if title is not None and len(title) > LIMITS.inbound_title:
        cuts.append(
            f"{attachment.type} title of {len(title)} characters cut to {LIMITS.inbound_title}"
        )
        title = title[: LIMITS.inbound_title]
    return replace(attachment, url=url, title=title)
