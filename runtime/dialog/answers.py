"""Checking the answer to an `ask`: is it valid, and what value is saved.

Every typed answer is stripped of surrounding space first; an empty one (only spaces, or a
picture where text is wanted) is never valid. The rules, per `validate`:

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
- date: saved as ISO `YYYY-MM-DD`. Accepted, case ignored:
  - the year first: `2026-12-24`, `2026/12/24`, `2026.12.24` (always year, month, day);
  - the year last, with a four-digit year: `24.12.2026` (dots: always day first),
    `24/12/2026`, `12/24/2026`, `24-12-2026`: with `/` or `-` the order is the one that
    makes a date; when both orders do (`03/04/2026`: 3 April or March 4?) the answer is
    refused, as `1,000` is for numbers: asking again beats booking the wrong day. Two-digit
    years (`24/12/26`) are refused too (1926 or 2026?);
  - an English month name or its three-letter short form (and `Sept`), with an optional
    `st`/`nd`/`rd`/`th` and `of`: `24 Dec 2026`, `24th of December, 2026`,
    `December 24, 2026`, `Dec 24`. Without a year, the next such day: this year's, or next
    year's when this year's is past (`today` is the turn's date, UTC).
  An impossible date (`31/02/2026`) is refused. No relative words (`tomorrow`): the
  person's day and the server's may differ.
- url: `http://` or `https://` and a host name, or a bare `example.com/path`, saved with
  `https://` before it. The host must be a name with a dot and a top-level part of two
  letters or more (no IP address, no `localhost`), with no user or password (`ada@x.com` is
  an email address, not a site); no spaces. Other schemes (`ftp:`, `javascript:`) are
  refused. Saved as typed (stripped) when it has its scheme.
- choice: one of the ask's own text quick replies: a tap (its exact payload), or typed text
  equal to a quick reply's title, else its payload, case and surrounding space ignored
  (`large` for `{ title: "Large", payload: "L" }`). Saved as the payload.
- image, file: an attachment of that type (the first, if several); saved as its URL. Text,
  or an attachment of another type, is a wrong answer (a photo is `image`, not `file`).
- location: a location attachment; saved as `{ latitude, longitude }`.
- regex: the pattern must match the whole stripped answer (`fullmatch`), so
  `validate: { regex: "[0-9]{5}" }` means "exactly five digits", not "contains five digits".
  Saved as typed (stripped).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Final
from urllib.parse import urlsplit

from runtime.bot import AnswerCheck, AnswerKind, normalize_keyword
from runtime.envelope import Attachment

Answer = str | int | float | dict[str, float]

_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)*\.[^@\s.]{2,}")
_NUMBER: Final = re.compile(r"(?P<whole>[+-]?[0-9]+)(?:(?P<mark>[.,])(?P<fraction>[0-9]+))?")
_PHONE: Final = re.compile(r"\+?[0-9 ().-]+")
_PHONE_DIGITS: Final = range(7, 16)

# numbers with the same separator twice: 2026-12-24, 24/12/2026
_YEAR_FIRST: Final = re.compile(r"(?P<y>\d{4})(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})")
_YEAR_LAST: Final = re.compile(r"(?P<a>\d{1,2})(?P<sep>[-/.])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4})")
_DAY: Final = r"(?P<d>[0-9]{1,2})(?:st|nd|rd|th)?"
_MONTH: Final = r"(?P<m>[a-z]+)\.?"
_YEAR: Final = r"(?:,?[\s/-]+(?P<y>[0-9]{4}))?"
_DAY_MONTH: Final = re.compile(rf"{_DAY}[\s/-]+(?:of\s+)?{_MONTH}{_YEAR}")
_MONTH_DAY: Final = re.compile(rf"{_MONTH}[\s/-]+{_DAY}{_YEAR}")
_MONTHS: Final = {
    name: number
    for number, full in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ),
        start=1,
    )
    for name in (full, full[:3])
} | {"sept": 9}
_YEARS_AHEAD: Final = 8  # a year-less February 29 is at most 8 years away

_SCHEME: Final = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_WEB_SCHEMES: Final = frozenset({"http", "https"})
# labels of letters, digits and dashes (any script), a dot, then a top-level part of letters
_HOST: Final = re.compile(r"(?:[^\W_](?:[\w-]*[^\W_])?\.)+(?:[^\W\d_]{2,}|xn--[a-z0-9-]+)")


def check_answer(
    check: AnswerCheck | None,
    text: str | None,
    *,
    attachments: Sequence[Attachment] = (),
    choices: Sequence[tuple[str, str]] = (),
    today: date | None = None,
) -> Answer | None:
    """The value to save for an answer, or None when it is not a valid answer.

    `text` is what the person typed (or the payload of the ask's own quick reply they
    tapped); `attachments` what they sent; `choices` the ask's text quick replies as
    (title, payload), rendered; `today` the turn's date, for a date given without a year.
    """
    if check is not None and check.attachment_type is not None:
        return attachment_answer(check.kind, attachments)
    answer = (text or "").strip()
    if not answer:
        return None
    if check is None:
        return answer
    kind = check.kind
    if kind is AnswerKind.EMAIL:
        return answer if _EMAIL.fullmatch(answer) else None
    if kind is AnswerKind.NUMBER:
        return parse_number(answer)
    if kind is AnswerKind.PHONE:
        return normalize_phone(answer)
    if kind is AnswerKind.DATE:
        return parse_date(answer, today or datetime.now(UTC).date())
    if kind is AnswerKind.URL:
        return parse_url(answer)
    if kind is AnswerKind.CHOICE:
        return pick_choice(answer, choices)
    if check.pattern is None:  # a regex that did not compile never makes a Bot
        return None
    return answer if check.pattern.fullmatch(answer) else None


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


def parse_date(text: str, today: date) -> str | None:
    """`"24/12/2026"`, `"Dec 24"`... -> `"2026-12-24"`; None when it is no date, or two."""
    folded = " ".join(text.casefold().split())
    found = _YEAR_FIRST.fullmatch(folded)
    if found is not None:
        return _iso(int(found["y"]), int(found["m"]), int(found["d"]))
    found = _YEAR_LAST.fullmatch(folded)
    if found is not None:
        return _numeric_date(int(found["a"]), int(found["b"]), int(found["y"]), found["sep"])
    found = _DAY_MONTH.fullmatch(folded) or _MONTH_DAY.fullmatch(folded)
    if found is None or found["m"] not in _MONTHS:
        return None
    month, day = _MONTHS[found["m"]], int(found["d"])
    if found["y"] is not None:
        return _iso(int(found["y"]), month, day)
    for year in range(today.year, today.year + _YEARS_AHEAD + 1):
        day_of_year = _date(year, month, day)
        if day_of_year is not None and day_of_year >= today:
            return day_of_year.isoformat()
    return None


def _numeric_date(first: int, second: int, year: int, separator: str) -> str | None:
    """Day and month in the order that makes a date; with dots, always the day first."""
    if separator == ".":
        return _iso(year, second, first)
    day_first = _date(year, second, first)
    month_first = _date(year, first, second)
    if day_first is not None and month_first is not None and day_first != month_first:
        return None  # 03/04/2026: 3 April or March 4? ask again
    found = day_first or month_first
    return None if found is None else found.isoformat()


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:  # February 30, month 13, year 0
        return None


def _iso(year: int, month: int, day: int) -> str | None:
    found = _date(year, month, day)
    return None if found is None else found.isoformat()


def parse_url(text: str) -> str | None:
    """`"https://example.com/x"` as typed, `"example.com/x"` -> `"https://example.com/x"`."""
    if any(char.isspace() for char in text):
        return None
    candidate = text if _SCHEME.match(text) else f"https://{text}"
    try:
        parts = urlsplit(candidate)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return None
    if parts.scheme.lower() not in _WEB_SCHEMES or "@" in parts.netloc:
        return None
    host = parts.hostname
    return candidate if host is not None and _HOST.fullmatch(host) else None


def pick_choice(text: str, choices: Sequence[tuple[str, str]]) -> str | None:
    """The payload of the quick reply `text` names: its exact payload (a tap), else its
    title, else its payload, case and surrounding space ignored."""
    for _, payload in choices:
        if text == payload:
            return payload
    folded = normalize_keyword(text)
    for title, payload in choices:
        if normalize_keyword(title) == folded:
            return payload
    for _, payload in choices:
        if normalize_keyword(payload) == folded:
            return payload
    return None


def attachment_answer(kind: AnswerKind, attachments: Sequence[Attachment]) -> Answer | None:
    """The first attachment of the wanted type: its URL, or a location's coordinates."""
    for attachment in attachments:
        if attachment.type != kind:
            continue
        if kind is AnswerKind.LOCATION:
            latitude, longitude = attachment.latitude, attachment.longitude
            if latitude is not None and longitude is not None:
                return {"latitude": latitude, "longitude": longitude}
        elif attachment.url:
            return attachment.url
    return None
