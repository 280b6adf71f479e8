"""What each kind of step sends: text, buttons, cards, attachments; and set, goto, when."""

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
from tests.dialog.conftest import Chat, MakeBot, notes_at, said
from tests.dialog.events import PSID, postback, text


def one_flow(steps: str, trigger: str = '{ keywords: ["go"] }') -> str:
    return f"{{ flows: {{ main: {{ triggers: [{trigger}], steps: {steps} }} }} }}"


def test_text_with_quick_replies_of_every_kind(make_bot: MakeBot) -> None:
    bot = make_bot(
        one_flow("""[{
          text: "Hi {{ user.first_name or 'there' }}, from {{ account.name }}!",
          quick_replies: [
            { title: "Pricing", payload: "PRICING", image_url: "https://x.test/p.png" },
            { title: "{{ 'Talk' }} to us", payload: "HUMAN_{{ user.psid }}" },
            { content_type: "user_email" },
            { content_type: "user_phone_number" },
          ],
        }]""")
    )
    turn = Chat(bot).send(text("go"))
    assert turn.messages == (
        TextMessage(
            text="Hi there, from Acme!",
            quick_replies=(
                QuickReply(title="Pricing", payload="PRICING", image_url="https://x.test/p.png"),
                QuickReply(title="Talk to us", payload=f"HUMAN_{PSID}"),
                QuickReply(content_type="user_email"),
                QuickReply(content_type="user_phone_number"),
            ),
        ),
    )
    assert turn.notes == ()


def test_steps_are_sent_in_order(make_bot: MakeBot) -> None:
    bot = make_bot(one_flow('[{ text: "one" }, { text: "two" }, { text: "three" }]'))
    assert Chat(bot).said(text("go")) == ["one", "two", "three"]


def test_a_button_template_with_each_button_type(make_bot: MakeBot) -> None:
    bot = make_bot(
        one_flow("""[{
          buttons: {
            text: "Plans start at {{ '%.2f' % 9.9 }} EUR.",
            buttons: [
              { type: "web_url", title: "See plans",
                url: "https://example.com/{{ account.page_id }}" },
              { type: "postback", title: "Back", payload: "MENU" },
              { type: "phone_number", title: "Call us", payload: "+15555550123" },
            ],
          },
          quick_replies: [{ title: "Later", payload: "LATER" }],
        }]""")
    )
    assert Chat(bot).send(text("go")).messages == (
        ButtonTemplate(
            text="Plans start at 9.90 EUR.",
            buttons=(
                Button(type="web_url", title="See plans", url="https://example.com/111"),
                Button(type="postback", title="Back", payload="MENU"),
                Button(type="phone_number", title="Call us", payload="+15555550123"),
            ),
            quick_replies=(QuickReply(title="Later", payload="LATER"),),
        ),
    )


def test_cards_with_image_subtitle_default_action_and_buttons(make_bot: MakeBot) -> None:
    bot = make_bot(
        one_flow("""[{
          cards: [
            {
              title: "Starter kit",
              subtitle: "For {{ vars.team or 'everyone' }}",
              image_url: "https://example.com/starter.png",
              default_action: { type: "web_url", url: "https://example.com/starter" },
              buttons: [
                { type: "web_url", title: "Details", url: "https://example.com/starter" },
                { type: "postback", title: "Sign up", payload: "SIGNUP" },
              ],
            },
            { title: "Pro kit" },
          ],
        }]""")
    )
    assert Chat(bot).send(text("go")).messages == (
        GenericTemplate(
            cards=(
                Card(
                    title="Starter kit",
                    subtitle="For everyone",
                    image_url="https://example.com/starter.png",
                    default_action_url="https://example.com/starter",
                    buttons=(
                        Button(type="web_url", title="Details", url="https://example.com/starter"),
                        Button(type="postback", title="Sign up", payload="SIGNUP"),
                    ),
                ),
                Card(title="Pro kit"),
            ),
        ),
    )


def test_a_card_subtitle_that_renders_empty_is_left_out(make_bot: MakeBot) -> None:
    bot = make_bot(one_flow('[{ cards: [{ title: "Kit", subtitle: "{{ vars.nothing }}" }] }]'))
    turn = Chat(bot).send(text("go"))
    assert turn.messages == (GenericTemplate(cards=(Card(title="Kit"),)),)
    assert turn.notes == ()


def test_attachments_of_every_type(make_bot: MakeBot) -> None:
    bot = make_bot(
        one_flow("""[
          { attachment: { type: "image", url: "https://x.test/a.png" } },
          { attachment: { type: "video", url: "https://x.test/{{ 'b' }}.mp4" } },
          { attachment: { type: "audio", url: "https://x.test/c.mp3" } },
          { attachment: { type: "file", url: "https://x.test/d.pdf" },
            quick_replies: [{ title: "Thanks", payload: "THANKS" }] },
        ]""")
    )
    assert Chat(bot).send(text("go")).messages == (
        MediaAttachment(type="image", url="https://x.test/a.png"),
        MediaAttachment(type="video", url="https://x.test/b.mp4"),
        MediaAttachment(type="audio", url="https://x.test/c.mp3"),
        MediaAttachment(
            type="file",
            url="https://x.test/d.pdf",
            quick_replies=(QuickReply(title="Thanks", payload="THANKS"),),
        ),
    )


def test_set_renders_strings_and_keeps_other_values(make_bot: MakeBot) -> None:
    bot = make_bot(
        one_flow("""[
          { set: { greeting: "hello {{ message.text }}", count: 3, vip: true,
                   tags: ["a", "b"], plain: "no template", nothing: null } },
          { text: "{{ vars.greeting }} {{ vars.count + 1 }} {{ vars.tags | join('+') }}" },
        ]""")
    )
    turn = Chat(bot).send(text("go"))
    assert said(turn) == ["hello go 4 a+b"]
    assert dict(turn.session.vars) == {
        "greeting": "hello go",
        "count": 3,
        "vip": True,
        "tags": ["a", "b"],
        "plain": "no template",
        "nothing": None,
    }


def test_variables_last_across_turns(make_bot: MakeBot) -> None:
    bot = make_bot(
        one_flow("""[
          { text: "visit {{ vars.visits or 0 }}" },
          { set: { visits: "{{ (vars.visits or 0) | int + 1 }}" } },
        ]""")
    )
    chat = Chat(bot)
    assert chat.said(text("go")) == ["visit 0"]
    assert chat.said(text("go")) == ["visit 1"]
    assert chat.said(text("go")) == ["visit 2"]


def test_a_template_cannot_change_a_variable(make_bot: MakeBot) -> None:
    bot = make_bot(
        one_flow("""[
          { set: { tags: ["a"] } },
          { text: "{{ vars.tags.append('b') }}" },
          { text: "{{ vars.tags | join(',') }}" },
        ]""")
    )
    turn = Chat(bot).send(text("go"))
    assert said(turn) == ["a"]
    (note,) = notes_at(turn, "flows.main.steps.1.text")
    assert "SecurityError" in note


def test_goto_continues_with_another_flow(make_bot: MakeBot) -> None:
    bot = make_bot(
        """{ flows: {
          start: { triggers: [{ keywords: ["go"] }],
                   steps: [{ text: "one" }, { goto: "next" }, { text: "never" }] },
          next: { steps: [{ text: "two" }, { goto: "last" }] },
          last: { steps: [{ text: "three" }] },
        } }"""
    )
    turn = Chat(bot).send(text("go"))
    assert said(turn) == ["one", "two", "three"]
    assert turn.flow == "start"


def test_a_goto_loop_stops_with_a_note(make_bot: MakeBot) -> None:
    # a loop whose `when` never ends it: validate warns about it, the engine stops it
    bot = make_bot(
        """{ flows: {
          ping: { triggers: [{ keywords: ["go"] }], steps: [{ text: "ping" }, { goto: "pong" }] },
          pong: { steps: [{ goto: "ping", when: "true" }] },
        } }"""
    )
    turn = Chat(bot).send(text("go"))
    assert said(turn) == ["ping"] * 11  # the start, then one more every second goto
    assert len(notes_at(turn, "flows.ping.steps.1.goto")) == 1
    assert "more than 20 gotos" in turn.notes[0]


def test_when_picks_the_steps_that_run(make_bot: MakeBot) -> None:
    bot = make_bot(
        one_flow(
            """[
              { text: "first time", when: "not vars.seen" },
              { text: "welcome back", when: "vars.seen" },
              { set: { seen: true } },
              { goto: "other", when: "message.payload == 'OTHER'" },
              { text: "no goto" },
            ]""",
            trigger='{ keywords: ["go"] }, { payload: "OTHER" }',
        ),
        other='{ flows: { other: { steps: [{ text: "other" }] } } }',
    )
    chat = Chat(bot)
    assert chat.said(text("go")) == ["first time", "no goto"]
    assert chat.said(text("go")) == ["welcome back", "no goto"]
    assert chat.said(postback("OTHER")) == ["welcome back", "other"]


def test_templates_see_the_message_and_the_account(make_bot: MakeBot) -> None:
    bot = make_bot(
        one_flow(
            '[{ text: "{{ message.kind }} {{ message.payload }} {{ message.title }}'
            ' {{ account.id }} {{ account.page_id }} {{ user.id }}" }]',
            trigger='{ payload: "GO" }',
        )
    )
    assert Chat(bot).said(postback("GO", "Go!")) == [f"postback GO Go! default 111 {PSID}"]


def test_an_unknown_account_id_still_gets_an_answer(make_bot: MakeBot) -> None:
    from dataclasses import replace

    bot = make_bot(one_flow('[{ text: "{{ account.id }}:{{ account.name }}" }]'))
    envelope = replace(text("go"), account_id="gone")
    assert Chat(bot).said(envelope) == ["gone:"]
