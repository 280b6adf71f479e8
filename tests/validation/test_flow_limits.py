"""Messenger's limits on literal values: each broken one is an error at its exact key path."""

from __future__ import annotations

import pytest

from tests.validation.conftest import BotFolder, one_flow

FILE = "flows/main.json5"
STEP = f"{FILE}: flows.main.steps.0"


def long(count: int) -> str:
    return "x" * count


def quick_replies(count: int) -> str:
    return "[" + ", ".join(f'{{ title: "Q{n}", payload: "GO" }}' for n in range(count)) + "]"


def buttons(count: int) -> str:
    return (
        "["
        + ", ".join(f'{{ type: "postback", title: "B{n}", payload: "GO" }}' for n in range(count))
        + "]"
    )


def button_template(buttons: str, text: str = "Pick one") -> str:
    return f'{{ buttons: {{ text: "{text}", buttons: {buttons} }} }}'


def card(**fields: str) -> str:
    values = {"title": '"Card"', **fields}
    return "{ " + ", ".join(f"{key}: {value}" for key, value in values.items()) + " }"


LONG_TITLE_BUTTON = f'[{{ type: "postback", title: "{long(21)}", payload: "GO" }}]'
MAILTO_BUTTON = '[{ type: "web_url", title: "Open", url: "mailto:a@b.c" }]'

LIMIT_ERRORS = {
    "14 quick replies": (
        f'{{ text: "Hi", quick_replies: {quick_replies(14)} }}',
        f"{STEP}.quick_replies: has 14 quick replies; Messenger allows at most 13",
    ),
    "quick reply title": (
        f'{{ text: "Hi", quick_replies: [{{ title: "{long(21)}", payload: "GO" }}] }}',
        f"{STEP}.quick_replies.0.title: is 21 characters; Messenger allows at most 20",
    ),
    "quick reply payload": (
        f'{{ text: "Hi", quick_replies: [{{ title: "A", payload: "{long(1001)}" }}] }}',
        f"{STEP}.quick_replies.0.payload: is 1001 characters; Messenger allows at most 1000",
    ),
    "quick reply image_url": (
        '{ text: "Hi", quick_replies: [{ title: "A", payload: "GO", image_url: "red.png" }] }',
        f"{STEP}.quick_replies.0.image_url: 'red.png' is not an http(s) URL",
    ),
    "4 buttons in a button template": (
        button_template(buttons(4)),
        f"{STEP}.buttons.buttons: has 4 buttons; Messenger allows at most 3",
    ),
    "button template text": (
        button_template(buttons(1), text=long(641)),
        f"{STEP}.buttons.text: is 641 characters; Messenger allows at most 640",
    ),
    "button title": (
        button_template(f'[{{ type: "postback", title: "{long(21)}", payload: "GO" }}]'),
        f"{STEP}.buttons.buttons.0.title: is 21 characters; Messenger allows at most 20",
    ),
    "button payload": (
        button_template(f'[{{ type: "postback", title: "B", payload: "{long(1001)}" }}]'),
        f"{STEP}.buttons.buttons.0.payload: is 1001 characters; Messenger allows at most 1000",
    ),
    "web_url button url": (
        button_template('[{ type: "web_url", title: "Open", url: "ftp://x" }]'),
        f"{STEP}.buttons.buttons.0.url: 'ftp://x' is not an http(s) URL",
    ),
    "web_url button url without a host": (
        button_template('[{ type: "web_url", title: "Open", url: "https:/example.com" }]'),
        f"{STEP}.buttons.buttons.0.url: 'https:/example.com' is not an http(s) URL",
    ),
    "web_url button url that does not parse": (
        button_template('[{ type: "web_url", title: "Open", url: "http://[::1" }]'),
        f"{STEP}.buttons.buttons.0.url: 'http://[::1' is not an http(s) URL",
    ),
    "phone_number button payload": (
        button_template('[{ type: "phone_number", title: "Call", payload: "555-0123" }]'),
        f"{STEP}.buttons.buttons.0.payload: '555-0123' is not a phone number in international"
        " form: '+', the country code and the number, digits only, like '+15555550123'",
    ),
    "11 cards": (
        "{ cards: [" + ", ".join([card()] * 11) + "] }",
        f"{STEP}.cards: has 11 cards; Messenger allows at most 10",
    ),
    "card title": (
        f"{{ cards: [{card(title=repr(long(81)))}] }}",
        f"{STEP}.cards.0.title: is 81 characters; Messenger allows at most 80",
    ),
    "card subtitle": (
        f"{{ cards: [{card(subtitle=repr(long(81)))}] }}",
        f"{STEP}.cards.0.subtitle: is 81 characters; Messenger allows at most 80",
    ),
    "card image_url": (
        f"{{ cards: [{card(image_url=repr('//example.com/a.png'))}] }}",
        f"{STEP}.cards.0.image_url: '//example.com/a.png' is not an http(s) URL",
    ),
    "card default_action url": (
        f"{{ cards: [{card(default_action='{ url: ' + repr('example.com') + ' }')}] }}",
        f"{STEP}.cards.0.default_action.url: 'example.com' is not an http(s) URL",
    ),
    "4 buttons on a card": (
        f"{{ cards: [{card(buttons=buttons(4))}] }}",
        f"{STEP}.cards.0.buttons: has 4 buttons; Messenger allows at most 3",
    ),
    "card button title": (
        f"{{ cards: [{card(buttons=LONG_TITLE_BUTTON)}] }}",
        f"{STEP}.cards.0.buttons.0.title: is 21 characters; Messenger allows at most 20",
    ),
    "card button url": (
        f"{{ cards: [{card(buttons=MAILTO_BUTTON)}] }}",
        f"{STEP}.cards.0.buttons.0.url: 'mailto:a@b.c' is not an http(s) URL",
    ),
    "attachment url": (
        '{ attachment: { type: "image", url: "file:///etc/passwd" } }',
        f"{STEP}.attachment.url: 'file:///etc/passwd' is not an http(s) URL",
    ),
    "ask prompt": (
        f'{{ ask: "{long(2001)}", save_as: "answer" }}',
        f"{STEP}.ask: is 2001 characters; Messenger allows at most 2000",
    ),
    "ask retry": (
        f'{{ ask: "Email?", save_as: "email", validate: "email", retry: "{long(2001)}" }}',
        f"{STEP}.retry: is 2001 characters; Messenger allows at most 2000",
    ),
}


@pytest.mark.parametrize(("step", "error"), LIMIT_ERRORS.values(), ids=LIMIT_ERRORS.keys())
def test_a_literal_over_a_messenger_limit_is_an_error_at_its_key_path(
    bot: BotFolder, step: str, error: str
) -> None:
    bot.flow(one_flow(step))
    assert bot.errors() == [error]


def test_a_trigger_payload_over_the_limit_is_an_error(bot: BotFolder) -> None:
    bot.flow(one_flow('{ text: "Hi" }', triggers=f'[{{ payload: "{long(1001)}" }}]'))
    assert bot.errors() == [
        f"{FILE}: flows.main.triggers.0.payload: is 1001 characters; Messenger allows at most 1000"
    ]


def test_values_at_the_limits_are_fine(bot: BotFolder) -> None:
    bot.flow(
        one_flow(
            f'{{ text: "Hi", quick_replies: {quick_replies(13)} }},'
            + button_template(buttons(3), text=long(640))
            + ", { cards: ["
            + ", ".join([card(title=repr(long(80)), subtitle=repr(long(80)))] * 10)
            + "] }, "
            + f'{{ ask: "{long(2000)}", save_as: "answer" }}, '
            + button_template(
                '[{ type: "phone_number", title: "Call", payload: "+15555550123" },'
                ' { type: "web_url", title: "Open", url: "HTTPS://Example.com:8443/a?b=c#d" }]'
            ),
            triggers=f'[{{ payload: "GO" }}, {{ payload: "{long(1000)}" }}]',
        )
    )
    assert bot.warnings() == []


def test_a_long_text_is_not_an_error_it_is_sent_as_several_messages(bot: BotFolder) -> None:
    bot.flow(one_flow(f'{{ text: "{long(5000)}" }}'))
    assert bot.warnings() == []


def test_a_template_is_checked_when_rendered_not_at_validate_time(bot: BotFolder) -> None:
    bot.flow("""{ flows: { main: { triggers: [{ payload: "GO" }], steps: [
      { text: "Hi", quick_replies: [
          { title: "{{ vars.title | default('a default longer than 20') }}",
            payload: "{{ vars.payload }}" }] },
      { buttons: { text: "{% if vars.x %}%s{% endif %}", buttons: [
          { type: "web_url", title: "{# a comment longer than 20 #}Open", url: "{{ vars.url }}" },
          { type: "phone_number", title: "Call", payload: "{{ vars.phone }}" }] } },
      { attachment: { type: "image", url: "{{ vars.picture }}" } },
    ] } } }""")
    assert bot.warnings() == []


def test_every_limit_of_a_file_is_reported_at_once(bot: BotFolder) -> None:
    bot.flow(
        one_flow(
            f'{{ text: "Hi", quick_replies: {quick_replies(14)} }}, '
            + button_template(buttons(4), text=long(641))
        )
    )
    assert bot.errors() == [
        f"{STEP}.quick_replies: has 14 quick replies; Messenger allows at most 13",
        f"{FILE}: flows.main.steps.1.buttons.text: is 641 characters; Messenger allows at most 640",
        f"{FILE}: flows.main.steps.1.buttons.buttons: has 4 buttons; Messenger allows at most 3",
    ]
