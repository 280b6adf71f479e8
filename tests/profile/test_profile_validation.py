"""`runtime validate` checks a profile against what Meta accepts, each problem at its key path."""

from __future__ import annotations

import json

import pytest

from runtime.config.load import load_config
from tests.profile.conftest import ProfileBot

P = "channels.messenger.profile"
NOT_JINJA = (
    "is not one of Meta's placeholders: the greeting is Meta's text, not a Jinja template, and"
    " Meta fills in only {{user_first_name}}, {{user_last_name}} and {{user_full_name}}"
)


def items(template: str, count: int) -> str:
    return "[" + ", ".join(template.format(n=n) for n in range(count)) + "]"


def test_the_documented_profile_is_valid_and_its_payloads_handled(
    bot: ProfileBot, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.write()
    assert bot.problems(capsys) == (0, [])


def test_meta_placeholders_pass_and_jinja_in_a_greeting_is_an_error(
    bot: ProfileBot, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.write(
        '{ greeting: { default: "Hi {{user_full_name}}, {{user_last_name}}",'
        ' fr_FR: "Salut {{ user.first_name }} {% if x %}!{% endif %}" } }'
    )
    code, problems = bot.problems(capsys)
    assert code == 1
    assert problems == [
        f"{P}.greeting.fr_FR: {{{{ user.first_name }}}} {NOT_JINJA}; write {{{{user_first_name}}}}",
        f"{P}.greeting.fr_FR: {{% if x %}} {NOT_JINJA}",
        f"{P}.greeting.fr_FR: {{% endif %}} {NOT_JINJA}",
    ]


def test_a_greeting_over_160_characters_in_any_locale_is_an_error(
    bot: ProfileBot, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.write(json.dumps({"greeting": {"default": "a" * 160, "de_DE": "b" * 161}}))
    assert bot.problems(capsys) == (
        1,
        [f"{P}.greeting.de_DE: is 161 characters; Meta takes at most 160: shorten it"],
    )


def test_locales_need_default_and_meta_s_spelling(
    bot: ProfileBot, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.write('{ greeting: { fr: "Bonjour", en_US: "Hello" } }')
    assert bot.problems(capsys) == (
        1,
        [
            f"{P}.greeting: has no `default` locale: Meta needs one, for every locale not listed;"
            " add default: ... (a plain value, without locales, is the default)",
            f"{P}.greeting.fr: unknown locale 'fr': Meta's locales are written like en_US, fr_FR"
            " or es_LA, or `default`",
        ],
    )


def test_more_than_4_ice_breakers_in_a_locale_is_an_error(
    bot: ProfileBot, capsys: pytest.CaptureFixture[str]
) -> None:
    four = items('{{ question: "Q{n}?", payload: "HOURS" }}', 4)
    five = items('{{ question: "Q{n}?", payload: "HOURS" }}', 5)
    bot.write(f"{{ iceBreakers: {{ default: {four}, fr_FR: {five} }} }}")
    assert bot.problems(capsys) == (
        1,
        [f"{P}.iceBreakers.fr_FR: has 5 ice breakers; Meta takes at most 4: remove 1"],
    )


def test_an_ice_breaker_needs_a_question_and_a_payload(
    bot: ProfileBot, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.write('{ iceBreakers: [{ questoin: "Hours?", payload: "HOURS" }, { question: "Q?" }] }')
    code, problems = bot.problems(capsys)
    assert code == 1
    assert problems == [
        f"{P}.iceBreakers.0.questoin: unknown key; did you mean `question`?",
        f'{P}.iceBreakers.0.question: is required: the question people tap, such as "What are'
        ' your hours?"',
        f"{P}.iceBreakers.1.payload: is required: a tap on the question sends it to the bot, and"
        " a flow's { payload: ... } trigger answers it",
    ]


def test_a_menu_of_21_items_and_a_long_title_are_errors(
    bot: ProfileBot, capsys: pytest.CaptureFixture[str]
) -> None:
    menu = items('{{ title: "Item {n}", payload: "PRICING" }}', 20)
    long_title = '{ title: "Everything about our prices today", payload: "PRICING" }'
    bot.write(f'{{ getStarted: "GET_STARTED", persistentMenu: [{menu[1:-1]}, {long_title}] }}')
    assert bot.problems(capsys) == (
        1,
        [
            f"{P}.persistentMenu: has 21 menu items; Meta takes at most 20: remove 1",
            f"{P}.persistentMenu.20.title: is 33 characters; Meta takes at most 30 in a menu"
            " item's title: shorten it",
        ],
    )


def test_payloads_over_1000_characters_are_errors(
    bot: ProfileBot, capsys: pytest.CaptureFixture[str]
) -> None:
    long = "P" * 1001
    bot.write(
        json.dumps(
            {
                "getStarted": long,
                "iceBreakers": [{"question": "Q?", "payload": long}],
                "persistentMenu": [{"title": "Menu", "payload": long}],
            }
        )
    )
    too_long = "is 1001 characters; Meta takes at most 1000 in a payload: shorten it"
    assert bot.problems(capsys) == (
        1,
        [
            f"{P}.getStarted: {too_long}",
            f"{P}.iceBreakers.0.payload: {too_long}",
            f"{P}.persistentMenu.0.payload: {too_long}",
        ],
    )


@pytest.mark.parametrize(
    "item",
    [
        '{ title: "More", call_to_actions: [{ title: "A", payload: "PRICING" }] }',
        '{ title: "More", type: "nested" }',
    ],
    ids=["call_to_actions", "type nested"],
)
def test_a_nested_menu_says_meta_removed_them_in_2022(
    bot: ProfileBot, capsys: pytest.CaptureFixture[str], item: str
) -> None:
    bot.write(f'{{ getStarted: "GET_STARTED", persistentMenu: [{item}] }}')
    assert bot.problems(capsys) == (
        1,
        [
            f"{P}.persistentMenu.0: nested menus are gone: Meta removed them from every API"
            " version on Aug 4, 2022 and refuses one with error #11; list up to 20 items at the"
            " top, each { title, payload } or { title, url }"
        ],
    )


def test_urls_and_domains_must_be_https(
    bot: ProfileBot, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.write(
        '{ getStarted: "GET_STARTED", persistentMenu: [{ title: "Site", url: "http://x.com" }],'
        ' whitelistedDomains: ["https://ok.example", "example.com"] }'
    )
    assert bot.problems(capsys) == (
        1,
        [
            f"{P}.persistentMenu.0.url: 'http://x.com' is not an https URL: Meta opens only https"
            " pages from the menu",
            f"{P}.whitelistedDomains.1: 'example.com' is not an https URL: Meta whitelists only"
            " https domains, such as https://example.com",
        ],
    )


def test_a_menu_item_is_a_payload_or_a_url_not_both(
    bot: ProfileBot, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.write(
        '{ getStarted: "GET_STARTED", persistentMenu: [{ title: "A", payload: "PRICING",'
        ' url: "https://x.com" }, { title: "B" }, { title: "C", payload: "PRICING",'
        ' webview_height_ratio: "tall" }] }'
    )
    code, problems = bot.problems(capsys)
    assert code == 1
    assert problems == [
        f"{P}.persistentMenu.0: has both payload and url: a menu item either sends a payload to"
        " the bot or opens a web page; keep one",
        f"{P}.persistentMenu.1.payload: is required: a tap on the menu item sends it to the bot,"
        " and a flow's { payload: ... } trigger answers it",
        f"{P}.persistentMenu.2.webview_height_ratio: is only for an item that opens a url;"
        " remove it",
    ]


@pytest.mark.parametrize(
    ("get_started", "state"),
    [("", "is not set"), ("getStarted: null,", "is null (deleted from the page)")],
)
def test_a_menu_needs_get_started(
    bot: ProfileBot, capsys: pytest.CaptureFixture[str], get_started: str, state: str
) -> None:
    bot.write(f'{{ {get_started} persistentMenu: [{{ title: "Pricing", payload: "PRICING" }}] }}')
    assert bot.problems(capsys) == (
        1,
        [
            f"{P}.persistentMenu: needs getStarted, which {state}: Meta shows a persistent menu"
            ' only on a page with a Get Started button; add getStarted: "GET_STARTED" (a payload'
            " one of your flows' triggers has)"
        ],
    )


def test_composer_input_disabled_needs_a_menu(
    bot: ProfileBot, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.write('{ getStarted: "GET_STARTED", composerInputDisabled: true }')
    assert bot.problems(capsys) == (
        1,
        [
            f"{P}.composerInputDisabled: Meta keeps it in the persistent menu, and this profile"
            " sets no menu: add a persistentMenu, or remove this key"
        ],
    )


def test_a_misspelt_key_is_named_with_the_right_one(
    bot: ProfileBot, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.write('{ get_started: "GET_STARTED", iceBreakers: "Hours?" }')
    assert bot.problems(capsys) == (
        1,
        [
            f"{P}.get_started: unknown key; did you mean `getStarted`?",
            f"{P}.iceBreakers: expected a list or an object, got a string",
        ],
    )


def test_null_keys_are_valid_they_delete_fields_from_the_page(
    bot: ProfileBot, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.write(
        "{ getStarted: null, greeting: null, iceBreakers: null, persistentMenu: null,"
        " whitelistedDomains: null, sync: false }"
    )
    assert bot.problems(capsys) == (0, [])
    account = load_config(bot.config, env={}).config.accounts["default"]
    assert account.profile is not None
    assert account.profile["greeting"] is None
    assert account.profile["sync"] is False


def test_a_payload_no_flow_handles_is_a_warning(
    bot: ProfileBot, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.write(
        '{ getStarted: "START", iceBreakers: { default: [{ question: "Q?", payload: "HOURS" }],'
        ' fr_FR: [{ question: "Q ?", payload: "HEURES" }] },'
        ' persistentMenu: [{ title: "Help", payload: "HELP" }, { title: "Site",'
        ' url: "https://example.com" }] }'
    )

    def unhandled(payload: str, tapped: str) -> str:
        return (
            f'warning: no flow\'s triggers have {{ payload: "{payload}" }}, so a tap on {tapped}'
            " gets no answer; add that trigger to the flow it should start"
        )

    assert bot.problems(capsys) == (
        0,
        [
            f"{P}.getStarted: {unhandled('START', 'Get Started')}",
            f"{P}.iceBreakers.fr_FR.0.payload: {unhandled('HEURES', 'this ice breaker')}",
            f"{P}.persistentMenu.0.payload: {unhandled('HELP', 'this menu item')}",
        ],
    )


def test_an_inherited_profile_is_checked_once_and_an_account_may_replace_it(
    bot: ProfileBot, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.write(
        '{ greeting: "' + "x" * 161 + '" }',
        extra='accounts: { a: { pageId: "1" }, b: { pageId: "2" },'
        ' c: { pageId: "3", profile: { greeting: "Hi {{ name }}" } } }',
    )
    code, problems = bot.problems(capsys)
    assert code == 1
    assert problems == [
        f"{P}.greeting: is 161 characters; Meta takes at most 160: shorten it",
        f"channels.messenger.accounts.c.profile.greeting: {{{{ name }}}} {NOT_JINJA}",
    ]


def test_each_account_gets_the_profile_it_inherits_or_its_own(bot: ProfileBot) -> None:
    bot.write(
        '{ getStarted: "GET_STARTED" }',
        extra='accounts: { a: { pageId: "1" }, b: { pageId: "2", profile: {} } }',
    )
    accounts = load_config(bot.config, env={}).config.accounts
    assert accounts["a"].profile == {"getStarted": "GET_STARTED"}
    assert accounts["a"].profile_path == P
    assert accounts["b"].profile == {}
    assert accounts["b"].profile_path == "channels.messenger.accounts.b.profile"


@pytest.mark.parametrize(
    ("written", "seconds"),
    [("", 86400.0), ("userProfileTtl: 90", 90.0), ('userProfileTtl: "2h"', 7200.0)],
)
def test_user_profile_ttl_takes_seconds_or_a_duration(
    bot: ProfileBot, written: str, seconds: float
) -> None:
    bot.write(None, extra=written)
    account = load_config(bot.config, env={}).config.accounts["default"]
    assert account.user_profile_ttl == seconds


def test_a_user_profile_ttl_that_is_no_duration_is_an_error(
    bot: ProfileBot, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.write(None, extra='userProfileTtl: "2 weeks"')
    assert bot.problems(capsys) == (
        1,
        [
            "channels.messenger.userProfileTtl: invalid value '2 weeks': a number of seconds, or"
            ' a duration such as "30s", "10m", "24h" or "3d"'
        ],
    )
