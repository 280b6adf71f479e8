"""What the person does on the page, as the webhook POST Meta would make of it.

`person_event` reads the page's request (`{"text": "hi"}`, a quick reply, a postback, an
attachment, a read) into one `messaging[]` event of Messenger's shape; `webhook_body` wraps
it in the page's entry. The body is signed like Meta signs it (`X-Hub-Signature-256`) and
posted to the server's own webhook, so it takes the road a real one takes.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from runtime.messenger.limits import LIMITS

ATTACHMENT_TYPES: Final = ("image", "audio", "video", "file")
ACTIONS: Final = ("text", "quick_reply", "postback", "attachment", "read")
_serial = itertools.count(1)


class RequestError(ValueError):
    """A request of the page that the emulator cannot act on; the message says why."""

    status = 400  # the HTTP status of the answer


@dataclass(frozen=True, slots=True)
class PersonEvent:
    """One `messaging[]` event, and its message id (None for a read)."""

    event: dict[str, Any]
    mid: str | None


def new_mid() -> str:
    """A message id in Meta's style, unique in this process (`m_` and opaque characters)."""
    return f"m_emu{next(_serial)}_{secrets.token_urlsafe(12)}"


def person_event(request: Mapping[str, Any], *, psid: str, page_id: str) -> PersonEvent:
    """The event of what `request` says the person did. Raises RequestError."""
    given = [action for action in ACTIONS if request.get(action) not in (None, False)]
    if len(given) != 1:
        raise RequestError(f"give exactly one of {', '.join(ACTIONS)}; got {given or 'none'}")
    action = given[0]
    now = int(time.time() * 1000)
    event: dict[str, Any] = {
        "sender": {"id": psid},
        "recipient": {"id": page_id},
        "timestamp": now,
    }
    if action == "read":
        event["read"] = {"watermark": now}
        return PersonEvent(event, None)
    mid = new_mid()
    value = request[action]
    if action == "text":
        event["message"] = {"mid": mid, "text": _text(value, "text")}
    elif action == "quick_reply":
        tap = _mapping(value, action)
        event["message"] = {
            "mid": mid,
            "text": _text(tap.get("title"), "quick_reply.title"),
            "quick_reply": {"payload": _payload(tap.get("payload"), "quick_reply.payload")},
        }
    elif action == "postback":
        tap = _mapping(value, action)
        event["postback"] = {
            "mid": mid,
            "title": _text(tap.get("title"), "postback.title"),
            "payload": _payload(tap.get("payload"), "postback.payload"),
        }
    else:
        sent = _mapping(value, action)
        kind = sent.get("type")
        if kind not in ATTACHMENT_TYPES:
            raise RequestError(f"attachment.type is one of {', '.join(ATTACHMENT_TYPES)}")
        url = _text(sent.get("url"), "attachment.url")
        attachment = {"type": kind, "payload": {"url": url}}
        event["message"] = {"mid": mid, "attachments": [attachment]}
    return PersonEvent(event, mid)


def webhook_body(event: Mapping[str, Any], *, page_id: str) -> dict[str, Any]:
    """The POST body of one event: `object: page`, one entry of the page."""
    return {
        "object": "page",
        "entry": [{"id": page_id, "time": event["timestamp"], "messaging": [dict(event)]}],
    }


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RequestError(f"{where} is an object")
    return value


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RequestError(f"{where} is a text that is not empty")
    return value


def _payload(value: object, where: str) -> str:
    text = _text(value, where)
    if len(text) > LIMITS.payload:
        raise RequestError(f"{where} is longer than Messenger's {LIMITS.payload} characters")
    return text
