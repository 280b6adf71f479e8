"""The typed asks' rules: dates, URLs, choices and attachments, and what each saves."""

from __future__ import annotations

from datetime import date

import pytest

from runtime.bot import AnswerCheck, AnswerKind
from runtime.dialog.answers import Answer, check_answer
from runtime.envelope import Attachment

DATE = AnswerCheck(kind=AnswerKind.DATE)
URL = AnswerCheck(kind=AnswerKind.URL)
CHOICE = AnswerCheck(kind=AnswerKind.CHOICE)
TODAY = date(2026, 6, 15)

PHOTO = Attachment(type="image", url="https://scontent.example.net/v/t1/abc.jpg")
PDF = Attachment(type="file", url="https://cdn.fbsbx.com/v/t59/invoice.pdf")
EIFFEL = Attachment(type="location", latitude=48.8584, longitude=2.2945)


@pytest.mark.parametrize(
    ("answer", "saved"),
    [
        ("2026-12-24", "2026-12-24"),
        (" 2026/12/24 ", "2026-12-24"),
        ("2026.1.5", "2026-01-05"),
        ("24/12/2026", "2026-12-24"),
        ("12/24/2026", "2026-12-24"),  # only one order makes a date
        ("24-12-2026", "2026-12-24"),
        ("24.12.2026", "2026-12-24"),
        ("03.04.2026", "2026-04-03"),  # dots: always the day first
        ("05/05/2026", "2026-05-05"),  # both orders, one date
        ("03/04/2026", None),  # 3 April or March 4? asked again
        ("24/12/26", None),  # 1926 or 2026?
        ("24 Dec 2026", "2026-12-24"),
        ("24 december 2026", "2026-12-24"),
        ("24th of December, 2026", "2026-12-24"),
        ("December 24, 2026", "2026-12-24"),
        ("Dec. 24th 2026", "2026-12-24"),
        ("1 Sept 2026", "2026-09-01"),
        ("24-Dec-2026", "2026-12-24"),
        ("December 24", "2026-12-24"),  # no year: the next December 24
        ("june 15", "2026-06-15"),  # today is not past
        ("14 June", "2027-06-14"),  # yesterday: next year's
        ("February 29", "2028-02-29"),  # the next one there is
        ("31/02/2026", None),
        ("2026-02-29", None),
        ("2026-13-01", None),
        ("24 Decembre 2026", None),
        ("tomorrow", None),
        ("24/12-2026", None),
        ("the 24th", None),
        ("", None),
    ],
)
def test_date_answers(answer: str, saved: str | None) -> None:
    assert check_answer(DATE, answer, today=TODAY) == saved


@pytest.mark.parametrize(
    ("answer", "saved"),
    [
        ("https://example.com", "https://example.com"),
        (" http://shop.example.co.uk/a?b=1#c ", "http://shop.example.co.uk/a?b=1#c"),
        ("HTTPS://Example.com/Path", "HTTPS://Example.com/Path"),
        ("example.com/x", "https://example.com/x"),
        ("www.example.com:8080", "https://www.example.com:8080"),
        ("café.example.fr", "https://café.example.fr"),
        ("ada@example.com", None),  # an email address, not a site
        ("https://user:pass@example.com", None),
        ("ftp://example.com/file", None),
        ("javascript:alert(1)", None),
        ("mailto:ada@example.com", None),
        ("http://localhost:8000", None),
        ("http://192.168.0.1", None),
        ("example", None),
        ("example.c", None),
        ("https://example.com:port", None),
        ("my site is example.com", None),
        ("https://", None),
        ("", None),
    ],
)
def test_url_answers(answer: str, saved: str | None) -> None:
    assert check_answer(URL, answer) == saved


SIZES = (("Small", "S"), ("Large", "L"), ("Extra large", "XL"))


@pytest.mark.parametrize(
    ("answer", "saved"),
    [
        ("L", "L"),  # a tap sends the payload
        ("large", "L"),
        ("  EXTRA LARGE ", "XL"),
        ("xl", "XL"),
        ("Medium", None),
        ("larger", None),
        ("", None),
    ],
)
def test_choice_answers_name_a_quick_reply_and_save_its_payload(
    answer: str, saved: str | None
) -> None:
    assert check_answer(CHOICE, answer, choices=SIZES) == saved


def test_a_title_wins_over_another_replys_payload_and_a_tap_over_both() -> None:
    crossed = (("Yes", "NO_THANKS"), ("No", "YES"))
    assert check_answer(CHOICE, "yes", choices=crossed) == "NO_THANKS"
    assert check_answer(CHOICE, "YES", choices=crossed) == "YES"


@pytest.mark.parametrize(
    ("kind", "attachments", "saved"),
    [
        (AnswerKind.IMAGE, (PHOTO,), PHOTO.url),
        (AnswerKind.IMAGE, (PDF, PHOTO), PHOTO.url),
        (AnswerKind.IMAGE, (PDF,), None),
        (AnswerKind.IMAGE, (Attachment(type="image"),), None),  # no URL to keep
        (AnswerKind.FILE, (PDF,), PDF.url),
        (AnswerKind.FILE, (PHOTO,), None),  # a photo is an image, not a file
        (AnswerKind.LOCATION, (EIFFEL,), {"latitude": 48.8584, "longitude": 2.2945}),
        (AnswerKind.LOCATION, (Attachment(type="location"),), None),
        (AnswerKind.LOCATION, (PHOTO,), None),
        (AnswerKind.LOCATION, (), None),
    ],
)
def test_attachment_answers(
    kind: AnswerKind, attachments: tuple[Attachment, ...], saved: Answer | None
) -> None:
    assert check_answer(AnswerCheck(kind=kind), None, attachments=attachments) == saved


@pytest.mark.parametrize("kind", [AnswerKind.IMAGE, AnswerKind.FILE, AnswerKind.LOCATION])
def test_text_never_answers_an_attachment_ask(kind: AnswerKind) -> None:
    assert check_answer(AnswerCheck(kind=kind), "https://example.com/cat.jpg") is None
