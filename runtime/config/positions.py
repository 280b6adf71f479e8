"""Where each key of a JSON5 document is written, and the keys written twice, in one scan.

The fast parser (pyjson5) gives values without positions and accepts a key written twice
in silence, so one light scan follows the text of every file that parsed: a tokenizer that
follows the nesting of objects and arrays and builds no values. It keeps the offset of every
key and every array item, in the order they are written, which is the order of the parsed
document's keys and items: two flat arrays of numbers, 8 bytes an entry. A key path is
found in them (walking the parsed document beside them) only when a problem asks for one.
"""

from __future__ import annotations

import bisect
import re
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import json5

_SKIP: Final = r"\s*(?:(?://[^\n]*|/\*.*?\*/)\s*)*"  # space and comments
_SCALAR: Final = r""""[^"\\]*(?:\\.[^"\\]*)*"|'[^'\\]*(?:\\.[^'\\]*)*'|[^\s{}\[\]:,"'/]+"""
# After space and comments, one of: a scalar (1: a string, a number, `true`...), which is a
# key when a colon follows (2), with its value when that is a scalar too, or the bracket
# that opens it (3); an opening bracket (4); a closing one (5). A comma after a value is
# taken with it; a colon apart from its key (6) has a comment between them. In valid JSON5
# a scalar followed by a colon is always a key, so the pattern alone tells keys from values
# and one match takes a whole `key: "value",`: that halves the matches, which is what the
# scan's time goes into.
_TOKEN: Final = re.compile(
    rf"{_SKIP}(?:"
    rf"({_SCALAR})(?:\s*(:)\s*(?:(?:{_SCALAR})|([{{\[]))?)?\s*,?"
    r"|([{\[])"
    r"|([}\]])\s*,?"
    r"|(:)"  # after a key and a comment
    r"|[,/]"
    r")?",
    re.DOTALL,
)
_SCALAR_ITEM, _KEY, _KEY_OPENS, _OPEN, _CLOSE, _COLON = 1, 2, 3, 4, 5, 6


@dataclass(frozen=True, slots=True)
class DuplicateKey:
    path: str  # the key path of the object holding it
    key: str
    first: int  # offsets of the two keys in the text
    second: int


@dataclass(frozen=True, slots=True)
class Positions:
    """Where every key and array item of one document is written, in the order written.

    That is the order in which a walk of the parsed document meets its keys and items (each
    key, then what its value holds; each item, then what it holds). `offsets[i]` is where
    entry `i` is written, `spans[i]` how many entries its value holds (0 for a scalar), so
    the entry after it is `i + 1 + spans[i]`. `finder` pairs them with the parsed document.
    """

    offsets: Sequence[int] = field(default_factory=lambda: array("i"))
    spans: Sequence[int] = field(default_factory=lambda: array("i"))
    root_offset: int = 0

    def finder(self, data: object) -> PathFinder:
        return PathFinder(data, self)


class PathFinder:
    """Finds key paths in one document: `offset("flows.welcome.steps.0.quick_replies.3.title")`.

    A path that is not in the document (a required key that is missing) gets the offset of
    its nearest ancestor that is, the place it is to be added. None if the positions and
    the document do not pair up (a correct scan never gives that): no line rather than a
    wrong one.
    """

    def __init__(self, data: object, positions: Positions) -> None:
        self._data = data
        self._offsets = positions.offsets
        self._spans = positions.spans
        self._root_offset = positions.root_offset
        self._children: dict[int, list[int]] = {}  # by entry: where its keys or items are
        self._names: dict[int, dict[str, int]] = {}  # by entry of an object: key -> number

    def offset(self, path: str) -> int | None:
        parts = path.split(".") if path else []
        value, entry, found, done = self._data, -1, self._root_offset, 0
        while done < len(parts):
            children = self._children_of(entry, value)
            if children is None:
                return None
            if isinstance(value, Mapping):
                key, after = _key_in(value, parts, done)
                if key is None:
                    break
                names = self._names.get(entry)
                if names is None:
                    names = self._names[entry] = {name: number for number, name in enumerate(value)}
                number, value = names[key], value[key]
            elif (
                isinstance(value, list) and parts[done].isdigit() and int(parts[done]) < len(value)
            ):
                number, after = int(parts[done]), done + 1
                value = value[number]
            else:
                break
            entry, done = children[number], after
            found = self._offsets[entry]
        return found

    def _children_of(self, entry: int, value: object) -> list[int] | None:
        """The entries of the keys or items of `value` (entry -1: the whole document), if
        there are as many as it holds."""
        children = self._children.get(entry)
        if children is None:
            end = len(self._offsets) if entry < 0 else entry + 1 + self._spans[entry]
            children, child = [], entry + 1
            while child < end:
                children.append(child)
                child += 1 + self._spans[child]
            self._children[entry] = children
        holds = len(value) if isinstance(value, Mapping | list) else 0
        return children if len(children) == holds else None


def _key_in(keys: Mapping[str, object], parts: Sequence[str], done: int) -> tuple[str | None, int]:
    """The key `parts[done:]` starts with, and the index of the part after it (None if
    none): a key holding "." spans several parts, so the shortest that is a key is taken."""
    for end in range(done + 1, len(parts) + 1):
        candidate = ".".join(parts[done:end])
        if candidate in keys:
            return candidate, end
    return None, done


def scan_json5(text: str) -> tuple[Positions, list[DuplicateKey]]:
    """The positions of `text` (which must be valid JSON5) and every key written twice in
    one object."""
    offsets, spans = array("i"), array("i")
    add, add_span = offsets.append, spans.append
    duplicates: list[DuplicateKey] = []
    root_offset = 0
    # the innermost object or array is held in locals (this loop is the hot path): its keys
    # (None: an array, or the top), the last key, the items so far of an array. Each outer
    # one is stacked with the entry of the one inside it (its span is set when it closes)
    # and its key or index (a duplicate's message names the path).
    stack: list[tuple[dict[str, int] | None, int, str | int]] = []
    keys: dict[str, int] | None = None
    key, count = "", 0
    scalar = None  # the last scalar of an object: a key if a colon comes after a comment
    for match in _TOKEN.finditer(text):
        kind = match.lastindex
        if kind == _CLOSE:
            if stack:
                keys, entry, inner = stack.pop()
                if entry >= 0:
                    spans[entry] = len(offsets) - entry - 1
                if isinstance(inner, int):
                    count = inner + 1
                else:
                    key = inner
            continue
        if kind == _SCALAR_ITEM:
            if keys is not None:
                scalar = match  # a value (or a key) with a comment after it
            elif stack:
                add(match.start(_SCALAR_ITEM))
                add_span(0)
                count += 1
            continue
        if kind is None:
            continue  # a comma on its own, or the end of the text
        if kind == _OPEN:
            start = match.start(_OPEN)
            if not stack:
                root_offset = start
                stack.append((None, -1, -1))
            elif keys is None:  # an array item
                add(start)
                add_span(0)
                stack.append((None, len(offsets) - 1, count))
            else:  # an object's value, after a comment
                stack.append((keys, len(offsets) - 1, key))
        else:  # a key
            named = scalar if kind == _COLON and scalar is not None else match
            start = named.start(_SCALAR_ITEM)
            key = _key_text(named.group(_SCALAR_ITEM))
            if keys is not None:
                if key in keys:
                    where = ".".join(str(inner) for _, _, inner in stack[1:])
                    duplicates.append(DuplicateKey(where, key, keys[key], start))
                keys[key] = start
            add(start)
            add_span(0)
            if kind != _KEY_OPENS:
                continue
            start = match.start(_KEY_OPENS)
            stack.append((keys, len(offsets) - 1, key))
        keys, count = ({} if text[start] == "{" else None), 0
    return Positions(offsets, spans, root_offset), duplicates


def _key_text(piece: str) -> str:
    if piece[0] in "\"'":
        if "\\" in piece:
            decoded: str = json5.loads(piece)  # escapes in a quoted key: rare, let json5 read them
            return decoded
        return piece[1:-1]
    return piece


class LineIndex:
    """Offsets in a text -> (line, column), both from 1; columns count characters."""

    def __init__(self, text: str) -> None:
        starts = [0]
        starts.extend(match.end() for match in re.finditer("\n", text))
        self._starts: Sequence[int] = starts

    def line_column(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1

    def offset(self, line: int, column: int) -> int:
        """The offset of a (line, column) that a parser reported."""
        start = self._starts[min(max(line, 1), len(self._starts)) - 1]
        return start + max(column, 1) - 1
