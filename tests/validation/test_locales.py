"""`locales: [...]`: a text a person reads that lacks one of them is an error; limits per locale.

With `locales: ["en_US", "fr_FR"]`, `default` texts are the en_US ones and every text a person
reads (a step's, a pairingMessage or approvedMessage, the page's greeting, ice breakers and
menu) needs fr_FR, by the fallback rule: an `fr` entry covers every French locale. Without
`locales` nothing is checked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from runtime.cli import main
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import running
from tests.fakes.webhooks import PSID, text
from tests.messenger.conftest import APP_SECRET, single_page
from tests.validation.conftest import BotFolder, one_flow

FILE = "flows/main.json5"
STEP = f"{FILE}: flows.main.steps.0"
MESSENGER = 'pageAccessToken: "t", verifyToken: "v", appSecret: "s"'
NO_FR_PLAIN = (
    "has no fr_FR text (locales lists fr_FR);"
    ' write it { default: <the text it is now>, fr_FR: "..." } (or fr: "..." for every fr_* locale)'
)
NO_FR_IN_MAP = (
    'has no fr_FR text (locales lists fr_FR); add fr_FR: "..." beside default'
    ' (or fr: "..." for every fr_* locale)'
)


def configure(
    bot: BotFolder, locales: str | None = '["en_US", "fr_FR"]', *, messenger: str = ""
) -> None:
    """config.json5 with `locales` (none when None) and more keys of channels.messenger."""
    listed = f"locales: {locales}, " if locales is not None else ""
    more = f", {messenger}" if messenger else ""
    bot.write(
        "config.json5",
        f'{{ channels: {{ messenger: {{ {MESSENGER}{more} }} }}, {listed}flows: "flows/" }}',
    )


def fr(english: str, french: str) -> str:
    return f'{{ default: "{english}", fr_FR: "{french}" }}'


def locale_errors(bot: BotFolder) -> list[str]:
    """The build's errors (it must fail) that are about a missing locale."""
    return [line for line in bot.errors() if "(locales lists" in line]


@pytest.mark.parametrize(
    ("step", "path"),
    [
        ('{ text: "Hi" }', "text"),
        (
            f'{{ text: {fr("Hi", "Salut")}, quick_replies: [{{ title: "Yes", payload: "GO" }}] }}',
            "quick_replies.0.title",
        ),
        (
            f"{{ buttons: {{ text: {fr('Pick', 'Choisissez')},"
            ' buttons: [{ type: "postback", title: "Buy", payload: "GO" }] } }',
            "buttons.buttons.0.title",
        ),
        (
            f'{{ cards: [{{ title: {fr("Kit", "Kit")}, subtitle: "Our best kit" }}] }}',
            "cards.0.subtitle",
        ),
        (
            f'{{ ask: {fr("Your email?", "Votre e-mail ?")}, save_as: "email",'
            ' validate: "email", retry: "That is no email" }',
            "retry",
        ),
    ],
    ids=["step text", "quick reply title", "button title", "card subtitle", "ask retry"],
)
def test_a_text_without_the_second_locale_is_an_error_at_its_key_path(
    bot: BotFolder, step: str, path: str
) -> None:
    configure(bot)
    bot.flow(one_flow(step))
    assert locale_errors(bot) == [f"{STEP}.{path}: {NO_FR_PLAIN}"]


def test_a_map_without_the_locale_says_to_add_it_beside_default(bot: BotFolder) -> None:
    configure(bot, '["en_US", "fr_FR", "de_DE"]')
    bot.flow(one_flow('{ text: { default: "Hi", de: "Hallo" } }'))
    assert locale_errors(bot) == [f"{STEP}.text: {NO_FR_IN_MAP}"]


def test_a_text_missing_two_locales_is_one_error_per_locale(bot: BotFolder) -> None:
    configure(bot, '["en_US", "fr_FR", "de_DE"]')
    bot.flow(one_flow('{ text: { default: "Hi", es: "Hola" } }'))
    errors = locale_errors(bot)
    assert [error.split(";")[0] for error in errors] == [
        f"{STEP}.text: has no fr_FR text (locales lists fr_FR)",
        f"{STEP}.text: has no de_DE text (locales lists de_DE)",
    ]


def test_a_list_of_variations_is_the_default_locale_only(bot: BotFolder) -> None:
    configure(bot)
    bot.flow(one_flow('{ text: ["Hi!", "Hello!"] }, { text: { default: ["Hi!", "Hello!"] } }'))
    assert locale_errors(bot) == [
        f"{STEP}.text: has no fr_FR text (locales lists fr_FR); write it"
        ' { default: <the variations it is now>, fr_FR: "..." } (or fr: "..." for every fr_*'
        " locale)",
        f"{FILE}: flows.main.steps.1.text: {NO_FR_IN_MAP}",
    ]


def test_a_language_entry_covers_each_of_its_locales(bot: BotFolder) -> None:
    configure(bot, '["en_US", "fr_FR", "fr_CA"]')
    bot.flow(
        one_flow(
            '{ text: { default: "Hi", fr: "Salut" },'
            ' quick_replies: [{ title: { default: "Yes", fr: ["Oui", "Ouais"] }, payload: "GO" }] }'
        )
    )
    assert bot.warnings() == []


def test_a_region_covers_its_language_and_another_region_of_it(bot: BotFolder) -> None:
    # the fallback rule: fr_CA -> fr -> the first fr_* written; so fr_FR serves fr_CA
    configure(bot, '["en_US", "fr", "fr_CA"]')
    bot.flow(one_flow(f"{{ text: {fr('Hi', 'Salut')} }}"))
    assert bot.warnings() == []


def test_a_translated_bot_is_valid_and_the_built_in_pairing_message_is_exempt(
    bot: BotFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(bot, messenger='dmPolicy: "pairing"')  # the built-in pairing text is English
    bot.flow(one_flow(f"{{ text: {fr('Hi', 'Salut')} }}"))
    assert main(["validate", "-c", "config.json5"]) == 0
    assert "(locales lists" not in capsys.readouterr().err


def test_a_pairing_message_without_the_locale_is_an_error(bot: BotFolder) -> None:
    configure(bot, messenger='pairingMessage: "Your code: {{ code }}"')
    bot.flow(one_flow(f"{{ text: {fr('Hi', 'Salut')} }}"))
    assert locale_errors(bot) == [f"config.json5: channels.messenger.pairingMessage: {NO_FR_PLAIN}"]


def test_a_pairing_and_an_approval_message_by_locale_pass(bot: BotFolder) -> None:
    configure(
        bot,
        messenger='pairingMessage: { default: "Code: {{ code }}", fr: "Code : {{ code }}" },'
        ' approvedMessage: { default: "In!", fr: "Entrez !" }',
    )
    bot.flow(one_flow(f"{{ text: {fr('Hi', 'Salut')} }}"))
    bot.build()


def test_an_inherited_text_is_an_error_once_where_it_is_written(bot: BotFolder) -> None:
    """Two accounts inherit the channel's pairingMessage; one has its own approvedMessage,
    the other inherits the channel's: each text lacking fr_FR is one error, at its key."""
    accounts = (
        'pairingMessage: "Code: {{ code }}", approvedMessage: "In!",'
        ' accounts: { shop: { pageId: "1", approvedMessage: "Welcome!" }, blog: { pageId: "2" } }'
    )
    configure(bot, messenger=accounts)
    bot.flow(one_flow(f"{{ text: {fr('Hi', 'Salut')} }}"))
    where = "config.json5: channels.messenger"
    assert locale_errors(bot) == [
        f"{where}.pairingMessage: {NO_FR_PLAIN}",
        f"{where}.accounts.shop.approvedMessage: {NO_FR_PLAIN}",
        f"{where}.approvedMessage: {NO_FR_PLAIN}",
    ]


def test_the_profile_greeting_and_ice_breakers_need_each_locale_by_its_own_entry(
    bot: BotFolder,
) -> None:
    profile = (
        'profile: { getStarted: "GO", greeting: { default: "Hello!", fr_CA: "Bonjour !" },'
        ' iceBreakers: [{ question: "Prices?", payload: "GO" }],'
        ' persistentMenu: { default: [{ title: "Start", payload: "GO" }],'
        ' fr_FR: [{ title: "Commencer", payload: "GO" }] } }'
    )
    configure(bot, messenger=profile)
    bot.flow(one_flow(f"{{ text: {fr('Hi', 'Salut')} }}"))
    errors = bot.errors()
    where = "config.json5: channels.messenger.profile"
    fallback = "and Meta has no fallback by language: people in fr_FR would see the default"
    # fr_CA does not serve fr_FR there: Meta gives a locale its own entry, else the default
    assert errors == [
        f"{where}.greeting: has no fr_FR greeting (locales lists fr_FR), {fallback};"
        ' add fr_FR: "..." beside default',
        f"{where}.iceBreakers: has no fr_FR ice breakers (locales lists fr_FR), {fallback};"
        " write it { default: <the ice breakers it is now>,"
        ' fr_FR: [{ question: "...", payload: "..." }] }',
    ]


def test_a_profile_with_every_locale_passes(bot: BotFolder) -> None:
    profile = (
        'profile: { getStarted: "GO", greeting: { default: "Hello!", fr_FR: "Bonjour !" },'
        ' iceBreakers: { default: [{ question: "Prices?", payload: "GO" }],'
        ' fr_FR: [{ question: "Les prix ?", payload: "GO" }] } }'
    )
    configure(bot, messenger=profile)
    bot.flow(one_flow(f"{{ text: {fr('Hi', 'Salut')} }}"))
    assert [problem for problem in bot.build().warnings if "locale" in problem.message] == []


def test_without_locales_nothing_is_checked(bot: BotFolder) -> None:
    configure(bot, None, messenger='pairingMessage: "Code {{ code }}"')
    bot.flow(one_flow('{ text: { default: "Hi", de_DE: "Hallo" } }, { text: "Bye" }'))
    assert bot.warnings() == []


def test_a_locale_the_bot_does_not_list_is_a_warning(bot: BotFolder) -> None:
    configure(bot)
    bot.flow(
        one_flow(
            '{ text: { default: "Hi", fr_FR: "Salut", fr_BE: "Salut !", nl_BE: "Hallo",'
            ' es: "Hola" } }'
        )
    )
    stray = "is not in locales, so nothing checks that every text has it; add it to locales or"
    # fr_BE: French is spoken (fr_FR), and the fallback serves French people: no warning
    assert bot.warnings() == [
        f"{STEP}.text.nl_BE: warning: nl_BE {stray} remove it",
        f"{STEP}.text.es: warning: es {stray} remove it",
    ]


def test_a_stray_locale_warns_once_a_file_however_many_texts_have_it(bot: BotFolder) -> None:
    configure(bot)
    bot.flow(
        one_flow(
            '{ text: { default: "Hi", fr: "Salut", de_DE: "Hallo" } },'
            ' { text: { default: "Bye", fr: "Salut", de_DE: "Tschüss" } },'
            ' { text: { default: "Later", fr: "Plus tard", de_DE: "Später" } }'
        )
    )
    stray = "is not in locales, so nothing checks that every text has it; add it to locales or"
    assert bot.warnings() == [
        f"{STEP}.text.de_DE: warning: de_DE {stray} remove it (and 2 more texts of this file)"
    ]


def test_a_locale_listed_twice_is_an_error_at_the_second(bot: BotFolder) -> None:
    configure(bot, '["en_US", "fr_FR", "en_US", "fr_FR"]')
    bot.flow(one_flow(f"{{ text: {fr('Hi', 'Salut')} }}"))
    assert bot.errors() == [
        "config.json5: locales.2: en_US is listed twice (first at locales.0); remove one",
        "config.json5: locales.3: fr_FR is listed twice (first at locales.1); remove one",
    ]


# -- Messenger's limits, per locale and per variation ----------------------------------------


def test_each_locale_and_variation_of_a_title_is_held_to_the_limit(bot: BotFolder) -> None:
    long_french = "Oui, avec plaisir !!!!"  # 22 characters
    bot.flow(
        one_flow(
            '{ text: "Hi", quick_replies: [{ payload: "GO", title:'
            f' {{ default: "Yes", fr_FR: "{long_french}" }} }},'
            ' { payload: "GO", title: ["Sure", "Absolutely, with pleasure"] }] }'
        )
    )
    assert bot.errors() == [
        f"{STEP}.quick_replies.0.title.fr_FR: is 22 characters; Messenger allows at most 20",
        f"{STEP}.quick_replies.1.title.1: is 25 characters; Messenger allows at most 20",
    ]


def test_a_long_variation_of_one_locale_is_named_by_locale_and_number(bot: BotFolder) -> None:
    bot.flow(
        one_flow(
            '{ cards: [{ title: "Kit", subtitle: { default: "Ours",'
            f' fr: ["Le nôtre", "{"x" * 81}"] }} }}] }}'
        )
    )
    assert bot.errors() == [
        f"{STEP}.cards.0.subtitle.fr.1: is 81 characters; Messenger allows at most 80"
    ]


# -- what a user sees: runtime validate, and a hot reload ------------------------------------


def test_runtime_validate_prints_the_file_the_key_path_and_the_locale(
    bot: BotFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(bot)
    bot.flow(one_flow('{ text: "Hi" }', name="welcome"), "welcome.json5")
    assert main(["validate", "-c", "config.json5"]) == 1
    err = capsys.readouterr().err
    assert f"flows/welcome.json5:1:64: flows.welcome.steps.0.text: {NO_FR_PLAIN}" in err


def test_runtime_serve_refuses_to_start_a_bot_with_a_missing_translation(
    bot: BotFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(bot)
    bot.flow(one_flow('{ text: "Hi" }'))
    assert main(["serve", "-c", "config.json5", "--port", "0"]) == 1
    assert capsys.readouterr().err == (f"{FILE}:1:61: flows.main.steps.0.text: {NO_FR_PLAIN}\n")


FLOWS = """{ flows: { welcome: { triggers: [{ keywords: ["hi"] }],
  steps: [{ text: { default: "Hello", fr_FR: "Bonjour" } }%s] } } }"""


async def test_a_reload_with_a_missing_translation_is_refused_and_the_old_bot_answers(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    (tmp_path / "flows").mkdir()
    main_flow = tmp_path / "flows" / "main.json5"
    main_flow.write_text(FLOWS % "")
    config = tmp_path / "config.json5"
    config.write_text(
        f"{{ channels: {{ messenger: {{ {single_page(senderActions='false')} }} }},"
        ' locales: ["en_US", "fr_FR"], flows: "flows/" }'
    )
    async with running(config, env=env) as server:
        good = (await server.get("/healthz")).json()["version"]
        main_flow.write_text(FLOWS % ', { text: "See you" }')
        deadline = time.monotonic() + 5
        while f"rejected; keeping version {good}" not in caplog.text:
            assert time.monotonic() < deadline, caplog.text
            await asyncio.sleep(0.02)
        assert "flows.welcome.steps.1.text: has no fr_FR text (locales lists fr_FR)" in caplog.text
        assert (await server.get("/healthz")).json()["version"] == good
        await server.post(text("hi"), secret=APP_SECRET)
        replies = await graph.wait_for(1, psid=PSID)
        assert [reply.text for reply in replies] == ["Hello"]  # the old bot: one step
