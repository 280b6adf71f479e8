"""A template that fails loses only its own part of the answer, with a note; never the turn."""

from __future__ import annotations

import pytest

from runtime.dialog.messages import Button, ButtonTemplate, Card, GenericTemplate, QuickReply
from tests.dialog.conftest import Chat, MakeBot, notes_at, said
from tests.dialog.events import postback, tap, text

FALLBACK = '{ flows: { fallback: { steps: [{ text: "Sorry, something broke." }] } } }'


def one_flow(steps: str) -> str:
    return f'{{ flows: {{ main: {{ triggers: [{{ keywords: ["go"] }}], steps: {steps} }} }} }}'


@pytest.mark.parametrize(
    ("template", "error"),
    [
        ("{{ vars.profile.name }}", "UndefinedError"),  # an attribute of an undefined value
        ("{{ 'abc' | round }}", "TypeError"),  # a filter given the wrong kind of value
        ("{{ message.text + 1 }}", "TypeError"),
        ("{{ 1 // 0 }}", "ZeroDivisionError"),
        ("{{ ''.__class__.__mro__ }}", "SecurityError"),  # the sandbox says no
    ],
)
def test_a_failing_text_drops_its_message_and_the_rest_is_sent(
    make_bot: MakeBot, template: str, error: str
) -> None:
    bot = make_bot(one_flow(f'[{{ text: "{template}" }}, {{ text: "still here" }}]'))
    turn = Chat(bot).send(text("go"))
    assert said(turn) == ["still here"]
    (note,) = notes_at(turn, "flows.main.steps.0.text")
    assert "flows/main.json5: flows.main.steps.0.text: " in note
    assert f"does not render ({error}: " in note
    assert note.endswith("no message is sent")


def test_a_failing_quick_reply_is_left_out(make_bot: MakeBot) -> None:
    bot = make_bot(
        one_flow("""[{ text: "Pick one", quick_replies: [
          { title: "A", payload: "A" },
          { title: "{{ vars.user.name }}", payload: "B" },
          { title: "C", payload: "{{ 1 // 0 }}" },
          { title: "D", payload: "D", image_url: "{{ vars.a.b }}" },
        ] }]""")
    )
    turn = Chat(bot).send(text("go"))
    (message,) = turn.messages
    assert message.quick_replies == (
        QuickReply(title="A", payload="A"),
        QuickReply(title="D", payload="D"),  # a failing image is left out alone
    )
    assert len(notes_at(turn, "flows.main.steps.0.quick_replies.1.title")) == 1
    assert len(notes_at(turn, "flows.main.steps.0.quick_replies.2.payload")) == 1
    assert len(notes_at(turn, "flows.main.steps.0.quick_replies.3.image_url")) == 1


def test_a_failing_button_is_left_out(make_bot: MakeBot) -> None:
    bot = make_bot(
        one_flow("""[{ buttons: { text: "Choose", buttons: [
          { type: "postback", title: "{{ vars.x.y }}", payload: "X" },
          { type: "web_url", title: "Site", url: "{{ vars.site.url }}" },
          { type: "postback", title: "OK", payload: "OK" },
        ] } }]""")
    )
    turn = Chat(bot).send(text("go"))
    assert turn.messages == (
        ButtonTemplate(text="Choose", buttons=(Button(type="postback", title="OK", payload="OK"),)),
    )
    assert len(turn.notes) == 2


def test_a_button_template_whose_buttons_all_fail_is_sent_as_text(make_bot: MakeBot) -> None:
    bot = make_bot(
        one_flow("""[{ buttons: { text: "Choose",
          buttons: [{ type: "postback", title: "{{ vars.x.y }}", payload: "X" }] } }]""")
    )
    turn = Chat(bot).send(text("go"))
    assert said(turn) == ["Choose"]
    assert len(notes_at(turn, "flows.main.steps.0.buttons.buttons")) == 1


def test_a_failing_card_is_left_out_and_a_failing_subtitle_alone(make_bot: MakeBot) -> None:
    bot = make_bot(
        one_flow("""[{ cards: [
          { title: "{{ vars.a.b }}" },
          { title: "Kept", subtitle: "{{ vars.a.b }}", image_url: "https://x.test/i.png",
            buttons: [{ type: "postback", title: "Go", payload: "{{ vars.a.b }}" }] },
        ] }]""")
    )
    turn = Chat(bot).send(text("go"))
    assert turn.messages == (
        GenericTemplate(cards=(Card(title="Kept", image_url="https://x.test/i.png"),)),
    )
    assert len(notes_at(turn, "flows.main.steps.0.cards.0.title")) == 1
    assert len(notes_at(turn, "flows.main.steps.0.cards.1.subtitle")) == 1
    assert len(notes_at(turn, "flows.main.steps.0.cards.1.buttons.0.payload")) == 1


def test_a_failing_when_skips_its_step(make_bot: MakeBot) -> None:
    bot = make_bot(one_flow('[{ text: "hidden", when: "vars.a.b > 1" }, { text: "shown" }]'))
    turn = Chat(bot).send(text("go"))
    assert said(turn) == ["shown"]
    (note,) = notes_at(turn, "flows.main.steps.0.when")
    assert note.endswith("the step is skipped")


def test_a_failing_set_value_is_skipped_and_the_others_are_set(make_bot: MakeBot) -> None:
    bot = make_bot(
        one_flow('[{ set: { a: "{{ vars.x.y }}", b: "ok" } }, { text: "{{ vars.b }}" }]')
    )
    turn = Chat(bot).send(text("go"))
    assert said(turn) == ["ok"]
    assert dict(turn.session.vars) == {"b": "ok"}
    assert len(notes_at(turn, "flows.main.steps.0.set.a")) == 1


def test_when_everything_fails_the_fallback_answers(make_bot: MakeBot) -> None:
    bot = make_bot(one_flow('[{ text: "Hi {{ vars.user.name }}" }]'), fallback=FALLBACK)
    turn = Chat(bot).send(text("go"))
    assert said(turn) == ["Sorry, something broke."]
    assert turn.flow == "main"
    assert len(turn.notes) == 1


def test_an_ask_whose_prompt_fails_lets_the_fallback_answer_and_stops_waiting(
    make_bot: MakeBot,
) -> None:
    bot = make_bot(one_flow('[{ ask: "{{ vars.a.b }}?", save_as: "a" }]'), fallback=FALLBACK)
    turn = Chat(bot).send(text("go"))
    assert said(turn) == ["Sorry, something broke."]
    assert (turn.session.flow, turn.session.step) == (None, None)


def test_a_failing_fallback_is_not_run_again(make_bot: MakeBot) -> None:
    bot = make_bot(
        '{ flows: { fallback: { steps: [{ text: "{{ vars.a.b }}" }] } } }',
    )
    turn = Chat(bot).send(text("anything"))
    assert turn.messages == ()
    assert turn.flow == "fallback"
    assert len(turn.notes) == 1


def test_a_flow_that_only_says_nothing_on_purpose_gets_no_fallback(make_bot: MakeBot) -> None:
    bot = make_bot(one_flow('[{ text: "{% if vars.x %}x{% endif %}" }]'), fallback=FALLBACK)
    turn = Chat(bot).send(text("go"))
    assert turn.messages == ()
    (note,) = notes_at(turn, "flows.main.steps.0.text")
    assert note.endswith("renders empty; no message is sent")


def test_a_failing_retry_text_sends_the_prompt_again(make_bot: MakeBot) -> None:
    bot = make_bot(
        one_flow('[{ ask: "Age?", save_as: "age", validate: "number", retry: "{{ vars.a.b }}" }]')
    )
    chat = Chat(bot)
    chat.send(text("go"))
    turn = chat.send(text("old"))
    assert said(turn) == ["Age?"]
    assert turn.session.retries == 1
    assert len(notes_at(turn, "flows.main.steps.0.retry")) == 1


def test_a_failing_template_after_a_menu_tap_never_raises(make_bot: MakeBot) -> None:
    bot = make_bot(
        '{ flows: { m: { triggers: [{ payload: "M" }],'
        ' steps: [{ text: "{{ message.attachments[3].url.x }}" }] } } }'
    )
    turn = Chat(bot).send(postback("M"))
    assert turn.messages == ()
    assert len(turn.notes) == 1


def test_a_failing_attachment_url_drops_the_attachment(make_bot: MakeBot) -> None:
    bot = make_bot(
        one_flow('[{ attachment: { type: "image", url: "{{ vars.a.b }}" } }, { text: "ok" }]')
    )
    turn = Chat(bot).send(text("go"))
    assert said(turn) == ["ok"]
    (note,) = notes_at(turn, "flows.main.steps.0.attachment.url")
    assert note.endswith("the attachment is not sent")


def test_a_failing_button_template_text_drops_the_message(make_bot: MakeBot) -> None:
    bot = make_bot(
        one_flow("""[{ buttons: { text: "{{ vars.a.b }}",
          buttons: [{ type: "postback", title: "OK", payload: "OK" }] } }, { text: "ok" }]""")
    )
    turn = Chat(bot).send(text("go"))
    assert said(turn) == ["ok"]
    assert len(notes_at(turn, "flows.main.steps.0.buttons.text")) == 1


def test_cards_that_all_fail_send_nothing_and_say_so(make_bot: MakeBot) -> None:
    bot = make_bot(one_flow('[{ cards: [{ title: "{{ vars.a.b }}" }] }, { text: "ok" }]'))
    turn = Chat(bot).send(text("go"))
    assert said(turn) == ["ok"]
    assert len(notes_at(turn, "flows.main.steps.0.cards.0.title")) == 1
    assert len(notes_at(turn, "flows.main.steps.0.cards")) == 1


def test_an_ask_whose_quick_reply_payload_fails_still_takes_typed_answers(
    make_bot: MakeBot,
) -> None:
    bot = make_bot(
        """{ flows: {
          main: { triggers: [{ keywords: ["go"] }], steps: [
            { ask: "Size?", save_as: "size", quick_replies: [
                { title: "S", payload: "{{ vars.a.b }}" }, { title: "M", payload: "M" }] },
            { text: "size {{ vars.size }}" },
          ] },
          menu: { triggers: [{ payload: "MENU" }], steps: [{ text: "the menu" }] },
        } }"""
    )
    chat = Chat(bot)
    turn = chat.send(text("go"))
    assert turn.messages[0].quick_replies == (QuickReply(title="M", payload="M"),)
    assert chat.said(tap("M", "M")) == ["size M"]
    chat.send(text("go"))
    assert chat.said(postback("MENU")) == ["the menu"]
