"""Messenger's limits, in one table used at validate time and at send time.

Validation checks literal values in flow files against these numbers; rendering cuts what
templates produce to fit them (and the caller logs it), so the Graph API never rejects a
send for length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final


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
    payload: int = 1000


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


def split_text(text: str, limit: int = LIMITS.text) -> list[str]:
    """Split a long text into ordered parts of at most `limit` characters.

    Breaks at a paragraph if one falls in the second half of a part, else at a line, a
    sentence or a word boundary, and only mid-word when a single word is longer than `limit`.
    """
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = _best_break(window, limit)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not parts:
        parts.append(rest)
    return parts


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
