"""Webhook bodies: a POST's JSON -> the events to process, each as an Envelope.

Real traffic is messier than the documentation's samples: entries with `standby` (a thread
another app owns) or `changes` instead of `messaging`, senders with `user_ref` instead of
`id`, events without a timestamp, postbacks without a `mid`, reaction, payment and policy
events, kinds nobody has seen yet. Whatever is neither a person talking to the page nor a
change of who has their thread is skipped with a reason (logged once at debug level by the
caller), never an error, so Meta always gets its 200.

Conversation Routing: a `standby` entry's events are what the person says while another app
(a human's inbox) has the thread; they become Envelopes marked `standby`, kept and never
answered (Meta sends standby postbacks without their payload). The `messaging_handovers`
events (`pass_thread_control`, `take_thread_control`, `request_thread_control`) become
THREAD_CONTROL Envelopes.

A field of the wrong type is treated as absent, never trusted: whatever an Envelope holds
is what the inbox can store as UTF-8 JSON and read back equal (tests/fuzz checks this).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NoReturn

from runtime.envelope import Attachment, Envelope, EventKind, ThreadAction, ThreadControl
from runtime.errors import MalformedBodyError
from runtime.messenger.limits import LIMITS

_ATTACHMENT_TYPES = frozenset({"image", "video", "audio", "file", "location", "fallback"})
_ID = re.compile(r"[0-9]{1,64}")  # page ids and PSIDs are decimal strings (~16 digits)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_KEPT_DEPTH = 32  # a referral or optin nested deeper is not Meta's: it is dropped


@dataclass(frozen=True, slots=True)
class PageEvent:
    """One `messaging` (or `standby`) event of one entry, still raw, with the page it was
    sent to; `standby`: the thread is another app's, so it is recorded, never answered."""

    page_id: str
    event: Mapping[str, Any]
    standby: bool = False


@dataclass(frozen=True, slots=True)
class Skipped:
    """An event the runtime does not answer, and why (for one debug line)."""

    page_id: str
    reason: str


def parse_body(raw: bytes) -> Mapping[str, Any]:
    """The JSON of a webhook POST; MalformedBodyError (-> 400) unless it is a `page` object.

    Stricter than `json.loads(raw)`, which guesses UTF-16 or UTF-32, lets UTF-8-encoded
    surrogates through, and reads `NaN`, `Infinity` and `1e400` as floats no store keeps.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise MalformedBodyError(f"the body is not UTF-8: {err}") from err
    try:
        body = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as err:  # RecursionError: absurdly deep nesting
        raise MalformedBodyError(f"the body is not JSON: {str(err)[:100]}") from err
    if not isinstance(body, dict):
        raise MalformedBodyError("the body is not a JSON object")
    kind = body.get("object")
    if kind != "page":
        # only a string is shown: repr() of a deeply nested value can itself overflow
        shown = repr(kind[:40]) if isinstance(kind, str) else f"a JSON {type(kind).__name__}"
        raise MalformedBodyError(f"object is {shown}, not 'page': not a Messenger webhook")
    if not isinstance(body.get("entry"), list):
        raise MalformedBodyError("the body has no `entry` list")
    return body


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(token: str) -> float:
    number = float(token)
    if not math.isfinite(number):
        raise ValueError(f"{token[:20]} is too large for a number")
    return number


def entry_page_ids(body: Mapping[str, Any]) -> list[str]:
    """The page id of each entry, in order, as `page_events` gives it ("?" when none is)."""
    return [_page_id(entry) for entry in body["entry"]]


def _page_id(entry: object) -> str:
    return (_id(entry.get("id")) if isinstance(entry, dict) else None) or "?"


def page_events(body: Mapping[str, Any]) -> Iterator[PageEvent | Skipped]:
    """Every event of every entry, in order: `standby` ones, then `messaging` ones (an entry
    has one or the other in practice); `changes` are Skipped."""
    for entry in body["entry"]:
        if not isinstance(entry, dict):
            yield Skipped(page_id="?", reason="an entry that is not an object")
            continue
        page_id = _page_id(entry)
        if "changes" in entry:
            yield Skipped(page_id=page_id, reason="changes")
        for key in ("standby", "messaging"):
            events = entry.get(key, [])
            if not isinstance(events, list):
                yield Skipped(page_id=page_id, reason=f"`{key}` is not a list")
                continue
            for event in events:
                if isinstance(event, dict):
                    yield PageEvent(page_id=page_id, event=event, standby=key == "standby")
                else:
                    yield Skipped(page_id=page_id, reason="an event that is not an object")


def to_envelope(
    event: Mapping[str, Any],
    *,
    account_id: str,
    session_key: Callable[[str], str],
    standby: bool = False,
) -> Envelope | str:
    """The Envelope of a person's event, or of a change of who has their thread, or the
    reason it is neither (echo, delivery...). `standby`: it came in a `standby` entry."""
    sender = event.get("sender")
    psid = _id(sender.get("id")) if isinstance(sender, dict) else None
    if psid is None:
        return "no sender id (a user_ref sender, or none)"
    common: dict[str, Any] = {
        "account_id": account_id,
        "psid": psid,
        "session_key": session_key(psid),
        "timestamp": _seconds(event.get("timestamp")),
    }
    control = _thread_control(event)
    if control is not None:
        if standby:  # Meta sends these in `messaging`, to the apps concerned; not this one
            return f"a {control.action} event in standby (between other apps)"
        return Envelope(kind=EventKind.THREAD_CONTROL, thread_control=control, **common)
    if standby:
        common["standby"] = True
    message = event.get("message")
    if isinstance(message, dict):
        if message.get("is_echo"):  # anything truthy: answering our own echo would loop
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
    return f"a {_kinds(event)} event"


def _thread_control(event: Mapping[str, Any]) -> ThreadControl | None:
    """The `messaging_handovers` event this is, if it is one."""
    for action in ThreadAction:
        data = event.get(str(action))
        if isinstance(data, dict):
            metadata = _text(data.get("metadata"))
            return ThreadControl(
                action=action,
                new_owner_app_id=_id(data.get("new_owner_app_id")),
                previous_owner_app_id=_id(data.get("previous_owner_app_id")),
                requested_owner_app_id=_id(data.get("requested_owner_app_id")),
                metadata=metadata[: LIMITS.thread_metadata] if metadata else None,
            )
    return None


def _kinds(event: Mapping[str, Any]) -> str:
    """`delivery`, `read, reaction`...: a few of an event's keys, short enough for one line."""
    known = sorted(key for key in event if key not in ("sender", "recipient", "timestamp"))
    shown = ", ".join(_clean(key[:40]) for key in known[:3])
    return (shown + (", ..." if len(known) > 3 else "")) or "bodiless"


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
            # `in` on a frozenset hashes its operand: a list or an object there would raise
            type=kind if isinstance(kind, str) and kind in _ATTACHMENT_TYPES else "fallback",
            url=_text(payload.get("url")) or _text(item.get("url")),
            title=_text(item.get("title")) or _text(payload.get("title")),
            latitude=_number(coordinates.get("lat")),
            longitude=_number(coordinates.get("long")),
        )


def _id(value: object) -> str | None:
    """A page id or PSID: decimal digits, given as a string (or, leniently, a JSON integer).

    Anything else (a float, a bool, an object, 4000 digits) is no id: replies go to it, and
    sessions and logs are keyed by it.
    """
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**64:
        return str(value)
    return value if isinstance(value, str) and _ID.fullmatch(value) else None


def _seconds(milliseconds: object) -> float:
    """Meta's millisecond timestamp in Unix seconds; 0.0 when absent, negative or absurd."""
    seconds = _number(milliseconds)
    return seconds / 1000 if seconds is not None and seconds >= 0 else 0.0


def _text(value: object) -> str | None:
    return _clean(value) if isinstance(value, str) else None


def _clean(text: str) -> str:
    """`text` without lone surrogates (`"\\ud800"` in JSON), which UTF-8 cannot encode."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def _number(value: object) -> float | None:
    """A finite float, or None: `bool` is no number, and an int can overflow a float."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer of hundreds of digits
        return None
    return number if math.isfinite(number) else None


def _mapping(value: object) -> Mapping[str, object] | None:
    """A referral or optin object, kept whole as plain JSON; None when empty or too deep.

    An empty object is None because the inbox drops empty fields: `{}` would not come back.
    """
    if not isinstance(value, dict) or not value:
        return None
    try:
        kept = _plain(value, _MAX_KEPT_DEPTH)
    except _TooDeepError:
        return None
    return MappingProxyType(kept) if isinstance(kept, dict) else None


class _TooDeepError(Exception):
    """A kept object nested deeper than `_MAX_KEPT_DEPTH`: never Meta's."""


def _plain(value: object, depth: int) -> object:
    """A copy of a JSON value with every string `_clean`, at most `depth` containers deep."""
    if isinstance(value, str):
        return _clean(value)
    if not isinstance(value, dict | list):
        return value
    if depth == 0:
        raise _TooDeepError
    if isinstance(value, list):
        return [_plain(item, depth - 1) for item in value]
    return {_clean(key): _plain(item, depth - 1) for key, item in value.items()}
