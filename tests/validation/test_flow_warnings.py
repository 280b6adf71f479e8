"""Flow warnings: a tap nothing answers, a flow nothing starts, a name templates do not have."""

from __future__ import annotations

from runtime.validation.problems import Severity
from tests.validation.conftest import BotFolder, one_flow, unplaced

FILE = "flows/main.json5"
STEP = f"{FILE}: flows.main.steps.0"
NO_TRIGGER = "so a tap on it gets no answer; add that trigger to the flow it should start"
CONTEXT = "they have account, match, message, user, vars"


def test_a_quick_reply_payload_no_trigger_has_is_a_warning(bot: BotFolder) -> None:
    bot.flow(
        one_flow(
            '{ text: "Hi", quick_replies: [{ title: "Again", payload: "GO" },'
            ' { title: "Prices", payload: "PRICES" }] }'
        )
    )
    built = bot.build()
    assert [unplaced(problem) for problem in built.warnings if problem.file == FILE] == [
        f"{STEP}.quick_replies.1.payload: warning: no flow's triggers have"
        f' {{ payload: "PRICES" }}, {NO_TRIGGER}'
    ]
    assert all(problem.severity is Severity.WARNING for problem in built.warnings)


def test_the_warning_says_the_fallback_answers_an_unhandled_tap(bot: BotFolder) -> None:
    bot.flow(one_flow('{ text: "Hi", quick_replies: [{ title: "Prices", payload: "PRICES" }] }'))
    bot.flow(one_flow('{ text: "Sorry?" }', triggers="[]", name="fallback"), "fallback.json5")
    assert bot.warnings() == [
        f"{STEP}.quick_replies.0.payload: warning: no flow's triggers have"
        " { payload: \"PRICES\" }, so a tap on it goes to the 'fallback' flow; add that trigger"
        " to the flow it should start"
    ]


def test_a_postback_button_payload_no_trigger_has_is_a_warning(bot: BotFolder) -> None:
    bot.flow(
        one_flow(
            '{ buttons: { text: "Pick",'
            ' buttons: [{ type: "postback", title: "A", payload: "A" }] } },'
            ' { cards: [{ title: "Kit",'
            ' buttons: [{ type: "postback", title: "B", payload: "B" }] }] }'
        )
    )
    assert bot.warnings() == [
        f"{STEP}.buttons.buttons.0.payload: warning: no flow's triggers have"
        f' {{ payload: "A" }}, {NO_TRIGGER}',
        f"{FILE}: flows.main.steps.1.cards.0.buttons.0.payload: warning: no flow's triggers have"
        f' {{ payload: "B" }}, {NO_TRIGGER}',
    ]


def test_taps_that_start_no_flow_on_purpose_are_not_warnings(bot: BotFolder) -> None:
    # an ask's quick replies answer the ask; a phone_number button dials; a template payload
    # is only known when rendered
    bot.flow(
        one_flow(
            '{ ask: "Size?", save_as: "size", quick_replies: [{ title: "S", payload: "SIZE_S" }] },'
            ' { buttons: { text: "Call us", buttons: ['
            '{ type: "phone_number", title: "Call", payload: "+15555550123" },'
            ' { type: "postback", title: "Pick", payload: "PICK_{{ vars.size }}" }] } }'
        )
    )
    assert bot.warnings() == []


def test_a_flow_nothing_starts_is_a_warning(bot: BotFolder) -> None:
    bot.flow("""{ flows: {
      main: { triggers: [{ payload: "GO" }], steps: [{ goto: "next" }] },
      next: { steps: [{ text: "reached by a goto" }] },
      orphan: { steps: [{ text: "nobody comes here" }] },
      loop: { steps: [{ ask: "Again?", save_as: "again" }, { goto: "loop" }] },
      fallback: { steps: [{ text: "Sorry?" }] },
    } }""")
    assert bot.warnings() == [
        f"{FILE}: flows.orphan: warning: no trigger starts this flow and no `goto` leads to it;"
        ' give it triggers, or go to it from another flow with { goto: "orphan" }',
        f"{FILE}: flows.loop: warning: no trigger starts this flow and no `goto` leads to it;"
        ' give it triggers, or go to it from another flow with { goto: "loop" }',
    ]


def test_every_kind_of_trigger_reaches_its_flow(bot: BotFolder) -> None:
    bot.flow("""{ flows: {
      a: { triggers: [{ payload: "A" }], steps: [{ text: "a" }] },
      b: { triggers: [{ keywords: ["b"] }], steps: [{ text: "b" }] },
      c: { triggers: [{ regex: "^c" }], steps: [{ text: "c" }] },
      d: { triggers: [{ attachment: "image" }], steps: [{ text: "d" }] },
    } }""")
    assert bot.warnings() == []


def test_a_template_naming_an_unknown_variable_is_a_warning_at_its_field(bot: BotFolder) -> None:
    bot.flow(
        one_flow(
            '{ text: "Hi {{ usr.first_name }}", when: "vars.ok and not opted_out",'
            ' quick_replies: [{ title: "{{ label }}", payload: "GO" }] },'
            ' { cards: [{ title: "Kit", subtitle: "{{ price }} {{ currency }}",'
            ' buttons: [{ type: "web_url", title: "Buy", url: "{{ shop }}/kit" }] }] },'
            ' { ask: "Name?", save_as: "name", retry: "{{ nam }}?" },'
            ' { set: { greeting: "Hi {{ name }}", count: 1 } },'
            ' { attachment: { type: "image", url: "{{ picture_url }}" } }'
        )
    )
    assert bot.warnings() == [
        f"{STEP}.when: warning: names 'opted_out', which templates do not have; {CONTEXT}",
        f"{STEP}.text: warning: names 'usr', which templates do not have; {CONTEXT}",
        f"{STEP}.quick_replies.0.title: warning: names 'label', which templates do not have;"
        f" {CONTEXT}",
        f"{FILE}: flows.main.steps.1.cards.0.subtitle: warning: names 'currency' and 'price',"
        f" which templates do not have; {CONTEXT}",
        f"{FILE}: flows.main.steps.1.cards.0.buttons.0.url: warning: names 'shop', which"
        f" templates do not have; {CONTEXT}",
        f"{FILE}: flows.main.steps.2.retry: warning: names 'nam', which templates do not have;"
        f" {CONTEXT}",
        f"{FILE}: flows.main.steps.3.set.greeting: warning: names 'name', which templates do not"
        f" have; {CONTEXT}",
        f"{FILE}: flows.main.steps.4.attachment.url: warning: names 'picture_url', which"
        f" templates do not have; {CONTEXT}",
    ]


def test_context_names_and_names_a_template_defines_are_not_warnings(bot: BotFolder) -> None:
    bot.flow(
        one_flow(
            '{ text: "{% set n = vars.count or 0 %}{{ n }} {% for item in vars.items %}'
            '{{ loop.index }}. {{ item }}{% endfor %} {{ range(3) | list }}",'
            ' when: "user.first_name and message.text and match.word is defined"},'
            ' { buttons: { text: "{{ account.id }}",'
            ' buttons: [{ type: "postback", title: "{{ vars.a }}", payload: "GO" }] } }'
        )
    )
    assert bot.warnings() == []
