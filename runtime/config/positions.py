"""Where each key of a JSON5 document is written, and the keys written twice, in one scan.

The fast parser (pyjson5) gives values without positions and accepts a key written twice
in silence, so one light scan follows the text of every file that parsed: a tokenizer that
follows the nesting of objects and arrays, builds no values, and records the offset of every
key and every array item in a tree shaped like the document. Lines and columns are worked
out from those offsets only when a problem asks for one (`Positions.line_column`).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
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


class _Node:
    """The keys of one object (key -> offset) or the items of one array (a list of offsets),
    and the nodes of the objects and arrays among them."""

    __slots__ = ("children", "offsets")

    def __init__(self, offsets: dict[str, int] | list[int]) -> None:
        self.offsets = offsets
        self.children: dict[str | int, _Node] = {}


@dataclass(frozen=True, slots=True)
class DuplicateKey:
    path: str  # the key path of the object holding it
    key: str
    first: int  # offsets of the two keys in the text
    second: int


@dataclass(frozen=True, slots=True)
class Positions:
    """The offset of every key and array item of one document, by key path.

    `offset("flows.welcome.steps.0.quick_replies.3.title")` is where that key is written; a
    path that is not in the document (a required key that is missing) gets the offset of its
    nearest ancestor that is, the place it is to be added.
    """

    root: _Node | None = None
    root_offset: int = 0

    def offset(self, path: str) -> int:
        node, found = self.root, self.root_offset
        parts = path.split(".") if path else []
        index = 0
        while node is not None and index < len(parts):
            step: str | int
            if isinstance(node.offsets, list):
                step = int(parts[index]) if parts[index].isdigit() else -1
                if not 0 <= step < len(node.offsets):
                    break
                found, index = node.offsets[step], index + 1
            else:
                key, index = self._key(node.offsets, parts, index)
                if key is None:
                    break
                found, step = node.offsets[key], key
            node = node.children.get(step)
        return found

    @staticmethod
    def _key(keys: dict[str, int], parts: Sequence[str], index: int) -> tuple[str | None, int]:
        """The key `parts[index:]` starts with, and the index after it (None if none): a key
        holding "." spans several parts, so the shortest that is a key is taken."""
        for end in range(index + 1, len(parts) + 1):
            candidate = ".".join(parts[index:end])
            if candidate in keys:
                return candidate, end
        return None, index


def scan_json5(text: str) -> tuple[Positions, list[DuplicateKey]]:
    """The positions of `text` (which must be valid JSON5) and every key written twice in
    one object."""
    duplicates: list[DuplicateKey] = []
    root: _Node | None = None
    root_offset = 0
    # the innermost object or array is held in locals (this loop is the hot path): its node,
    # its keys (an object's) or items (an array's), the last key, and its own key path (for
    # a duplicate's message); the outer ones are stacked
    stack: list[tuple[_Node, dict[str, int], list[int], bool, str, str]] = []
    node = _Node({})
    keys: dict[str, int] = {}
    items: list[int] = []
    is_object, key, where = False, "", ""
    scalar = None  # the last scalar of an object: a key if a colon comes after a comment
    for match in _TOKEN.finditer(text):
        kind = match.lastindex
        if kind == _CLOSE:
            if stack:
                node, keys, items, is_object, key, where = stack.pop()
            continue
        if kind == _SCALAR_ITEM:
            if is_object:
                scalar = match  # a value (or a key) with a comment after it
            else:
                items.append(match.start(_SCALAR_ITEM))
            continue
        if kind is None:
            continue  # a comma on its own, or the end of the text
        if kind != _OPEN:  # a key
            named = scalar if kind == _COLON and scalar is not None else match
            start = named.start(_SCALAR_ITEM)
            key = _key_text(named.group(_SCALAR_ITEM))
            if key in keys:
                duplicates.append(DuplicateKey(where, key, keys[key], start))
            keys[key] = start
            if kind != _KEY_OPENS:
                continue
            start = match.start(_KEY_OPENS)
        else:
            start = match.start(_OPEN)
        child_keys: dict[str, int] = {}
        child_items: list[int] = []
        opened = text[start] == "{"
        child = _Node(child_keys if opened else child_items)
        if not stack:
            root, root_offset, inner = child, start, ""
        elif is_object:
            node.children[key] = child
            inner = f"{where}.{key}" if where else key
        else:
            items.append(start)  # an array item starts here
            node.children[len(items) - 1] = child
            inner = f"{where}.{len(items) - 1}" if where else str(len(items) - 1)
        stack.append((node, keys, items, is_object, key, where))
        node, keys, items, is_object, key, where = child, child_keys, child_items, opened, "", inner
    return Positions(root, root_offset), duplicates


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
