"""What the bot says: rendered outbound messages, channel-neutral and within Messenger limits."""

from __future__ import annotations

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
class MediaAttachment:
    """An image, video, audio or file sent by URL."""

    type: str
    url: str
    quick_replies: tuple[QuickReply, ...] = ()


OutMessage = TextMessage | ButtonTemplate | GenericTemplate | MediaAttachment
