"""Goto cycles: a ring of flows nothing in it waits on is an error; one a `when` may end warns."""

from __future__ import annotations

import pytest

from runtime.cli import main
from runtime.dialog.engine import MAX_GOTOS
from tests.validation.conftest import BotFolder

FOREVER = (
    f"sends messages forever with no answer awaited (the runtime stops a turn after {MAX_GOTOS}"
    " gotos, each round sending its messages again): no `ask` in it waits for the person and"
    " no `when` can end it; put an `ask` in it, or a `when` on one of its gotos that ends it"
)
WHILE = (
    "awaits no answer: while its `when` conditions hold it goes round without end (the runtime"
    f" stops a turn after {MAX_GOTOS} gotos); make sure a condition ends it, or put an `ask` in it"
)


def test_two_flows_in_two_files_that_go_to_each_other_are_an_error(bot: BotFolder) -> None:
    bot.flow(
        '{ flows: { a: { triggers: [{ keywords: ["go"] }],'
        ' steps: [{ text: "one" }, { text: "two" }, { goto: "b" }] } } }',
        "a.json5",
    )
    bot.flow('{ flows: { b: { steps: [{ text: "three" }, { goto: "a" }] } } }', "b.json5")
    assert bot.errors() == [
        f"flows/a.json5: flows.a.steps.2.goto: goto cycle a -> b -> a {FOREVER}"
    ]


def test_a_flow_that_goes_to_itself_is_an_error(bot: BotFolder) -> None:
    bot.flow('{ flows: { main: { triggers: [{ keywords: ["go"] }], steps: [{ goto: "main" }] } } }')
    assert bot.errors() == [
        f"flows/main.json5: flows.main.steps.0.goto: goto cycle main -> main {FOREVER}"
    ]


def test_the_cycle_is_named_without_the_flows_that_lead_into_it(bot: BotFolder) -> None:
    bot.flow("""{ flows: {
      start: { triggers: [{ keywords: ["go"] }], steps: [{ goto: "b" }] },
      a: { steps: [{ text: "a" }, { goto: "b" }] },
      b: { steps: [{ text: "b" }, { goto: "c" }] },
      c: { steps: [{ goto: "a" }] },
    } }""")
    assert bot.errors() == [
        f"flows/main.json5: flows.a.steps.1.goto: goto cycle a -> b -> c -> a {FOREVER}"
    ]


def test_quick_replies_and_buttons_do_not_wait(bot: BotFolder) -> None:
    bot.flow("""{ flows: {
      menu: { triggers: [{ payload: "MENU" }], steps: [
        { text: "Pick", quick_replies: [{ title: "Menu", payload: "MENU" }] },
        { buttons: { text: "Or",
                     buttons: [{ type: "postback", title: "Menu", payload: "MENU" }] } },
        { goto: "again" },
      ] },
      again: { steps: [{ goto: "menu" }] },
    } }""")
    assert bot.errors() == [
        f"flows/main.json5: flows.menu.steps.2.goto: goto cycle menu -> again -> menu {FOREVER}"
    ]


def test_an_ask_in_the_cycle_makes_it_a_loop_that_waits(bot: BotFolder) -> None:
    bot.flow("""{ flows: {
      quiz: { triggers: [{ keywords: ["quiz"] }],
              steps: [{ ask: "2 + 2?", save_as: "answer" }, { goto: "score" }] },
      score: { steps: [{ text: "You said {{ vars.answer }}" }, { goto: "quiz" }] },
    } }""")
    assert bot.build().bot.flows.keys() == {"quiz", "score"}


def test_a_goto_after_an_unconditional_goto_never_runs(bot: BotFolder) -> None:
    bot.flow("""{ flows: {
      main: { triggers: [{ keywords: ["go"] }],
              steps: [{ goto: "end" }, { goto: "main" }] },
      end: { steps: [{ text: "the end" }] },
    } }""")
    assert bot.build().bot.flows.keys() == {"main", "end"}


def test_a_cycle_through_a_conditional_goto_is_a_warning(bot: BotFolder) -> None:
    bot.flow("""{ flows: {
      count: { triggers: [{ keywords: ["count"] }], steps: [
        { set: { n: "{{ (vars.n or 0) | int + 1 }}" } },
        { text: "{{ vars.n }}" },
        { goto: "count", when: "vars.n | int < 3" },
      ] },
    } }""")
    assert bot.warnings() == [
        f"flows/main.json5: flows.count.steps.2.goto: warning: goto cycle count -> count {WHILE}"
    ]


def test_a_cycle_through_a_conditional_ask_is_a_warning(bot: BotFolder) -> None:
    bot.flow("""{ flows: {
      a: { triggers: [{ keywords: ["go"] }],
           steps: [{ ask: "Name?", save_as: "name", when: "not vars.name" }, { goto: "b" }] },
      b: { steps: [{ text: "Hi {{ vars.name }}" }, { goto: "a" }] },
    } }""")
    assert bot.warnings() == [
        f"flows/main.json5: flows.a.steps.1.goto: warning: goto cycle a -> b -> a {WHILE}"
    ]


def test_each_cycle_is_reported_once_in_file_order(bot: BotFolder) -> None:
    bot.flow("""{ flows: {
      early: { triggers: [{ keywords: ["go"] }], steps: [{ goto: "late" }] },
      mid: { triggers: [{ keywords: ["mid"] }], steps: [{ text: "mid" }, { goto: "mid" }] },
      late: { steps: [{ goto: "later" }] },
      later: { steps: [{ goto: "late" }] },
    } }""")
    assert bot.errors() == [
        f"flows/main.json5: flows.mid.steps.1.goto: goto cycle mid -> mid {FOREVER}",
        f"flows/main.json5: flows.late.steps.0.goto: goto cycle late -> later -> late {FOREVER}",
    ]


def test_a_long_chain_into_a_cycle_is_checked_without_recursion(bot: BotFolder) -> None:
    count = 5000
    flows = ", ".join(f'f{n}: {{ steps: [{{ goto: "f{n + 1}" }}] }}' for n in range(count))
    bot.flow(
        f'{{ flows: {{ f0x: {{ triggers: [{{ keywords: ["go"] }}], steps: [{{ goto: "f0" }}] }},'
        f' {flows}, f{count}: {{ steps: [{{ text: "end" }}, {{ goto: "f{count - 1}" }}] }} }} }}'
    )
    (error,) = bot.errors()
    assert error.startswith(
        f"flows/main.json5: flows.f{count - 1}.steps.0.goto: goto cycle"
        f" f{count - 1} -> f{count} -> f{count - 1} "
    )


def test_validate_exits_1_and_names_the_cycle(
    bot: BotFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.flow(
        '{ flows: { a: { triggers: [{ keywords: ["go"] }], steps: [{ goto: "b" }] } } }', "a.json5"
    )
    bot.flow('{ flows: { b: { steps: [{ text: "b" }, { goto: "a" }] } } }', "b.json5")
    assert main(["validate", "-c", "config.json5"]) == 1
    captured = capsys.readouterr()
    assert (
        captured.err
        == f"flows/a.json5:1:61: flows.a.steps.0.goto: goto cycle a -> b -> a {FOREVER}\n"
    )
    assert "valid" not in captured.out
