"""Rendered values are fitted to Messenger's limits, and every cut is noted."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from runtime.bot import Bot, ButtonsStep, CardsStep, Step, TextStep
from runtime.dialog.messages import ButtonTemplate, GenericTemplate, QuickReply, TextMessage
from runtime.messenger.limits import ELLIPSIS, LIMITS
from tests.dialog.conftest import Chat, MakeBot, notes_at, said
from tests.dialog.events import text

STEP = "flows.main.steps.0"


def one_flow(steps: str) -> str:
    return f'{{ flows: {{ main: {{ triggers: [{{ keywords: ["go"] }}], steps: {steps} }} }} }}'


def long(count: int) -> str:
    """A template that renders `count` characters (a literal that long fails validation)."""
    return f"{{{{ 'x' * {count} }}}}"


def with_step(bot: Bot, step: Step) -> Bot:
    """`bot` with flows.main.steps.0 replaced by `step`.

    Validation refuses a 14th literal quick reply, so a test builds one this way: the engine
    still caps whatever it is given.
    """
    flow = replace(bot.flows["main"], steps=(step,))
    return replace(bot, flows=MappingProxyType({**bot.flows, "main": flow}))


def test_a_long_quick_reply_title_is_cut_with_an_ellipsis(make_bot: MakeBot) -> None:
    bot = make_bot(
        one_flow(f'[{{ text: "Hi", quick_replies: [{{ title: "{long(30)}", payload: "A" }}] }}]')
    )
    turn = Chat(bot).send(text("go"))
    (reply,) = turn.messages[0].quick_replies
    assert reply.title is not None
    assert len(reply.title) == LIMITS.quick_reply_title
    assert reply.title.endswith(ELLIPSIS)
    (note,) = notes_at(turn, f"{STEP}.quick_replies.0.title")
    assert note.endswith("is 30 characters after rendering; cut to 20")


def test_long_button_titles_and_payloads_are_cut(make_bot: MakeBot) -> None:
    bot = make_bot(
        one_flow(f"""[{{ buttons: {{ text: "Pick", buttons: [
          {{ type: "postback", title: "{long(25)}", payload: "{long(1200)}" }},
        ] }} }}]""")
    )
    turn = Chat(bot).send(text("go"))
    (message,) = turn.messages
    assert isinstance(message, ButtonTemplate)
    (button,) = message.buttons
    assert button.title == "x" * (LIMITS.button_title - 1) + ELLIPSIS
    assert button.payload == "x" * LIMITS.payload  # a payload is cut without an ellipsis
    assert len(notes_at(turn, f"{STEP}.buttons.buttons.0.title")) == 1
    assert len(notes_at(turn, f"{STEP}.buttons.buttons.0.payload")) == 1


def test_a_long_quick_reply_payload_is_cut(make_bot: MakeBot) -> None:
    bot = make_bot(
        one_flow(f'[{{ text: "Hi", quick_replies: [{{ title: "A", payload: "{long(1001)}" }}] }}]')
    )
    turn = Chat(bot).send(text("go"))
    assert turn.messages[0].quick_replies[0].payload == "x" * LIMITS.payload
    assert len(notes_at(turn, f"{STEP}.quick_replies.0.payload")) == 1


def test_a_long_button_template_text_is_cut(make_bot: MakeBot) -> None:
    bot = make_bot(
        one_flow(f"""[{{ buttons: {{ text: "{long(700)}",
          buttons: [{{ type: "postback", title: "OK", payload: "OK" }}] }} }}]""")
    )
    turn = Chat(bot).send(text("go"))
    (message,) = turn.messages
    assert isinstance(message, ButtonTemplate)
    assert len(message.text) == LIMITS.button_template_text
    assert message.text.endswith(ELLIPSIS)
    assert len(notes_at(turn, f"{STEP}.buttons.text")) == 1


def test_long_card_titles_and_subtitles_are_cut(make_bot: MakeBot) -> None:
    bot = make_bot(one_flow(f'[{{ cards: [{{ title: "{long(90)}", subtitle: "{long(100)}" }}] }}]'))
    turn = Chat(bot).send(text("go"))
    (message,) = turn.messages
    assert isinstance(message, GenericTemplate)
    (card,) = message.cards
    assert len(card.title) == LIMITS.card_title
    assert card.subtitle is not None
    assert len(card.subtitle) == LIMITS.card_subtitle
    assert len(notes_at(turn, f"{STEP}.cards.0.title")) == 1
    assert len(notes_at(turn, f"{STEP}.cards.0.subtitle")) == 1


def test_quick_replies_past_13_are_left_out(make_bot: MakeBot) -> None:
    bot = make_bot(one_flow('[{ text: "Hi", quick_replies: [{ title: "Q", payload: "Q" }] }]'))
    step = bot.flows["main"].steps[0]
    assert isinstance(step, TextStep)
    turn = Chat(with_step(bot, replace(step, quick_replies=step.quick_replies * 14))).send(
        text("go")
    )
    assert len(turn.messages[0].quick_replies) == LIMITS.quick_replies
    (note,) = notes_at(turn, f"{STEP}.quick_replies")
    assert note.endswith(
        "14 quick replies after rendering; Messenger takes 13, the rest are left out"
    )


def test_buttons_past_3_are_left_out(make_bot: MakeBot) -> None:
    bot = make_bot(
        one_flow(
            '[{ buttons: { text: "Pick",'
            ' buttons: [{ type: "postback", title: "B", payload: "B" }] } }]'
        )
    )
    step = bot.flows["main"].steps[0]
    assert isinstance(step, ButtonsStep)
    turn = Chat(with_step(bot, replace(step, buttons=step.buttons * 4))).send(text("go"))
    (message,) = turn.messages
    assert isinstance(message, ButtonTemplate)
    assert len(message.buttons) == LIMITS.buttons
    assert len(notes_at(turn, f"{STEP}.buttons.buttons")) == 1


def test_cards_past_10_and_card_buttons_past_3_are_left_out(make_bot: MakeBot) -> None:
    bot = make_bot(
        one_flow(
            '[{ cards: [{ title: "C",'
            ' buttons: [{ type: "postback", title: "B", payload: "B" }] }] }]'
        )
    )
    step = bot.flows["main"].steps[0]
    assert isinstance(step, CardsStep)
    card = replace(step.cards[0], buttons=step.cards[0].buttons * 4)
    turn = Chat(with_step(bot, replace(step, cards=(card,) * 11))).send(text("go"))
    (message,) = turn.messages
    assert isinstance(message, GenericTemplate)
    assert len(message.cards) == LIMITS.cards
    assert all(len(card.buttons) == LIMITS.buttons for card in message.cards)
    assert len(notes_at(turn, f"{STEP}.cards")) == 1
    assert len(notes_at(turn, f"{STEP}.cards.0.buttons")) == 1


def test_a_5000_character_text_becomes_3_messages_with_quick_replies_on_the_last(
    make_bot: MakeBot,
) -> None:
    sentence = "This sentence is exactly fifty characters long ok. "
    words = sentence * 100  # 5,100 characters
    bot = make_bot(
        one_flow(f"""[{{ text: "{{{{ '{sentence}' * 100 }}}}",
          quick_replies: [{{ title: "More", payload: "MORE" }}] }}]""")
    )
    turn = Chat(bot).send(text("go"))
    assert len(turn.messages) == 3
    assert all(isinstance(message, TextMessage) for message in turn.messages)
    parts = said(turn)
    assert all(len(part) <= LIMITS.text for part in parts)
    assert " ".join(parts) == words.strip()  # in order, nothing lost
    assert [message.quick_replies for message in turn.messages] == [
        (),
        (),
        (QuickReply(title="More", payload="MORE"),),
    ]
    assert turn.notes == ()


def test_a_long_ask_prompt_is_split_too(make_bot: MakeBot) -> None:
    bot = make_bot(one_flow(f'[{{ ask: "{long(2500)}", save_as: "a" }}]'))
    turn = Chat(bot).send(text("go"))
    assert [len(part) for part in said(turn)] == [2000, 500]
    assert turn.session.flow == "main"


def test_a_text_that_renders_empty_sends_nothing_and_says_so(make_bot: MakeBot) -> None:
    bot = make_bot(one_flow('[{ text: "{{ vars.nothing }}  " }, { text: "next" }]'))
    turn = Chat(bot).send(text("go"))
    assert said(turn) == ["next"]
    (note,) = notes_at(turn, f"{STEP}.text")
    assert note.endswith("renders empty; no message is sent")
