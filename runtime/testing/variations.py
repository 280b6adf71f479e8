"""A text the bot picked among variations, read as the one a test expects when it is any.

A flow's `text: ["Hi!", "Hello!"]` sends one of them at random. The engine records, for each
text it sent that was picked among variations, every one it could have been
(`Conversation.variations`); `runtime test` compares a text, a title or a subtitle with what
was sent through `VariationMatch.match`: when the expected one is among the variations, the
actual line reads it, so the turn passes whichever was picked; when it is not, the line keeps
what was sent and ends with the variations, so the diff says what would have passed::

    +text: "Hi!"  (one of "Hello!", "Hi!")
    +text: "Bye!"  [Yes]  ([Yes] one of "Sure", "Yes")
"""

from __future__ import annotations

import json
from collections.abc import Mapping


class VariationMatch:
    """The parts of one actual message matched against an expectation's, among variations."""

    __slots__ = ("known", "missed")

    def __init__(self, known: Mapping[str, frozenset[str]]) -> None:
        self.known = known  # sent text -> all the variations it was picked among
        self.missed: list[str] = []  # `(one of ...)` notes, for the actual line

    def match(self, sent: str, expected: str | None, label: str = "") -> str:
        """`expected` when it is a variation of `sent`, else `sent` (its variations noted).
        `label` names the part in the note (a title: `[Yes] `); none for the message's text."""
        variations = self.known.get(sent)
        if variations is None or expected is None:
            return sent
        if expected in variations:
            return expected
        shown = ", ".join(json.dumps(text, ensure_ascii=False) for text in sorted(variations))
        self.missed.append(f"({label}one of {shown})")
        return sent

    def match_all(
        self, sent: tuple[str, ...], expected: tuple[str, ...] | None, label: str
    ) -> tuple[str, ...]:
        """Titles, each matched with the expected one at its place; `label` holds `{}` for
        the title (`[{}] `)."""
        wanted = expected or ()
        return tuple(
            self.match(title, wanted[index] if index < len(wanted) else None, label.format(title))
            for index, title in enumerate(sent)
        )

    def annotate(self, line: str) -> str:
        """`line` followed by the notes of the variations that did not match."""
        return "  ".join((line, *self.missed))
