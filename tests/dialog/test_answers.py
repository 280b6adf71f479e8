"""The rules an `ask` answer is checked by, and the value that is saved."""

from __future__ import annotations

import re

import pytest

from runtime.bot import AnswerCheck, AnswerKind
from runtime.dialog.answers import check_answer

EMAIL = AnswerCheck(kind=AnswerKind.EMAIL)
NUMBER = AnswerCheck(kind=AnswerKind.NUMBER)
PHONE = AnswerCheck(kind=AnswerKind.PHONE)


def regex(pattern: str) -> AnswerCheck:
    return AnswerCheck(kind=AnswerKind.REGEX, pattern=re.compile(pattern))


@pytest.mark.parametrize(
    ("answer", "saved"),
    [
        ("ada@example.com", "ada@example.com"),
        ("  Ada.Lovelace+bot@mail.example.co.uk \n", "Ada.Lovelace+bot@mail.example.co.uk"),
        ("ada@example", None),
        ("ada example.com", None),
        ("ada@@example.com", None),
        ("ada@example.c", None),
        ("ada@.example.com", None),
        ("ada @example.com", None),
        ("", None),
    ],
)
def test_email_answers(answer: str, saved: str | None) -> None:
    assert check_answer(EMAIL, answer) == saved


@pytest.mark.parametrize(
    ("answer", "saved"),
    [
        ("3", 3),
        (" 42 ", 42),
        ("-2", -2),
        ("+7", 7),
        ("3.5", 3.5),
        ("1,5", 1.5),
        ("-0.25", -0.25),
        ("1,000", None),  # thousands or decimals? asked again
        ("1.000", 1.0),
        ("1 000", None),
        ("1e5", None),
        ("nan", None),
        ("inf", None),
        (".5", None),
        ("3.", None),
        ("three", None),
        ("", None),
    ],
)
def test_number_answers(answer: str, saved: float | None) -> None:
    value = check_answer(NUMBER, answer)
    assert value == saved
    assert type(value) is type(saved)


@pytest.mark.parametrize(
    ("answer", "saved"),
    [
        ("+1 (555) 010-0123", "+15550100123"),
        ("555 0100", "5550100"),
        ("06.12.34.56.78", "0612345678"),
        ("+44 20 7946 0958", "+442079460958"),
        ("123456", None),  # 6 digits
        ("+1234567890123456", None),  # 16 digits
        ("555-CALL-NOW", None),
        ("555 0100 ext 2", None),
        ("1+5550100", None),
        ("", None),
    ],
)
def test_phone_answers(answer: str, saved: str | None) -> None:
    assert check_answer(PHONE, answer) == saved


def test_a_regex_must_match_the_whole_answer() -> None:
    five_digits = regex("[0-9]{5}")
    assert check_answer(five_digits, " 75011 ") == "75011"
    assert check_answer(five_digits, "750111") is None
    assert check_answer(five_digits, "zip 75011") is None


def test_without_a_check_any_text_is_an_answer() -> None:
    assert check_answer(None, "  anything at all ") == "anything at all"
    assert check_answer(None, "   ") is None
    assert check_answer(None, None) is None
