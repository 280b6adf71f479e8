"""How messages are drawn as lines for `runtime test`: all of them, or only what a test names."""

from __future__ import annotations

from runtime.dialog.messages import (
    Button,
    ButtonTemplate,
    Card,
    GenericTemplate,
    MediaAttachment,
    QuickReply,
    TextMessage,
)
from runtime.testing.cases import ExpectedCard, ExpectedMessage, MessageKind
from runtime.testing.expectations import diff, render_expected, render_message

MENU = TextMessage(
    text="Hi there!\nWhat do you need?",
    quick_replies=(
        QuickReply(title="Pricing", payload="PRICING"),
        QuickReply(content_type="user_email"),
    ),
)
PLANS = ButtonTemplate(
    text="Plans start at 9.90 EUR.",
    buttons=(
        Button(type="web_url", title="See plans", url="https://example.com"),
        Button(type="postback", title="Back", payload="GET_STARTED"),
    ),
)
CARDS = GenericTemplate(
    cards=(
        Card(title="Starter", subtitle="To begin", image_url="https://example.com/s.png"),
        Card(title="Pro"),
    )
)
PICTURE = MediaAttachment(type="image", url="https://example.com/thanks.png")


def test_a_message_with_no_expectation_is_drawn_whole() -> None:
    assert render_message(MENU) == 'text: "Hi there!\\nWhat do you need?"  [Pricing] [user_email]'
    assert render_message(PLANS) == 'buttons: "Plans start at 9.90 EUR."  <See plans> <Back>'
    assert render_message(CARDS) == 'cards: "Starter" ("To begin") | "Pro"'
    assert render_message(PICTURE) == "attachment: image https://example.com/thanks.png"


def test_only_the_parts_an_expectation_names_are_drawn() -> None:
    text_only = ExpectedMessage(kind=MessageKind.TEXT, text="Hi")
    assert render_message(MENU, text_only) == 'text: "Hi there!\\nWhat do you need?"'
    titles = ExpectedMessage(kind=MessageKind.BUTTONS, buttons=("See plans",))
    assert render_message(PLANS, titles) == "buttons: <See plans> <Back>"
    cards = ExpectedMessage(kind=MessageKind.CARDS, cards=(ExpectedCard(title="Starter"),))
    assert render_message(CARDS, cards) == 'cards: "Starter" | "Pro"'
    kind_only = ExpectedMessage(kind=MessageKind.ATTACHMENT, attachment_type="image")
    assert render_message(PICTURE, kind_only) == "attachment: image"
    assert render_message(PICTURE, ExpectedMessage(kind=MessageKind.ATTACHMENT)) == "attachment:"


def test_an_expectation_of_another_kind_draws_the_whole_message() -> None:
    wrong = ExpectedMessage(kind=MessageKind.TEXT, text="Plans")
    assert render_message(PLANS, wrong) == render_message(PLANS)


def test_no_quick_replies_expected_is_not_the_same_as_not_compared() -> None:
    none_expected = ExpectedMessage(kind=MessageKind.TEXT, text="x", quick_replies=())
    assert render_expected(none_expected) == 'text: "x"'
    assert render_message(MENU, none_expected).endswith("[Pricing] [user_email]")


def test_the_diff_keeps_every_line_as_context_and_drops_hunk_headers() -> None:
    lines = diff(["a", "b", "c"], ["a", "B", "c"])
    assert lines == ["--- expected", "+++ actual", " a", "-b", "+B", " c"]
