"""What the bot says: rendered outbound messages, channel-neutral and within Messenger limits."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class QuickReply:
    """`content_type` is text, user_email or user_phone_number (the last two have no title)."""

    content_type: str = "text"
    title: str | None = None
    payload: str | None = None
    image_url: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Button:
    """`type` is postback (payload), web_url (url) or phone_number (payload: "+1...")."""

    type: str
    title: str
    payload: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Card:
    title: str
    subtitle: str | None = None
    image_url: str | None = None
    default_action_url: str | None = None
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TextMessage:
    text: str
    quick_replies: tuple[QuickReply, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ButtonTemplate:
    text: str
    buttons: tuple[Button, ...]
    quick_replies: tuple[QuickReply, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class GenericTemplate:
    cards: tuple[Card, ...]
    quick_replies: tuple[QuickReply, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaFile:
    """A file of the bot's folder that a flow sends, as the compiler found it.

    `path` is absolute; `written` is the path as the flow file wrote it (relative to that
    file). `sha256` (hex) is the content's when the flows were compiled: the page's
    attachment id is kept by it, so changed content is uploaded again.
    """

    path: str
    written: str
    mime: str
    sha256: str
    size: int

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    def shown_from(self, folder: str | os.PathLike[str]) -> str:
        """The path as a person reads it: from the bot's folder (`media/logo.png`)."""
        return os.path.relpath(self.path, folder)


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaAttachment:
    """An image, video, audio or file: sent by `url`, or uploaded from `file` (one is set)."""

    type: str
    url: str | None = None
    file: MediaFile | None = None
    quick_replies: tuple[QuickReply, ...] = ()


OutMessage = TextMessage | ButtonTemplate | GenericTemplate | MediaAttachment
