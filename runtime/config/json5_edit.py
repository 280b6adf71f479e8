"""Editing a JSON5 file in place: a value replaced, an entry added to an object, by key path,
with every other byte of the file (comments, key order, quotes, spacing, commas) kept.

The JSON5 libraries parse to plain values and drop comments and formatting, so dumping a
parsed document would rewrite the whole file. Here the parsed document says what is there,
runtime/config/positions.py says where each key is written, and a light scan from a key
finds where its value ends: an edit splices that span of the text and nothing else. New
values are written in the file's own `Style` (newline, indentation, quotes, trailing
commas), on one line when short, one entry a line when long. `Json5Editor.text_after`
parses the result and checks it holds exactly what the edits meant, so a scan that went
wrong refuses instead of damaging the file.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import pyjson5

from runtime.config.json5file import DEEPEST
from runtime.config.positions import Positions

WIDTH: Final = 100  # the longest line a value is written on one line for
_SPACE: Final = re.compile(r"(?:\s+|//[^\n]*|/\*.*?\*/)*", re.DOTALL)
_STRING: Final = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'""", re.DOTALL)
_BARE: Final = re.compile(r"""[^\s{}\[\]:,"'/]+""")  # a number, true, null, a bare key
_PLAIN: Final = re.compile(r"""[^"'/{}\[\]]+""")  # nothing that opens, closes or quotes
_IDENTIFIER: Final = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_ESCAPES: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_LINE_CONTINUATION: Final = re.compile(r"\\\r?\n")


class EditError(Exception):
    """An edit that cannot be made safely (a path that is not there, a check that failed)."""


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace `text[start:end]` with `new` (an insertion when start == end)."""

    start: int
    end: int
    new: str


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


class Json5Editor:
    """The edits of one JSON5 text, made against the text as read and applied at once.

    `data` and `positions` are the text's parse and scan (`read_json5` gives both). Key paths
    are dotted (`flows.welcome.steps.0.text`); a key holding dots is found as positions.py
    finds it.
    """

    def __init__(self, text: str, data: object, positions: Positions) -> None:
        self.text = text
        self.data = data
        self.style = Style.of(text)
        self._finder = positions.finder(data)
        self._edits: list[Edit] = []
        self._expected = copy.deepcopy(data)

    def value(self, path: str) -> object:
        """The parsed value at `path`; EditError if there is none."""
        value = self.data
        for part in self._parts(path):
            value = value[part]  # type: ignore[index]
        return value

    def raw(self, path: str) -> Raw:
        """The value at `path` as the file writes it, to move it elsewhere."""
        start, end = self.span(path)
        return Raw(self.text[start:end], self._indent_at(start), self.value(path))

    def span(self, path: str) -> tuple[int, int]:
        """Where the value at `path` is written: `text[start:end]`."""
        parts = self._parts(path)
        offset = self._finder.offset(path)
        if offset is None:  # the scan and the parse disagree: never on a text that parsed
            raise EditError(f"{path}: cannot find where it is written")
        if parts and not isinstance(parts[-1], int):  # a key: its value is after the colon
            offset = _after_key(self.text, offset, path)
        return offset, _value_end(self.text, offset)

    def replace(self, path: str, value: object) -> None:
        """Write `value` (which may hold Raw pieces) in place of the value at `path`."""
        start, end = self.span(path)
        indent = self._indent_at(start)
        column = start - self._line_start(start)
        self._edits.append(Edit(start, end, self.style.render(value, indent=indent, column=column)))
        self._expect(self._parts(path), value)

    def set_entry(self, path: str, key: str, value: object) -> None:
        """Set `key` of the object at `path` to `value`: its value replaced when it has
        the key, else a new last entry written the way the object writes its entries."""
        found = self.value(path)
        if not isinstance(found, Mapping):
            raise EditError(f"{path}: is not an object")
        if key in found:
            self.replace(f"{path}.{key}" if path else key, value)
            return
        if not found:
            self.replace(path, {key: value})
            return
        last = f"{path}.{list(found)[-1]}" if path else str(list(found)[-1])
        self._edits.extend(self._insertion(self.span(path), last, key, value))
        self._expect([*self._parts(path), key], value)

    def text_after(self) -> str:
        """The text with every edit made; EditError if it does not parse to what they meant."""
        text = apply_edits(self.text, self._edits)
        try:
            parsed = pyjson5.decode(text, maxdepth=DEEPEST)
        except pyjson5.Json5Exception as err:  # its message holds values: secrets, maybe
            raise EditError("the edited text is not JSON5") from err
        if parsed != self._expected:
            raise EditError("the edited text does not hold what the edits meant")
        return text

    # -- where things are ----------------------------------------------------------------
    def _parts(self, path: str) -> list[str | int]:
        parts = path_parts(self.data, path)
        if parts is None:
            raise EditError(f"{path}: no such key")
        return parts

    def _line_start(self, offset: int) -> int:
        return self.text.rfind("\n", 0, offset) + 1

    def _indent_at(self, offset: int) -> str:
        """The indentation of the line `offset` is on."""
        start = self._line_start(offset)
        line = self.text[start:offset]
        return line[: len(line) - len(line.lstrip(" \t"))]

    def _insertion(self, holder: tuple[int, int], last: str, key: str, value: object) -> list[Edit]:
        """The edits that add `key: value` after the entry at `last` of the object written
        at `holder`: on the same line in an object written on one line, else on a line of
        its own after the last entry's (and its comment), with its indentation."""
        _, end = self.span(last)
        comma = re.compile(r"[ \t]*(,?)[ \t]*(?://[^\n]*)?").match(self.text, end)
        assert comma is not None  # noqa: S101 - the pattern matches the empty string
        has_comma = bool(comma[1])
        after = comma.end()
        on_lines = "\n" in self.text[holder[0] : holder[1]]
        if on_lines and self.text.startswith(("\n", "\r\n"), after):
            indent = self._indent_at(self._key_offset(last))
            written = self.style.key(key)
            rendered = self.style.render(
                value, indent=indent, column=len(indent) + len(written) + 2
            )
            entry = f"{self.style.newline}{indent}{written}: {rendered}{',' if has_comma else ''}"
            # the comma first: two insertions at one offset are made in the order listed
            return ([] if has_comma else [Edit(end, end, ",")]) + [Edit(after, after, entry)]
        written = self.style.key(key)
        column = end - self._line_start(end) + 2
        rendered = self.style.render(value, indent=self._indent_at(end), column=column)
        if has_comma:
            at = comma.start(1) + 1
            return [Edit(at, at, f" {written}: {rendered},")]
        return [Edit(end, end, f", {written}: {rendered}")]

    def _key_offset(self, path: str) -> int:
        offset = self._finder.offset(path)
        if offset is None:
            raise EditError(f"{path}: cannot find where it is written")
        return offset

    def _expect(self, parts: Sequence[str | int], value: object) -> None:
        holder = self._expected
        for part in parts[:-1]:
            holder = holder[part]  # type: ignore[index]
        holder[parts[-1]] = _plain(value)  # type: ignore[index]


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """`text` with `edits` made; they must not overlap (EditError). Insertions at one offset
    are made in the order given."""
    pieces: list[str] = []
    at = 0
    for edit in sorted(edits, key=lambda edit: (edit.start, edit.end)):
        if edit.start < at:
            raise EditError(f"two edits overlap at offset {edit.start}")
        pieces.extend((text[at : edit.start], edit.new))
        at = edit.end
    pieces.append(text[at:])
    return "".join(pieces)


def _plain(value: object) -> object:
    """What `value` parses back to."""
    if isinstance(value, Raw):
        return copy.deepcopy(value.value)
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def path_parts(data: object, path: str) -> list[str | int] | None:
    """`path`'s keys and indexes in `data`, or None if it is not there (a key holding dots
    is the shortest run of parts that is a key, as positions.py reads it)."""
    pieces = path.split(".") if path else []
    parts: list[str | int] = []
    value, done = data, 0
    while done < len(pieces):
        if isinstance(value, Mapping):
            for end in range(done + 1, len(pieces) + 1):
                key = ".".join(pieces[done:end])
                if key in value:
                    parts.append(key)
                    value, done = value[key], end
                    break
            else:
                return None
        elif isinstance(value, list) and pieces[done].isdigit() and int(pieces[done]) < len(value):
            parts.append(int(pieces[done]))
            value, done = value[int(pieces[done])], done + 1
        else:
            return None
    return parts


def value_at(data: object, path: str) -> object:
    """The value at `path` in `data`; KeyError if there is none."""
    parts = path_parts(data, path)
    if parts is None:
        raise KeyError(path)
    for part in parts:
        data = data[part]  # type: ignore[index]
    return data


def _after_key(text: str, offset: int, path: str) -> int:
    """Where the value of the key written at `offset` starts."""
    key = _STRING.match(text, offset) or _BARE.match(text, offset)
    colon = _SPACE.match(text, key.end()) if key else None
    if key is None or colon is None or not text.startswith(":", colon.end()):
        raise EditError(f"{path}: cannot find its key's colon")
    space = _SPACE.match(text, colon.end() + 1)
    assert space is not None  # noqa: S101 - the pattern matches the empty string
    return space.end()


def _value_end(text: str, start: int) -> int:
    """Where the value written at `start` ends (the offset after its last character)."""
    if text.startswith(('"', "'"), start):
        return _string_end(text, start)
    if not text.startswith(("{", "["), start):
        bare = _BARE.match(text, start)
        return bare.end() if bare else start
    depth, at = 0, start
    while at < len(text):
        char = text[at]
        if char in "\"'":
            at = _string_end(text, at)
        elif text.startswith("//", at):
            newline = text.find("\n", at)
            at = len(text) if newline < 0 else newline
        elif text.startswith("/*", at):
            at = text.index("*/", at) + 2
        elif char in "{[":
            depth, at = depth + 1, at + 1
        elif char in "}]":
            depth, at = depth - 1, at + 1
            if depth == 0:
                return at
        else:
            plain = _PLAIN.match(text, at)
            at = plain.end() if plain else at + 1
    raise EditError(f"a value at offset {start} is not closed")


def _string_end(text: str, start: int) -> int:
    string = _STRING.match(text, start)
    if string is None:
        raise EditError(f"a string at offset {start} is not closed")
    return string.end()


def _indent_unit(text: str) -> str:
    """One level of indentation: a tab when lines are indented with tabs, else the fewest
    spaces a line is indented with (2 when no line is)."""
    indents = re.findall(r"(?m)^([ \t]+)\S", text)
    if sum(indent.startswith("\t") for indent in indents) > len(indents) / 2:
        return "\t"
    widths = [len(indent) for indent in indents if not indent.startswith("\t")]
    return " " * min(max(min(widths), 1), 8) if widths else "  "
