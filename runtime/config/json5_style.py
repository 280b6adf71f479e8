"""How a JSON5 file is written (newline, indentation, quotes, trailing commas), guessed from its
text, and values written that way: what runtime/config/json5_edit.py adds to a file looks like
the rest of it."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

WIDTH: Final = 100  # the longest line a value is written on one line for
_IDENTIFIER: Final = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_ESCAPES: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_LINE_CONTINUATION: Final = re.compile(r"\\\r?\n")


@dataclass(frozen=True, slots=True)
class Raw:
    """A value as the file writes it, moved elsewhere as it is: its `text`, the indentation
    of the line it started on (`base`), and its parsed `value`."""

    text: str
    base: str
    value: object


@dataclass(frozen=True, slots=True)
class Style:
    """How a file writes JSON5, so that what an edit adds looks like the rest of it."""

    newline: str = "\n"
    indent: str = "  "  # one level
    key_quote: str = ""  # "": bare keys where JSON5 allows them
    string_quote: str = '"'
    trailing_comma: bool = False  # after the last entry of an object or list written on lines

    @classmethod
    def of(cls, text: str) -> Style:
        """The style most of `text` is written in (a guess from its lines, which is all a
        style is)."""
        keys = Counter(match[1] for match in re.finditer(r"(?m)^\s*([\"']?)[\w$]+\1\s*:", text))
        strings = Counter(re.findall(r""":\s*(["'])""", text))
        return cls(
            newline="\r\n" if "\r\n" in text else "\n",
            indent=_indent_unit(text),
            key_quote=keys.most_common(1)[0][0] if keys else "",
            string_quote=strings.most_common(1)[0][0] if strings else '"',
            trailing_comma=bool(re.search(r",[ \t]*(?://[^\n]*)?\r?\n\s*[}\]]", text)),
        )

    def key(self, name: str) -> str:
        if not self.key_quote and _IDENTIFIER.fullmatch(name):
            return name
        return quote(name, self.key_quote or '"')

    def render(self, value: object, *, indent: str, column: int) -> str:
        """`value` written at `column` of a line indented `indent`: on that line when it fits
        in WIDTH, else a list or object one item a line, indented one level deeper."""
        inline = self._inline(value)
        fits = "\n" not in inline and column + len(inline) < WIDTH
        if fits or not isinstance(value, list | Mapping):
            return self._moved(value, indent) if isinstance(value, Raw) else inline
        inner = indent + self.indent
        if isinstance(value, Mapping):
            items = [
                f"{self.key(str(key))}: "
                + self.render(item, indent=inner, column=len(inner) + len(str(key)) + 2)
                for key, item in value.items()
            ]
            opening, closing = "{", "}"
        else:
            items = [self.render(item, indent=inner, column=len(inner)) for item in value]
            opening, closing = "[", "]"
        lines = [f"{self.newline}{inner}{item}," for item in items]
        if lines and not self.trailing_comma:
            lines[-1] = lines[-1][:-1]
        return opening + "".join(lines) + self.newline + indent + closing

    def _inline(self, value: object) -> str:
        if isinstance(value, Raw):
            return value.text
        if isinstance(value, str):
            return quote(value, self.string_quote)
        if isinstance(value, Mapping):
            entries = (f"{self.key(str(key))}: {self._inline(item)}" for key, item in value.items())
            return "{ " + ", ".join(entries) + " }" if value else "{}"
        if isinstance(value, list):
            return "[" + ", ".join(self._inline(item) for item in value) + "]"
        return json.dumps(value)

    def _moved(self, raw: Raw, indent: str) -> str:
        """`raw`'s text with its later lines indented for its new place: what was under its
        `base` goes under `indent`. Kept as it is when a string in it goes on over a line
        (JSON5's backslash-newline): the spaces after it are the string's."""
        if "\n" not in raw.text or _LINE_CONTINUATION.search(raw.text):
            return raw.text
        first, *rest = raw.text.split("\n")
        moved = [
            indent + line[len(raw.base) :] if line.startswith(raw.base) else line for line in rest
        ]
        return "\n".join([first, *moved])


def quote(text: str, mark: str = '"') -> str:
    """`text` as a JSON5 string between `mark`s (`"` or `'`); other characters kept as they
    are, but control characters and the two line separators JavaScript reads as newlines."""
    out = []
    for char in text:
        if char in (mark, "\\"):
            out.append("\\" + char)
        elif char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or char in "\u2028\u2029":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return mark + "".join(out) + mark


def _indent_unit(text: str) -> str:
    """One level of indentation: a tab when lines are indented with tabs, else the fewest
    spaces a line is indented with (2 when no line is)."""
    indents = re.findall(r"(?m)^([ \t]+)\S", text)
    if sum(indent.startswith("\t") for indent in indents) > len(indents) / 2:
        return "\t"
    widths = [len(indent) for indent in indents if not indent.startswith("\t")]
    return " " * min(max(min(widths), 1), 8) if widths else "  "
