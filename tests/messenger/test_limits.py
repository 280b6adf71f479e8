"""Long texts split where a reader would break them, into ten messages at most."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.messenger.limits import (
    ELLIPSIS,
    LIMITS,
    _best_break,
    fit,
    split_message_text,
    split_text,
)


def test_short_text_is_one_part() -> None:
    assert split_text("hello") == ["hello"]


def test_text_splits_at_paragraphs_first() -> None:
    first, second = "a" * 1500, "b" * 1000
    assert split_text(f"{first}\n\n{second}") == [first, second]


def test_text_splits_at_sentences_then_words() -> None:
    sentence = "This is a sentence of some length. "
    parts = split_text(sentence * 100)
    assert all(len(part) <= 2000 for part in parts)
    assert all(part.endswith(".") for part in parts)
    assert " ".join(parts) == (sentence * 100).strip()


def test_a_single_huge_word_is_cut_hard() -> None:
    parts = split_text("x" * 4500)
    assert [len(part) for part in parts] == [2000, 2000, 500]


def test_fit_cuts_with_an_ellipsis() -> None:
    assert fit("Talk to a human being now", 20) == "Talk to a human bei" + ELLIPSIS
    assert len(fit("x" * 50, 20)) == 20
    assert fit("short", 20) == "short"


def test_a_text_for_messages_keeps_ten_parts_and_counts_what_is_left_out() -> None:
    parts, left_out = split_message_text("x" * 25_000)
    assert parts == ["x" * LIMITS.text] * LIMITS.messages_per_text
    assert left_out == 5_000
    assert split_message_text("x" * 20_000) == (["x" * LIMITS.text] * 10, 0)
    assert split_message_text("short") == (["short"], 0)
    parts, left_out = split_message_text("word " * 1_000_000, max_parts=2)
    assert len(parts) == 2
    assert left_out == len(("word " * 1_000_000).strip()) - len(parts[0]) - 1 - len(parts[1]) - 1


def _split_text_as_it_was(text: str, limit: int) -> list[str]:
    """The slicing version split_text replaced (it cost O(n²) on long texts)."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = _best_break(window, limit)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not parts:
        parts.append(rest)
    return parts


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.text(st.sampled_from("ab .!?\n\t\u00a0\u2003"), max_size=400),
    st.integers(min_value=2, max_value=60),
)
def test_split_text_breaks_where_it_always_did(text: str, limit: int) -> None:
    assert split_text(text, limit) == _split_text_as_it_was(text, limit)
