"""A JSON5 syntax error explained: where it is, the line it is on, and its likely cause.

The parser (pyjson5) says about where it stopped; that is not always where the mistake is,
nor does it say why. So the text is read again, leniently, following the nesting as a person
reads it: an unclosed string or bracket, a missing comma or colon, text after the end of
the document, a key that needs quotes, `True` for `true`. This runs only when a file failed
to parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from runtime.config.positions import LineIndex

# one piece at a time, never failing: space, comments (maybe unclosed), strings (maybe
# unclosed: a string ends on its line), punctuation, a run of other characters, any character
_PIECE: Final = re.compile(
    r"""(?P<space>\s+)"""
    r"""|(?P<comment>//[^\n]*|/\*(?:.*?\*/|.*))"""
    r"""|(?P<string>(?P<quote>["'])(?:(?!(?P=quote))[^\\\n]|\\(?:\r\n|.))*(?P<closed>(?P=quote))?)"""
    r"""|(?P<punct>[{}\[\]:,])"""
    r"""|(?P<word>[^\s{}\[\]:,"'/]+)"""
    r"""|(?P<other>.)""",
    re.DOTALL,
)
_IDENTIFIER: Final = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*\Z")
# curly double and single quotes, low quotes and guillemets, as word processors write them
_TYPOGRAPHIC_QUOTES: Final = "\u201c\u201d\u201e\u2018\u2019\u201a\u00ab\u00bb"
_LONGEST_SOURCE = 120  # a longer line (minified JSON) is shown around the column
_CLOSER = {"{": "}", "[": "]"}


@dataclass(frozen=True, slots=True)
class SyntaxReport:
    """Where a syntax error is (from 1), what was found there, and its likely cause."""

    line: int
    column: int
    found: str  # `unexpected ','`, `unexpected end of the file`
    hint: str  # "" when no cause is clear
    source: str  # the line, or a window of it around the column
    caret: int  # the index in `source` the caret goes under


@dataclass(slots=True)
class _Open:
    bracket: str
    offset: int
    indent: int  # of the line it is on: its closer is expected at the same indentation


@dataclass(frozen=True, slots=True)
class _Found:
    offset: int
    found: str
    hint: str


class _Reader:
    """Follows the nesting until the first piece that does not fit where it is."""

    def __init__(self, text: str, lines: LineIndex) -> None:
        self.text = text
        self.lines = lines
        self.stack: list[_Open] = []
        self.state = "value"  # what comes next: key, colon, value, comma (or close), end
        self.last_key = ""
        self.last_value_end = 0  # where the last complete value ended
        self.last_closed = ""  # the bracket that closed the last value, if it was one
        self.root: _Open | None = None
        self.misindented: _Open | None = None  # the first bracket closed at another indent

    def read(self) -> _Found | None:
        for match in _PIECE.finditer(self.text):
            kind = match.lastgroup
            if kind == "comment" and _is_unclosed_comment(match.group()):
                return self._unclosed_comment(match.start())
            if kind in ("space", "comment"):
                continue
            found = self._piece(match, kind or "other")
            if found is not None:
                return found
        return self._end()

    def _piece(self, match: re.Match[str], kind: str) -> _Found | None:
        piece, start = match.group(), match.start()
        if kind == "string" and match.group("closed") is None:
            return self._unclosed_string(start, match.end())
        if kind == "punct" and piece in "{[":
            return self._open(piece, start)
        if kind == "punct" and piece in "}]":
            return self._close(piece, start)
        if piece == ",":
            return self._comma(start)
        if piece == ":":
            return self._colon(start)
        if piece == "/":
            return self._wrong(
                start, piece, "a comment? one starts with // (to the end of the line) or /* (to */)"
            )
        return self._scalar(piece, start, match.end())

    # -- each kind of piece --------------------------------------------------------------------
    def _open(self, bracket: str, start: int) -> _Found | None:
        if self.state == "key":
            return self._wrong(start, bracket, self._unkeyed_value_hint(start))
        if self.state != "value":
            return self._unexpected_value(start, bracket)
        opened = _Open(bracket, start, self._indent(start))
        if self.root is None:
            self.root = opened
        self.stack.append(opened)
        self.state = "key" if bracket == "{" else "value"
        return None

    def _close(self, bracket: str, start: int) -> _Found | None:
        if not self.stack and self.root is None:
            return self._wrong(start, bracket, f"a {bracket} with nothing opened before it?")
        if not self.stack:
            return self._after_end(start, bracket)
        opened = self.stack[-1]
        if _CLOSER[opened.bracket] != bracket:
            line = self.lines.line_column(opened.offset)[0]
            hint = (
                f"{bracket} closes the {opened.bracket} opened at line {line}: "
                f"a {_CLOSER[opened.bracket]} missing before it?"
            )
            return self._wrong(start, bracket, hint)
        if self.state == "colon":
            return self._wrong(
                start, bracket, f"missing colon and value after key '{self.last_key}'?"
            )
        if self.state == "value" and opened.bracket == "{":
            return self._wrong(start, bracket, f"a value missing after `{self.last_key}:`?")
        if self._starts_line(start) and self._indent(start) < opened.indent:
            # a closer left of its opener's line closes an outer block: this one was not
            self.misindented = self.misindented or opened
        self.stack.pop()
        self._value_done(start + 1)
        self.last_closed = bracket
        return None

    def _comma(self, start: int) -> _Found | None:
        if self.state == "comma":
            self.state = "key" if self.stack[-1].bracket == "{" else "value"
            return None
        if self.state == "end":
            return self._after_end(start, ",")
        if self.state == "colon":
            return self._wrong(start, ",", f"missing colon and value after key '{self.last_key}'?")
        if self.state == "value" and self.stack and self.stack[-1].bracket == "{":
            return self._wrong(start, ",", f"a value missing after `{self.last_key}:`?")
        if self._previous_is_comma(start):
            return self._wrong(
                start,
                ",",
                "two commas in a row: a value missing between them, or one comma too many?",
            )
        return self._wrong(start, ",", "a comma with no value before it?")

    def _colon(self, start: int) -> _Found | None:
        if self.state == "colon":
            self.state = "value"
            return None
        if self.stack and self.stack[-1].bracket == "[":
            return self._wrong(
                start,
                ":",
                "a key inside [ ]? an array holds values only; keys go in an object { ... }",
            )
        if not self.stack:
            return self._wrong(
                start, ":", "the document's opening { missing (or inside a comment)?"
            )
        if self.state == "comma":
            return self._missing_comma(start, ":")
        return self._wrong(start, ":", "a key missing before the colon?")

    def _scalar(self, piece: str, start: int, end: int) -> _Found | None:
        if self.state == "key":
            self.last_key = piece.strip("\"'")
            self.state = "colon"
            return None
        if self.state == "colon" and piece.startswith("="):
            return self._wrong(start, piece, "a key and its value are separated by `:`, not `=`")
        if self.state == "value":
            self._value_done(end)
            return None
        return self._unexpected_value(start, piece)

    # -- what follows a value ------------------------------------------------------------------
    def _value_done(self, end: int) -> None:
        self.last_value_end = end
        self.last_closed = ""
        self.state = "comma" if self.stack else "end"

    def _unexpected_value(self, start: int, piece: str) -> _Found:
        if self.state == "end":
            return self._after_end(start, piece)
        if self.state == "colon":
            return self._wrong(start, piece, f"missing colon after key '{self.last_key}'?")
        return self._missing_comma(start, piece)

    def _missing_comma(self, start: int, piece: str) -> _Found:
        value_line = self.lines.line_column(self.last_value_end)[0]
        if value_line == self.lines.line_column(start)[0]:
            return self._wrong(start, piece, "missing comma between two values?")
        return self._wrong(start, piece, f"missing comma at the end of line {value_line}?")

    def _after_end(self, start: int, piece: str) -> _Found:
        root = self.root.offset if self.root is not None else 0
        opened = self.lines.line_column(root)[0]
        closed = self.lines.line_column(self.last_value_end)[0]
        hint = (
            f"trailing text after the end of the document? its {self.text[root]} of line "
            f"{opened} is closed on line {closed}"
        )
        if piece in "}]":
            hint += f": one {piece} too many?"
        return self._wrong(start, piece, hint)

    # -- the end of the text, and what never ended ---------------------------------------------
    def _end(self) -> _Found | None:
        end = len(self.text)
        if self.root is None:
            return _Found(
                end,
                "unexpected end of the file",
                "the file holds no value: a config or flow file is one object { ... }",
            )
        if not self.stack:
            return None
        # shown where it was opened, since that is where a closer is to be added after
        opened = self.misindented or self.stack[-1]
        line = self.lines.line_column(opened.offset)[0]
        return _Found(
            opened.offset,
            "unexpected end of the file",
            f"unclosed {opened.bracket} opened at line {line}?",
        )

    def _unclosed_string(self, start: int, end: int) -> _Found:
        line, column = self.lines.line_column(start)
        quote = self.text[start]
        if end < len(self.text):  # it ran into the end of its line
            return _Found(
                end,
                "unexpected line break in a string",
                f"unclosed string? the "
                f"{quote} at line {line}, column {column} is not closed on its line "
                "(a line break inside a string is written \\n)",
            )
        return _Found(
            start,
            "unexpected end of the file",
            f"unclosed string? the {quote} at line {line}, column {column} is never closed",
        )

    def _unclosed_comment(self, start: int) -> _Found:
        line = self.lines.line_column(start)[0]
        return _Found(
            start,
            "unexpected end of the file",
            f"unclosed comment? the /* at line {line} is never closed with */",
        )

    def _unkeyed_value_hint(self, start: int) -> str:
        """A `{` or `[` where an object's next key should be."""
        opened = self.stack[-1]
        line = self.lines.line_column(opened.offset)[0]
        if self._starts_line(start) and self._indent(start) == opened.indent:
            # as indented as the { still open: that one was meant to close before it
            return f"a }} missing before it? the {{ of line {line} is still open"
        if self.last_closed == "}":
            return "a [ missing before a list of objects, or a key before this value?"
        return "a key missing before this value? in an object each value has a key: `name: { ... }`"

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _wrong(start: int, piece: str, hint: str) -> _Found:
        return _Found(start, f"unexpected {_shown(piece)}", hint)

    def _indent(self, offset: int) -> int:
        start = self.text.rfind("\n", 0, offset) + 1
        line = self.text[start:offset]
        return len(line) - len(line.lstrip())

    def _starts_line(self, offset: int) -> bool:
        start = self.text.rfind("\n", 0, offset) + 1
        return not self.text[start:offset].strip()

    def _previous_is_comma(self, offset: int) -> bool:
        before = self.text[:offset].rstrip()
        return before.endswith(",")


def explain_syntax_error(text: str, stopped: int | None) -> SyntaxReport:
    """Where the mistake is that the parser stopped at (the offset `stopped`, None when it
    gave none), and why.

    The reading stops at the first piece that does not fit; if the parser stopped earlier,
    in a word JSON5 does not know (`True`, `10px`, an unquoted `my-key`), that word is the
    mistake.
    """
    lines = LineIndex(text)
    found = _Reader(text, lines).read()
    word = _unknown_word(text, stopped) if stopped is not None else None
    if word is not None and word.hint and (found is None or found.offset > word.offset):
        found = word
    if found is None:  # the parser refused what reads as whole: say where it stopped
        at = min(stopped or 0, len(text))
        shown = f"unexpected {_shown(text[at])}" if at < len(text) else "unexpected end of the file"
        found = _Found(at, shown, "")
    at_line, at_column = lines.line_column(min(found.offset, len(text)))
    source, caret = _source_line(text, lines, at_line, at_column)
    return SyntaxReport(
        line=at_line,
        column=at_column,
        found=found.found,
        hint=found.hint,
        source=source,
        caret=caret,
    )


def _unknown_word(text: str, offset: int) -> _Found | None:
    """The word the parser stopped in, and what it may have been meant to be; None if it
    stopped at a space, a bracket or a quote."""
    if offset >= len(text) or _ends_word(text[offset]):
        return None
    start = offset
    while start > 0 and not _ends_word(text[start - 1]):
        start -= 1
    end = offset
    while end < len(text) and not _ends_word(text[end]):
        end += 1
    word = text[start:end]
    is_key = text[end:].lstrip().startswith(":")
    return _Found(start, f"unexpected {_shown(word)}", _word_hint(word, is_key=is_key))


def _is_unclosed_comment(comment: str) -> bool:
    return comment.startswith("/*") and (len(comment) < 4 or not comment.endswith("*/"))


def _ends_word(char: str) -> bool:
    return char.isspace() or char in "{}[]:,\"'/"


def _word_hint(word: str, *, is_key: bool) -> str:
    if any(char in _TYPOGRAPHIC_QUOTES for char in word):
        return "typographic quotes? strings are quoted with straight \" or '"
    if is_key and not _IDENTIFIER.match(word):
        return f'a key that is not a plain name needs quotes: "{word}"?'
    if word in ("True", "False", "TRUE", "FALSE", "Null", "NULL"):
        return f"{word.lower()}? true, false and null are written in lower case"
    if word in ("None", "nil", "undefined"):
        return "null? JSON5 writes no value as null"
    if word[:1].isdigit() or word[:1] in "+-.":
        return "not a number JSON5 reads (such as 42, -1.5, 0x1F): a string needs quotes"
    if not is_key:
        return f'a string needs quotes: "{word}"?'
    return ""


def _shown(piece: str) -> str:
    if len(piece) > 20:
        piece = piece[:20] + "…"
    return repr(piece)


def _source_line(text: str, lines: LineIndex, line: int, column: int) -> tuple[str, int]:
    start = lines.offset(line, 1)
    end = text.find("\n", start)
    source = text[start : end if end >= 0 else len(text)].rstrip("\r")
    caret = column - 1
    if len(source) <= _LONGEST_SOURCE:
        return source, caret
    half = _LONGEST_SOURCE // 2
    begin = max(0, min(caret - half, len(source) - _LONGEST_SOURCE))
    window = source[begin : begin + _LONGEST_SOURCE]
    prefix = "…" if begin else ""
    suffix = "…" if begin + _LONGEST_SOURCE < len(source) else ""
    return prefix + window + suffix, caret - begin + len(prefix)
