"""Broken flow files: every mistake is one line, `file: key.path: message`, all found at once."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.validation.conftest import BotFolder, one_flow

FILE = "flows/main.json5"
STEP = f"{FILE}: flows.main.steps.0"

STEP_ERRORS = {
    "two kinds": (
        '{ text: "Hi", goto: "main" }',
        f"{STEP}: a step needs exactly one of text, buttons, cards, attachment, ask, set, goto,"
        " delay, handover, http; has text, goto",
    ),
    "no kind": (
        '{ when: "vars.x" }',
        f"{STEP}: a step needs exactly one of text, buttons, cards, attachment, ask, set, goto,"
        " delay, handover, http; has none",
    ),
    "unknown key": (
        '{ txt: "Hi" }',
        f"{STEP}.txt: unknown key; did you mean `text`?",
    ),
    "ask without save_as": (
        '{ ask: "Your name?" }',
        f"{STEP}.save_as: is required: an `ask` keeps the answer in a variable;"
        ' add save_as: "email" (the answer is then vars.email)',
    ),
    "save_as on a text step": (
        '{ text: "Hi", save_as: "name" }',
        f"{STEP}.save_as: is only used with `ask`, not with `text`",
    ),
    "unknown validate value": (
        '{ ask: "Your email?", save_as: "email", validate: "mail" }',
        f"{STEP}.validate: unknown value 'mail'; expected one of email, number, phone, date,"
        ' url, choice, image, file, location, or { regex: "..." }; did you mean "email"?',
    ),
    "validate regex that does not compile": (
        '{ ask: "Your code?", save_as: "code", validate: { regex: "(" } }',
        f"{STEP}.validate.regex: regex does not compile:"
        " missing ), unterminated subpattern at position 0",
    ),
    "Jinja syntax error on line 2": (
        '{ text: "Hello {{ user.first_name }}!\\nYour order: {{ vars.order }" }',
        f"{STEP}.text: Jinja syntax error on line 2 of the template: unexpected '}}'",
    ),
    "Jinja syntax error in a set value": (
        '{ set: { greeting: "{% if %}" } }',
        f"{STEP}.set.greeting: Jinja syntax error on line 1 of the template:"
        " Expected an expression, got 'end of statement block'",
    ),
    "when that does not parse": (
        '{ text: "Hi", when: "vars.count >" }',
        f"{STEP}.when: expression does not parse: unexpected 'end of template'",
    ),
    "web_url button without url": (
        '{ buttons: { text: "See", buttons: [{ type: "web_url", title: "Open" }] } }',
        f"{STEP}.buttons.buttons.0.url: is required: a web_url button opens it;"
        ' add url: "https://example.com"',
    ),
    "postback button without payload": (
        '{ cards: [{ title: "Kit", buttons: [{ type: "postback", title: "Buy" }] }] }',
        f"{STEP}.cards.0.buttons.0.payload: is required: a postback button sends it back"
        ' when tapped; add payload: "BUY"',
    ),
    "text quick reply without payload": (
        '{ text: "Hi", quick_replies: [{ title: "Yes" }] }',
        f"{STEP}.quick_replies.0.payload: is required: a text quick reply sends it back when"
        ' tapped; add payload: "YES"',
    ),
    "text quick reply without title": (
        '{ text: "Hi", quick_replies: [{ payload: "YES" }] }',
        f"{STEP}.quick_replies.0.title: is required: a text quick reply shows it on its"
        ' button; add title: "Yes"',
    ),
    "phone_number button without payload": (
        '{ buttons: { text: "Call", buttons: [{ type: "phone_number", title: "Call us" }] } }',
        f"{STEP}.buttons.buttons.0.payload: is required: a phone_number button calls the"
        ' number in it; add payload: "+15105551234"',
    ),
    "quick replies on a goto": (
        '{ goto: "main", when: "vars.again", quick_replies: [{ title: "Yes", payload: "GO" }] }',
        f"{STEP}.quick_replies: a `goto` step sends no message to put them on",
    ),
}


@pytest.mark.parametrize(("step", "error"), STEP_ERRORS.values(), ids=STEP_ERRORS.keys())
def test_a_broken_step_is_an_error_at_its_key_path(bot: BotFolder, step: str, error: str) -> None:
    bot.flow(one_flow(step))
    assert bot.errors() == [error]


TRIGGER_ERRORS = {
    "two kinds": (
        '[{ payload: "GO", keywords: ["go"] }]',
        f"{FILE}: flows.main.triggers.0: a trigger needs exactly one of payload, keywords, regex,"
        " attachment; has payload, keywords",
    ),
    "no kind": (
        "[{}]",
        f"{FILE}: flows.main.triggers.0: a trigger needs exactly one of payload, keywords, regex,"
        " attachment; has none",
    ),
    "regex that does not compile": (
        '[{ regex: "^(order|track" }]',
        f"{FILE}: flows.main.triggers.0.regex: regex does not compile:"
        " missing ), unterminated subpattern at position 1",
    ),
}


@pytest.mark.parametrize(("triggers", "error"), TRIGGER_ERRORS.values(), ids=TRIGGER_ERRORS.keys())
def test_a_broken_trigger_is_an_error_at_its_key_path(
    bot: BotFolder, triggers: str, error: str
) -> None:
    bot.flow(one_flow('{ text: "Hi" }', triggers=triggers))
    assert bot.errors() == [error]


def test_a_goto_to_a_missing_flow_suggests_the_closest_name(bot: BotFolder) -> None:
    bot.flow(one_flow('{ text: "Hi" }, { goto: "pricng" }'))
    bot.flow(
        one_flow('{ text: "From $9" }', triggers='[{ payload: "PRICING" }]', name="pricing"),
        "pricing.json5",
    )
    assert bot.errors() == [
        f"{FILE}: flows.main.steps.1.goto: no flow is named 'pricng'; did you mean 'pricing'?"
    ]


def test_a_goto_to_a_name_like_no_other_says_only_that_it_is_missing(bot: BotFolder) -> None:
    bot.flow(one_flow('{ goto: "checkout" }'))
    assert bot.errors() == [f"{STEP}.goto: no flow is named 'checkout'"]


def test_two_flows_claiming_one_payload_name_the_first_owner(bot: BotFolder) -> None:
    bot.flow(one_flow('{ text: "A" }', name="menu"), "a.json5")
    bot.flow(one_flow('{ text: "B" }', name="help"), "b.json5")
    assert bot.errors() == [
        "flows/b.json5: flows.help.triggers.0.payload: payload 'GO' is already claimed by flow"
        " 'menu' (flows/a.json5)"
    ]


def test_a_keyword_claimed_twice_in_another_case_is_an_error(bot: BotFolder) -> None:
    bot.flow("""{ flows: {
      greet: { triggers: [{ keywords: ["hi", "Hello"] }], steps: [{ text: "Hi!" }] },
      wave: { triggers: [{ keywords: ["wave", " HELLO "] }], steps: [{ text: "o/" }] },
    } }""")
    assert bot.errors() == [
        f"{FILE}: flows.wave.triggers.0.keywords.1: keyword 'hello' is already claimed by flow"
        f" 'greet' ({FILE})"
    ]


def test_one_flow_may_repeat_its_own_payload_and_keywords(bot: BotFolder) -> None:
    bot.flow(one_flow('{ text: "Hi" }', triggers='[{ payload: "GO" }, { payload: "GO" }]'))
    bot.flow(
        one_flow('{ text: "Hi" }', triggers='[{ keywords: ["Hi", "hi"] }]', name="hi"), "b.json5"
    )
    assert bot.warnings() == []


def test_a_flow_defined_in_two_files_names_the_first(bot: BotFolder) -> None:
    bot.flow(one_flow('{ text: "A" }', name="menu"), "a.json5")
    bot.flow(one_flow('{ text: "B" }', triggers="[]", name="menu"), "b.json5")
    assert bot.errors() == [
        "flows/b.json5: flows.menu: flow 'menu' is already defined in flows/a.json5"
    ]


def test_a_json5_syntax_error_gives_line_and_column(bot: BotFolder) -> None:
    bot.flow('{\n  flows: {\n    main: { steps: [{ text: "Hi" },, ] },\n  },\n}\n')
    assert bot.errors(placed=True) == [
        f"{FILE}:3:36: JSON5 syntax error: unexpected ','; two commas in a row: a value missing"
        " between them, or one comma too many?"
    ]


def test_an_explicit_flows_source_that_matches_nothing_is_an_error(bot: BotFolder) -> None:
    bot.flow(one_flow('{ text: "Hi" }'))
    bot.write(
        "config.json5",
        '{ channels: { messenger: { pageAccessToken: "t", verifyToken: "v", appSecret: "s" } },'
        ' flows: ["flows/", "more/*.json5"] }',
    )
    assert bot.errors() == [
        f"config.json5: flows.1: 'more/*.json5' matches no flow file: no file matches"
        f" {bot.root / 'more/*.json5'}; `flows` (default 'flows/') names the flow files' folders,"
        " globs or files, relative to the config file"
    ]


def test_a_missing_default_flows_folder_is_an_error_saying_where_it_looked(
    bot: BotFolder,
) -> None:
    bot.write(
        "config.json5",
        '{ channels: { messenger: { pageAccessToken: "t", verifyToken: "v", appSecret: "s" } } }',
    )
    assert bot.errors() == [
        f"config.json5: flows: 'flows/' matches no flow file: {bot.root / 'flows'} does not"
        " exist; `flows` (default 'flows/') names the flow files' folders, globs or files,"
        " relative to the config file"
    ]


def test_a_flows_folder_without_flow_files_is_an_error(bot: BotFolder) -> None:
    bot.write("flows/notes.txt", "not a flow file")
    assert bot.errors() == [
        f"config.json5: flows: 'flows/' matches no flow file: the folder {bot.root / 'flows'}"
        " holds no *.json5 file; `flows` (default 'flows/') names the flow files' folders,"
        " globs or files, relative to the config file"
    ]


def test_every_error_of_every_file_is_reported_at_once(bot: BotFolder) -> None:
    long_title = "x" * 21
    bot.flow(
        one_flow(
            f'{{ txt: "Hi" }}, {{ text: "Hi", quick_replies: [{{ title: "{long_title}",'
            ' payload: "GO" }] }',
            name="broken",
        ),
        "a.json5",
    )
    bot.flow(
        one_flow('{ ask: "Name?" }, { goto: "brokn" }', triggers='[{ regex: "(" }]'), "b.json5"
    )
    bot.flow("{ flows: { x: [ } }", "c.json5")
    assert bot.errors() == [
        "flows/c.json5: JSON5 syntax error: unexpected '}'; } closes the [ opened at line 1:"
        " a ] missing before it?",
        "flows/a.json5: flows.broken.steps.0.txt: unknown key; did you mean `text`?",
        "flows/a.json5: flows.broken.steps.1.quick_replies.0.title: is 21 characters; Messenger"
        " allows at most 20",
        "flows/b.json5: flows.main.steps.0.save_as: is required: an `ask` keeps the answer in a"
        ' variable; add save_as: "email" (the answer is then vars.email)',
        "flows/b.json5: flows.main.triggers.0.regex: regex does not compile: missing ),"
        " unterminated subpattern at position 0",
        "flows/b.json5: flows.main.steps.1.goto: no flow is named 'brokn'; did you mean 'broken'?",
    ]


def test_a_file_without_flows_says_what_is_missing(bot: BotFolder) -> None:
    bot.flow('{ flow: { main: { steps: [{ text: "Hi" }] } } }')
    assert bot.errors() == [
        f"{FILE}: flow: unknown key; did you mean `flows`?",
        f"{FILE}: flows: is required: add flows: {{ welcome: {{ triggers: [...], steps: [...] }} }}"
        " around the flows of this file",
    ]


def test_a_flow_name_with_a_dot_is_an_error_not_a_crash(bot: BotFolder) -> None:
    # key paths are split on ".": flows.menu.main.steps.0 could not be followed
    bot.flow('{ flows: { "menu.main": { triggers: [{ payload: "GO" }], steps: [{ text: 5 }] } } }')
    assert bot.errors() == [
        f"{FILE}: flows.menu.main: invalid value 'menu.main': a flow name may use letters,"
        " digits, '_' and '-'",
        f"{FILE}: flows.menu.main.steps.0.text: expected a text, a list of variations"
        ' ["Hi!", "Hello!"], or texts by locale { default: "Hi!", fr_FR: "Salut !" },'
        " got an integer",
    ]


QUICKSTART_LIKE = """
// what `runtime init` might write: every kind of step and trigger, nothing wrong
{
  flows: {
    welcome: {
      triggers: [
        { payload: "GET_STARTED" }, { keywords: ["hi", "hello"] }, { regex: "^help\\\\b" },
      ],
      steps: [
        { text: "Hi {{ user.first_name or 'there' }}! What do you need?",
          quick_replies: [{ title: "Pricing", payload: "PRICING" },
                          { title: "Sign up", payload: "SIGNUP" },
                          { content_type: "user_email" }] },
      ],
    },
    pricing: {
      triggers: [{ payload: "PRICING" }],
      steps: [
        { buttons: { text: "Plans start at {{ '%.2f' % 9.9 }} EUR.", buttons: [
            { type: "web_url", title: "See plans", url: "https://example.com" },
            { type: "postback", title: "Back", payload: "GET_STARTED" },
            { type: "phone_number", title: "Call", payload: "+15555550123" },
        ] } },
        { cards: [{ title: "Starter", subtitle: "To begin", image_url: "https://example.com/s.png",
                    default_action: { type: "web_url", url: "https://example.com/starter" },
                    buttons: [{ type: "postback", title: "Sign up", payload: "SIGNUP" }] }] },
      ],
    },
    signup: {
      triggers: [{ payload: "SIGNUP" }],
      steps: [
        { ask: "Your email?", save_as: "email", validate: "email", retry: "Try again?",
          quick_replies: [{ title: "Skip", payload: "SKIP" }] },
        { ask: "Your code?", save_as: "code", validate: { regex: "^[0-9]{4}$" } },
        { text: "Thanks, {{ vars.email }}!", when: "vars.email is defined" },
        { set: { signed_up: true, source: "{{ message.text }}" } },
        { goto: "picture" },
      ],
    },
    picture: {
      triggers: [{ attachment: "image" }],
      steps: [{ attachment: { type: "image", url: "https://example.com/thanks.png" } }],
    },
    fallback: { steps: [{ text: "Sorry?" }, { goto: "welcome" }] },
  },
}
"""


def test_a_valid_quickstart_like_file_has_no_problems(bot: BotFolder) -> None:
    bot.flow(QUICKSTART_LIKE)
    built = bot.build()
    assert bot.warnings() == []
    assert sorted(built.bot.flows) == ["fallback", "picture", "pricing", "signup", "welcome"]


def test_runtime_validate_exits_1_and_prints_one_line_per_error(bot: BotFolder) -> None:
    bot.flow(one_flow('{ text: "Hi", quick_replies: [{ title: "Yes" }] }, { goto: "mian" }'))
    environ = {key: value for key, value in os.environ.items() if key != "RUNTIME_CONFIG"}
    result = subprocess.run(
        [sys.executable, "-m", "runtime", "validate", "-c", "config.json5"],
        capture_output=True,
        text=True,
        cwd=bot.root,
        env=environ,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        # a missing key is placed at the object it is to be added to: that quick reply
        f"{FILE}:1:89: flows.main.steps.0.quick_replies.0.payload: is required: a text quick"
        ' reply sends it back when tapped; add payload: "YES"',
        f"{FILE}:1:112: flows.main.steps.1.goto: no flow is named 'mian'; did you mean 'main'?",
    ]
    assert result.stdout == ""
