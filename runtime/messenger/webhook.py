"""Webhook bodies: a POST's JSON -> the events to process, each as an Envelope.

Real traffic is messier than the documentation's samples: entries with `standby` (a thread
another app owns: never answered) or `changes` instead of `messaging`, senders with
`user_ref` instead of `id`, events without a timestamp, postbacks without a `mid`, handover,
reaction, payment and policy events, kinds nobody has seen yet. Whatever is not a person
talking to the page is skipped with a reason (logged once at debug level by the caller),
never an error, so Meta always gets its 200.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from runtime.envelope import Attachment, Envelope, EventKind
from runtime.errors import MalformedBodyError

_ATTACHMENT_TYPES = frozenset({"image", "video", "audio", "file", "location", "fallback"})


@dataclass(frozen=True, slots=True)
class PageEvent:
    """One `messaging` event of one entry, still raw, with the page it was sent to."""

    page_id: str
    event: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Skipped:
    """An event the runtime does not answer, and why (for one debug line)."""

    page_id: str
    reason: str


def parse_body(raw: bytes) -> Mapping[str, Any]:
    """The JSON of a webhook POST; MalformedBodyError (-> 400) unless it is a `page` object."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as err:  # RecursionError: absurdly deep nesting
        raise MalformedBodyError(f"the body is not JSON: {str(err)[:100]}") from err
    if not isinstance(body, dict):
        raise MalformedBodyError("the body is not a JSON object")
    if body.get("object") != "page":
        raise MalformedBodyError(
            f"object is {str(body.get('object'))[:40]!r}, not 'page': not a Messenger webhook"
        )
    if not isinstance(body.get("entry"), list):
        raise MalformedBodyError("the body has no `entry` list")
    return body


def page_events(body: Mapping[str, Any]) -> Iterator[PageEvent | Skipped]:
    """Every event of every entry, in order; what is not a `messaging` event is Skipped."""
    for entry in body["entry"]:
        if not isinstance(entry, dict):
            yield Skipped(page_id="?", reason="an entry that is not an object")
            continue
        page_id = str(entry.get("id", "?"))
        for kind in ("standby", "changes"):
            if kind in entry:
                reason = f"{kind} entry (a thread another app owns)" if kind == "standby" else kind
                yield Skipped(page_id=page_id, reason=reason)
        messaging = entry.get("messaging", [])
        if not isinstance(messaging, list):
            yield Skipped(page_id=page_id, reason="`messaging` is not a list")
            continue
        for event in messaging:
            if isinstance(event, dict):
                yield PageEvent(page_id=page_id, event=event)
            else:
                yield Skipped(page_id=page_id, reason="an event that is not an object")


def to_envelope(
    event: Mapping[str, Any], *, account_id: str, session_key: Callable[[str], str]
) -> Envelope | str:
    """The Envelope of a person's event, or the reason it is not one (echo, delivery...)."""
    sender = event.get("sender")
    psid = sender.get("id") if isinstance(sender, dict) else None
    if not isinstance(psid, str | int) or isinstance(psid, bool):
        return "no sender id (a user_ref sender, or none)"
    psid = str(psid)
    timestamp = event.get("timestamp")
    common: dict[str, Any] = {
        "account_id": account_id,
        "psid": psid,
        "session_key": session_key(psid),
        "timestamp": timestamp / 1000 if isinstance(timestamp, int | float) else 0.0,
    }
    message = event.get("message")
    if isinstance(message, dict):
        if message.get("is_echo"):
            return "an echo of the page's own message"
        return _message(message, common)
    postback = event.get("postback")
    if isinstance(postback, dict):
        return Envelope(
            kind=EventKind.POSTBACK,
            message_id=_text(postback.get("mid")),
            postback_payload=_text(postback.get("payload")),
            postback_title=_text(postback.get("title")),
            referral=_mapping(postback.get("referral")),
            **common,
        )
    if isinstance(event.get("referral"), dict):
        return Envelope(kind=EventKind.REFERRAL, referral=_mapping(event["referral"]), **common)
    if isinstance(event.get("optin"), dict):
        return Envelope(kind=EventKind.OPTIN, optin=_mapping(event["optin"]), **common)
    known = [key for key in event if key not in ("sender", "recipient", "timestamp")]
    return f"a {', '.join(sorted(known)) or 'bodiless'} event"


def _message(message: Mapping[str, Any], common: dict[str, Any]) -> Envelope:
    quick_reply = message.get("quick_reply")
    reply_to = message.get("reply_to")
    return Envelope(
        kind=EventKind.MESSAGE,
        message_id=_text(message.get("mid")),
        text=_text(message.get("text")),
        quick_reply_payload=_text(quick_reply.get("payload"))
        if isinstance(quick_reply, dict)
        else None,
        attachments=tuple(_attachments(message.get("attachments"))),
        reply_to=_text(reply_to.get("mid")) if isinstance(reply_to, dict) else None,
        referral=_mapping(message.get("referral")),
        **common,
    )


def _attachments(items: object) -> Iterator[Attachment]:
    if not isinstance(items, list):
        return
    for item in items:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        payload: Mapping[str, Any] = (
            item["payload"] if isinstance(item.get("payload"), dict) else {}
        )
        coordinates: Mapping[str, Any] = (
            payload["coordinates"] if isinstance(payload.get("coordinates"), dict) else {}
        )
        yield Attachment(
            type=kind if kind in _ATTACHMENT_TYPES else "fallback",
            url=_text(payload.get("url")) or _text(item.get("url")),
            title=_text(item.get("title")) or _text(payload.get("title")),
            latitude=_number(coordinates.get("lat")),
            longitude=_number(coordinates.get("long")),
        )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _mapping(value: object) -> Mapping[str, object] | None:
    return MappingProxyType(dict(value)) if isinstance(value, dict) else None
