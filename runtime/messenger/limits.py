"""Messenger's limits, in one table used at validate time and at send time.

Validation checks literal values in flow files against these numbers; rendering cuts what
templates produce to fit them (and the caller logs it), so the Graph API never rejects a
send for length. Two numbers are the runtime's own, not Meta's: how much of a person's text
the engine reads (`inbound_text`), and how many messages one text may become
(`messages_per_text`), so that no message, however long, makes the bot flood a thread.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, NamedTuple


@dataclass(frozen=True, slots=True)
class Limits:
    text: int = 2000
    quick_replies: int = 13
    quick_reply_title: int = 20
    buttons: int = 3
    button_title: int = 20
    button_template_text: int = 640
    cards: int = 10
    card_title: int = 80
    card_subtitle: int = 80
    payload: int = 1000  # Meta's, both ways: a tap sends back at most this much
    thread_metadata: int = 1000  # Meta's, both ways: a thread-control call's `metadata`
    # Meta's: any asset of the Attachment Upload API is up to 25 MB (saving-assets, April
    # 2026), counted in decimal megabytes, the stricter reading
    file_bytes: int = 25_000_000
    # what the runtime reads of an inbound event (a signed body may still be 1 MiB of it)
    inbound_text: int = 20_000  # characters of a person's text; the rest is cut
    inbound_title: int = 1000  # a postback's or an attachment's title (Meta's button: 20)
    inbound_url: int = 8000  # RFC 9110's floor for URIs: a longer attachment URL is left out
    # what the runtime sends for one text step, however long the text renders
    messages_per_text: int = 10


LIMITS: Final = Limits()
ELLIPSIS: Final = "…"

# the best place to break a long text, best first: paragraph, line, sentence, word
_BREAKS: Final = (
    re.compile(r"\n\s*\n"),
    re.compile(r"\n"),
    re.compile(r"(?<=[.!?])\s+"),
    re.compile(r"\s+"),
)


def fit(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending in an ellipsis when it was cut."""
    if len(text) <= limit:
        return text
    return text[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


class TextParts(NamedTuple):
    """A text cut into messages: the `parts` to send, and how many characters did not fit."""

    parts: list[str]
    left_out: int


def split_text(text: str, limit: int = LIMITS.text) -> list[str]:
    """Split a long text into ordered parts of at most `limit` characters.

    Breaks at a paragraph if one falls in the second half of a part, else at a line, a
    sentence or a word boundary, and only mid-word when a single word is longer than `limit`.
    """
    return [part for part, _ in _split(text, limit)]


def split_message_text(
    text: str, limit: int = LIMITS.text, *, max_parts: int = LIMITS.messages_per_text
) -> TextParts:
    """`split_text`, keeping at most `max_parts` parts: what comes after them is left out.

    Only the parts kept are computed, so a text of megabytes costs no more than ten parts.
    """
    parts: list[str] = []
    for part, rest in _split(text, limit):
        if len(parts) == max_parts:
            return TextParts(parts, left_out=rest)
        parts.append(part)
    return TextParts(parts, left_out=0)


_NOT_SPACE: Final = re.compile(r"\S")


def _split(text: str, limit: int) -> Iterator[tuple[str, int]]:
    """Each part of `text`, lazily, with the number of characters from its start to the end.

    The text is walked with an index, not sliced down part by part: a long text costs
    O(length), not O(length² / limit).
    """
    whole = text.strip()
    start = 0
    while len(whole) - start > limit:
        window = whole[start : start + limit + 1]
        cut = _best_break(window, limit)
        yield window[:cut].rstrip(), len(whole) - start
        found = _NOT_SPACE.search(whole, start + cut)  # the next part starts after the break
        start = found.start() if found is not None else len(whole)
    if start < len(whole) or start == 0:
        yield whole[start:], len(whole) - start


def _best_break(window: str, limit: int) -> int:
    for pattern in _BREAKS:
        ends = [match for match in pattern.finditer(window) if match.start() > 0]
        ends = [match for match in ends if match.start() <= limit]
        if ends and ends[-1].start() >= limit // 2:
            return ends[-1].start()
    for pattern in _BREAKS:  # no break in the second half: take any break at all
        ends = [match for match in pattern.finditer(window) if 0 < match.start() <= limit]
        if ends:
            return ends[-1].start()
    return limit
