"""Send API request bodies: rendered messages and sender actions as Graph API JSON.

A file attachment's body (`attachment: { file: ... }`) carries, in place of Meta's payload,
a reference to the file: `{"attachment": {"type": "image", "payload": {"runtime_file":
{"path", "sha256", "mime"}}}}`. That is what the outbox keeps; the sender swaps it for
`{"attachment_id": ...}` (`with_attachment_id`) just before the call, so it never reaches
Meta and the id is always one of the page's own that is still valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from runtime.dialog.messages import (
    Button,
    ButtonTemplate,
    Card,
    GenericTemplate,
    MediaAttachment,
    OutMessage,
    QuickReply,
    TextMessage,
)

FILE_REFERENCE: Final = "runtime_file"  # the payload key of a file to upload: ours, not Meta's


@dataclass(frozen=True, slots=True)
class FileReference:
    """A file a message sends, as its Send API body names it: what the sender uploads."""

    type: str  # the attachment type: image, video, audio or file
    path: str  # absolute
    sha256: str  # hex, of the content when the flows were compiled
    mime: str


class MessagingType(StrEnum):
    RESPONSE = "RESPONSE"  # a reply to a message the person sent
    UPDATE = "UPDATE"  # a proactive send inside the 24-hour window
    MESSAGE_TAG = "MESSAGE_TAG"  # outside the window, with a tag


class SenderAction(StrEnum):
    MARK_SEEN = "mark_seen"
    TYPING_ON = "typing_on"
    TYPING_OFF = "typing_off"


def message_request(
    psid: str,
    message: OutMessage,
    *,
    messaging_type: MessagingType = MessagingType.RESPONSE,
    tag: str | None = None,
) -> dict[str, Any]:
    """The body of `POST /me/messages` for one message (the token goes in the query)."""
    body: dict[str, Any] = {
        "recipient": {"id": psid},
        "messaging_type": str(messaging_type),
        "message": message_json(message),
    }
    if tag is not None:
        body["tag"] = tag
    return body


def sender_action_request(psid: str, action: SenderAction) -> dict[str, Any]:
    """A sender action is a request of its own, never combined with a message."""
    return {"recipient": {"id": psid}, "sender_action": str(action)}


def message_json(message: OutMessage) -> dict[str, Any]:
    result: dict[str, Any]
    if isinstance(message, TextMessage):
        result = {"text": message.text}
    elif isinstance(message, ButtonTemplate):
        result = _template(
            {
                "template_type": "button",
                "text": message.text,
                "buttons": [_button(b) for b in message.buttons],
            }
        )
    elif isinstance(message, GenericTemplate):
        result = _template(
            {"template_type": "generic", "elements": [_card(card) for card in message.cards]}
        )
    else:
        result = _media(message)
    if message.quick_replies:
        result["quick_replies"] = [_quick_reply(reply) for reply in message.quick_replies]
    return result


def _template(payload: dict[str, Any]) -> dict[str, Any]:
    return {"attachment": {"type": "template", "payload": payload}}


def _media(message: MediaAttachment) -> dict[str, Any]:
    if message.file is not None:
        file = message.file
        reference = {"path": file.path, "sha256": file.sha256, "mime": file.mime}
        return {"attachment": {"type": message.type, "payload": {FILE_REFERENCE: reference}}}
    return {
        "attachment": {"type": message.type, "payload": {"url": message.url, "is_reusable": True}}
    }


def file_reference(body: Mapping[str, Any]) -> FileReference | None:
    """The file a Send API body asks to upload, or None: a dict lookup or two for any other
    body (bodies are dicts, built here or read from JSON; `Mapping` checks cost more)."""
    message = body.get("message")
    if not isinstance(message, dict):
        return None
    attachment = message.get("attachment")
    if not isinstance(attachment, dict):
        return None
    payload = attachment.get("payload")
    reference = payload.get(FILE_REFERENCE) if isinstance(payload, dict) else None
    if not isinstance(reference, dict):
        return None
    return FileReference(
        type=str(attachment.get("type", "file")),
        path=str(reference.get("path", "")),
        sha256=str(reference.get("sha256", "")),
        mime=str(reference.get("mime", "")),
    )


def with_attachment_id(body: Mapping[str, Any], attachment_id: str) -> dict[str, Any]:
    """`body` (a file attachment's) as Meta gets it: the file reference replaced by the
    page's `attachment_id`; quick replies and everything else kept."""
    message = body["message"]
    kind = message["attachment"]["type"]
    attachment = {"type": kind, "payload": {"attachment_id": attachment_id}}
    return {**body, "message": {**message, "attachment": attachment}}


def _button(button: Button) -> dict[str, Any]:
    result: dict[str, Any] = {"type": button.type, "title": button.title}
    if button.type == "web_url":
        result["url"] = button.url
    else:
        result["payload"] = button.payload
    return result


def _card(card: Card) -> dict[str, Any]:
    result: dict[str, Any] = {"title": card.title}
    if card.subtitle:
        result["subtitle"] = card.subtitle
    if card.image_url:
        result["image_url"] = card.image_url
    if card.default_action_url:
        result["default_action"] = {"type": "web_url", "url": card.default_action_url}
    if card.buttons:
        result["buttons"] = [_button(button) for button in card.buttons]
    return result


def _quick_reply(reply: QuickReply) -> dict[str, Any]:
    result: dict[str, Any] = {"content_type": reply.content_type}
    if reply.content_type == "text":
        result["title"] = reply.title
        result["payload"] = reply.payload
    if reply.image_url:
        result["image_url"] = reply.image_url
    return result
