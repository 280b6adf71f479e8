"""Checking the answer to an `ask`: is it valid, and what value is saved.

Every answer is stripped of surrounding space first; an empty one (an image, a sticker, only
spaces) is never valid. The rules, per `validate`:

- none: any text; saved as typed (stripped).
- email: `something@something.tld`: no spaces, one `@`, a dot in the domain and a top-level
  part of two characters or more. Saved as typed (the local part may be case-sensitive).
- number: an optional sign, digits, and an optional decimal part after a `.` or a `,`
  (`3`, `-2`, `3.5`, `1,5`). Saved as an int when there is no decimal part, else a float.
  A comma followed by exactly three digits (`1,000`) is refused: thousands or decimals
  cannot be told apart, and asking again beats saving the wrong number. No exponents, no
  thousands separators, no `nan`/`inf`.
- phone: digits with an optional leading `+`, and spaces, dashes, dots or parentheses
  between them; 7 to 15 digits (E.164 allows 15). Saved normalized: `+` and the digits when
  it started with `+`, else the digits alone (`+1 (555) 010-0123` -> `+15550100123`).
- regex: the pattern must match the whole stripped answer (`fullmatch`), so
  `validate: { regex: "[0-9]{5}" }` means "exactly five digits", not "contains five digits".
  Saved as typed (stripped).
"""

from __future__ import annotations

import re
from typing import Final

from runtime.bot import AnswerCheck, AnswerKind

Answer = str | int | float

_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)*\.[^@\s.]{2,}")
_NUMBER: Final = re.compile(r"(?P<whole>[+-]?[0-9]+)(?:(?P<mark>[.,])(?P<fraction>[0-9]+))?")
_PHONE: Final = re.compile(r"\+?[0-9 ().-]+")
_PHONE_DIGITS: Final = range(7, 16)


def check_answer(check: AnswerCheck | None, answer: str | None) -> Answer | None:
    """The value to save for `answer`, or None when it is not a valid answer."""
    text = (answer or "").strip()
    if not text:
        return None
    if check is None:
        return text
    if check.kind is AnswerKind.EMAIL:
        return text if _EMAIL.fullmatch(text) else None
    if check.kind is AnswerKind.NUMBER:
        return parse_number(text)
    if check.kind is AnswerKind.PHONE:
        return normalize_phone(text)
    if check.pattern is None:  # a regex that did not compile never makes a Bot
        return None
    return text if check.pattern.fullmatch(text) else None


def parse_number(text: str) -> int | float | None:
    """`"3"` -> 3, `"-2"` -> -2, `"3.5"` and `"3,5"` -> 3.5; None for anything else."""
    found = _NUMBER.fullmatch(text)
    if found is None:
        return None
    fraction = found["fraction"]
    if fraction is None:
        return int(found["whole"])
    if found["mark"] == "," and len(fraction) == 3:
        return None  # "1,000": a thousands separator or a decimal comma? ask again
    return float(f"{found['whole']}.{fraction}")


def normalize_phone(text: str) -> str | None:
    """`"+1 (555) 010-0123"` -> `"+15550100123"`, `"555 0100"` -> `"5550100"`; else None."""
    if _PHONE.fullmatch(text) is None or "+" in text[1:]:
        return None
    digits = "".join(char for char in text if char.isdigit())
    if len(digits) not in _PHONE_DIGITS:
        return None
    return f"+{digits}" if text.startswith("+") else digits
