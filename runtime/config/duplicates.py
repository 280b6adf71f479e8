"""Keys written twice in one JSON5 object: an error, since the parser would keep the last.

The fast parser (pyjson5) accepts duplicates silently, so this light scan runs over the
text of every file that parsed: a tokenizer that follows object nesting, with no values
built, at a few megabytes a second.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

import json5

# one piece at a time: space, comments, strings, punctuation, or any other run of characters
_TOKEN: Final = re.compile(
    r"""\s+|//[^\n]*|/\*.*?\*/|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[{}\[\]:,]|[^\s{}\[\]:,"'/]+|/""",
    re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class DuplicateKey:
    path: str  # the key path of the object holding it
    key: str
    first_line: int
    line: int


@dataclass(slots=True)
class _Frame:
    is_object: bool
    key_in_parent: str
    keys: dict[str, int] = field(default_factory=dict)
    expect_key: bool = True
    current: str = ""
    index: int = 0


def find_duplicate_keys(text: str) -> list[DuplicateKey]:
    """Every key written twice in one object of `text` (which must be valid JSON5)."""
    found: list[DuplicateKey] = []
    stack: list[_Frame] = []
    line, counted_to = 1, 0  # lines are counted as the scan goes: linear in the text
    for match in _TOKEN.finditer(text):
        piece = match.group()
        first = piece[0]
        if first.isspace() or piece.startswith(("//", "/*")):
            continue
        top = stack[-1] if stack else None
        if piece in ("{", "["):
            where = _child_key(top)
            stack.append(_Frame(is_object=piece == "{", key_in_parent=where))
        elif piece in ("}", "]"):
            stack.pop()
        elif piece == ",":
            if top is not None:
                top.expect_key = top.is_object
                top.index += 1
        elif piece != ":" and top is not None and top.is_object and top.expect_key:
            key = _key_text(piece)
            line += text.count("\n", counted_to, match.start())
            counted_to = match.start()
            if key in top.keys:
                path = ".".join(frame.key_in_parent for frame in stack[1:])
                found.append(DuplicateKey(path, key, top.keys[key], line))
            else:
                top.keys[key] = line
            top.current = key
            top.expect_key = False
    return found


def _child_key(parent: _Frame | None) -> str:
    if parent is None:
        return ""
    return parent.current if parent.is_object else str(parent.index)


def _key_text(piece: str) -> str:
    if piece[0] in "\"'" and "\\" in piece:
        decoded: str = json5.loads(piece)  # escapes in a quoted key: rare, let json5 read them
        return decoded
    return piece[1:-1] if piece[0] in "\"'" else piece
