"""Editing a JSON5 file in place: a value replaced, an entry added to an object, by key path,
with every other byte of the file (comments, key order, quotes, spacing, commas) kept.

The JSON5 libraries parse to plain values and drop comments and formatting, so dumping a
parsed document would rewrite the whole file. Here the parsed document says what is there,
runtime/config/positions.py says where each key is written, and a light scan from a key
finds where its value ends: an edit splices that span of the text and nothing else. New
values are written in the file's own style (runtime/config/json5_style.py: newline,
indentation, quotes, trailing commas), on one line when short, one entry a line when
long. `Json5Editor.text_after` parses the result and checks it holds exactly what the edits
meant, so a scan that went wrong refuses instead of damaging the file.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import pyjson5

from runtime.config.json5_style import Raw, Style
from runtime.config.json5file import DEEPEST
from runtime.config.positions import Positions

_SPACE: Final = re.compile(r"(?:\s+|//[^\n]*|/\*.*?\*/)*", re.DOTALL)
_STRING: Final = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'""", re.DOTALL)
_BARE: Final = re.compile(r"""[^\s{}\[\]:,"'/]+""")  # a number, true, null, a bare key
_PLAIN: Final = re.compile(r"""[^"'/{}\[\]]+""")  # nothing that opens, closes or quotes


class EditError(Exception):
    """An edit that cannot be made safely (a path that is not there, a check that failed)."""


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace `text[start:end]` with `new` (an insertion when start == end)."""

    start: int
    end: int
    new: str


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
