"""`runtime texts export`: every text a person reads, with its file, key path and default."""

from __future__ import annotations

import json5
import pytest

from tests.texts.conftest import Bot

WELCOME = "flows/welcome.json5"
CONFIG = "config.json5"


def test_every_text_is_listed_with_its_default_and_the_locale_s_text_or_null(bot: Bot) -> None:
    exported = bot.export("fr_FR")

    assert exported == {
        "locale": "fr_FR",
        "texts": {
            WELCOME: {
                "flows.welcome.steps.0.text": {
                    "default": "Hi {{ user.first_name }}!",
                    "fr_FR": None,
                },
                "flows.welcome.steps.0.quick_replies.0.title": {
                    "default": "Pricing",
                    "fr_FR": None,
                },
                "flows.welcome.steps.0.quick_replies.1.title": {"default": "Help", "fr_FR": None},
                # variations: a list
                "flows.welcome.steps.1.text": {
                    "default": ["Nice to see you.", "Good to see you."],
                    "fr_FR": None,
                },
                # no fr_FR of its own: the `fr` text serves it, and says so
                "flows.welcome.steps.2.ask": {
                    "default": "Your email?",
                    "fr_FR": None,
                    "from": "fr",
                    "fr": "Votre e-mail ?",
                },
                "flows.welcome.steps.2.retry": {
                    "default": "An email, please.",
                    "fr_FR": "Un e-mail, svp.",
                },
            },
            CONFIG: {
                "channels.messenger.pairingMessage": {
                    "default": "Your code: {{ code }}",
                    "fr_FR": None,
                },
                "channels.messenger.profile.greeting": {"default": "Hello!", "fr_FR": None},
                # the questions and titles a person reads, in order
                "channels.messenger.profile.iceBreakers": {
                    "default": ["Prices?", "Help?"],
                    "fr_FR": None,
                },
                "channels.messenger.profile.persistentMenu": {
                    "default": ["Pricing"],
                    "fr_FR": None,
                },
            },
        },
    }


def test_the_export_says_how_to_fill_it_in_and_import_it(bot: Bot) -> None:
    ran = bot.run("texts", "export", "--locale", "fr_FR", "-c", "config.json5")

    assert ran.out.startswith("// Every text of config.json5 for fr_FR")
    assert "runtime texts import FILE -c config.json5" in ran.out
    assert ran.err.strip() == "10 texts; 8 without fr_FR"


def test_missing_lists_only_the_texts_nothing_of_the_locale_serves(bot: Bot) -> None:
    missing = bot.export("fr_FR", "--missing")["texts"]

    assert isinstance(missing, dict)
    # the ask has `fr`, the retry has fr_FR: neither is listed
    assert list(missing[WELCOME]) == [
        "flows.welcome.steps.0.text",
        "flows.welcome.steps.0.quick_replies.0.title",
        "flows.welcome.steps.0.quick_replies.1.title",
        "flows.welcome.steps.1.text",
    ]


def test_an_fr_CA_reader_falls_back_to_fr_and_fr_FR_texts_but_the_profile_does_not(
    bot: Bot,
) -> None:
    missing = bot.export("fr_CA", "--missing")["texts"]
    everything = bot.export("fr_CA")["texts"]

    assert isinstance(missing, dict)
    assert isinstance(everything, dict)
    assert "flows.welcome.steps.2.ask" not in missing[WELCOME]  # fr serves fr_CA
    assert "flows.welcome.steps.2.retry" not in missing[WELCOME]  # and so does fr_FR
    assert everything[WELCOME]["flows.welcome.steps.2.retry"] == {
        "default": "An email, please.",
        "fr_CA": None,
        "from": "fr_FR",
        "fr_FR": "Un e-mail, svp.",
    }
    # Meta's profile serves a locale only its own entry (or default)
    assert "channels.messenger.profile.greeting" in missing[CONFIG]


def test_a_language_alone_leaves_the_page_profile_out_and_says_why(bot: Bot) -> None:
    ran = bot.run("texts", "export", "--locale", "fr")

    assert ran.code == 0
    assert "The page profile's texts (3) are left out" in ran.out
    texts = json5.loads(ran.out)["texts"]
    assert list(texts[CONFIG]) == ["channels.messenger.pairingMessage"]
    assert texts[WELCOME]["flows.welcome.steps.2.ask"] == {
        "default": "Your email?",
        "fr": "Votre e-mail ?",
    }


def test_each_account_s_own_pairing_and_approval_messages_are_listed_where_written(
    bot: Bot,
) -> None:
    config = bot.read(CONFIG).replace(
        "      profile: {",
        '      accounts: { shop: { pageId: "1", pairingMessage: ["Code {{ code }}", "{{ code }}!"],'
        ' approvedMessage: { default: "In!", de: "Herein!" } }, blog: { pageId: "2" } },\n'
        "      profile: {",
    )
    bot.write(CONFIG, config)

    texts = bot.export("de_DE")["texts"]

    assert isinstance(texts, dict)
    assert [path for path in texts[CONFIG] if path.endswith("Message")] == [
        "channels.messenger.pairingMessage",  # blog inherits it: listed once, where written
        "channels.messenger.accounts.shop.pairingMessage",
        "channels.messenger.accounts.shop.approvedMessage",
    ]
    assert texts[CONFIG]["channels.messenger.accounts.shop.pairingMessage"] == {
        "default": ["Code {{ code }}", "{{ code }}!"],
        "de_DE": None,
    }
    assert texts[CONFIG]["channels.messenger.accounts.shop.approvedMessage"] == {
        "default": "In!",
        "de_DE": None,
        "from": "de",
        "de": "Herein!",
    }


def test_with_every_text_translated_missing_lists_nothing(bot: Bot) -> None:
    bot.write(
        CONFIG,
        '{ channels: { messenger: { pageAccessToken: "t", verifyToken: "v", appSecret: "s" } },'
        ' flows: "flows/" }',
    )
    bot.write(
        WELCOME,
        '{ flows: { welcome: { triggers: [{ keywords: ["hi"] }],'
        ' steps: [{ text: { default: "Hi", fr: "Salut" } }] } } }',
    )

    ran = bot.run("texts", "export", "--locale", "fr_FR", "--missing")

    assert ran.code == 0, ran.err
    assert ran.out.endswith('{\n  locale: "fr_FR",\n  texts: {},\n}\n')
    assert ran.err.strip() == "0 texts; 0 without fr_FR"


def test_a_bot_that_does_not_validate_is_not_exported(bot: Bot) -> None:
    bot.write(WELCOME, bot.read(WELCOME).replace('{ goto: "welcome" }', '{ goto: "nowhere" }'))

    ran = bot.run("texts", "export", "--locale", "fr_FR")

    assert ran.code == 1
    assert ran.out == ""
    assert "flows/welcome.json5:" in ran.err
    assert "flows.help.steps.0.goto" in ran.err


def test_a_bot_missing_a_language_of_its_locales_is_exported_all_the_same(bot: Bot) -> None:
    """`locales` lists fr_FR and most texts lack it: that is what the export is for."""
    with_locales(bot)

    exported = bot.export("fr_FR", "--missing")

    assert isinstance(exported["texts"], dict)
    assert WELCOME in exported["texts"]


def test_a_locale_written_for_the_bot_s_default_language_gets_a_note(bot: Bot) -> None:
    with_locales(bot)

    first = bot.run("texts", "export", "--locale", "en_US")
    stray = bot.run("texts", "export", "--locale", "de_DE")

    assert "en_US is the first of `locales`" in first.err
    assert "de_DE is not in `locales`" in stray.err


def with_locales(bot: Bot) -> None:
    config = bot.read(CONFIG)
    bot.write(
        CONFIG,
        config.replace('  flows: "flows/",', '  flows: "flows/",\n  locales: ["en_US", "fr_FR"],'),
    )


@pytest.mark.parametrize("locale", ["french", "fr-FR", "default", "FR"])
def test_a_wrong_locale_is_refused_on_the_command_line(
    bot: Bot, locale: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        bot.run("texts", "export", "--locale", locale)

    assert exited.value.code == 2
    assert f"{locale!r} is not a locale" in capsys.readouterr().err
