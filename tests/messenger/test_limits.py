"""Long texts split where a reader would break them."""

from __future__ import annotations

from runtime.messenger.limits import ELLIPSIS, fit, split_text


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
