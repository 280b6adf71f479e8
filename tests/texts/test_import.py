"""`runtime texts import`: translations written into the files they came from, the rest of each
file kept byte for byte; all or nothing."""

from __future__ import annotations

import pytest

from tests.texts.conftest import Bot

WELCOME = "flows/welcome.json5"
CONFIG = "config.json5"

FRENCH: dict[str, dict[str, object]] = {
    WELCOME: {
        "flows.welcome.steps.0.text": {
            "default": "Hi {{ user.first_name }}!",
            "fr_FR": "Salut {{ user.first_name }} !",
        },
        "flows.welcome.steps.0.quick_replies.0.title": {"default": "Pricing", "fr_FR": "Tarifs"},
        "flows.welcome.steps.0.quick_replies.1.title": {"default": "Help", "fr_FR": "Aide"},
        "flows.welcome.steps.1.text": {
            "default": ["Nice to see you.", "Good to see you."],
            "fr_FR": ["Ravi de vous voir.", "Content de vous voir."],
        },
        "flows.welcome.steps.2.ask": {
            "default": "Your email?",
            "fr_FR": "Votre adresse e-mail ?",
            "from": "fr",
            "fr": "Votre e-mail ?",
        },
        "flows.welcome.steps.2.retry": {
            "default": "An email, please.",
            "fr_FR": "Une adresse e-mail, s'il vous plaît.",
        },
    },
    CONFIG: {
        "channels.messenger.pairingMessage": {
            "default": "Your code: {{ code }}",
            "fr_FR": "Votre code : {{ code }}",
        },
        "channels.messenger.profile.greeting": {"default": "Hello!", "fr_FR": "Bonjour !"},
        "channels.messenger.profile.iceBreakers": {
            "default": ["Prices?", "Help?"],
            "fr_FR": ["Prix ?", "Aide ?"],
        },
        "channels.messenger.profile.persistentMenu": {"default": ["Pricing"], "fr_FR": ["Tarifs"]},
    },
}

# every line that holds no translated text is the same, byte for byte
WELCOME_AFTER = """\
// The welcome flow: comments stay where they are.
{
  flows: {
    welcome: {
      triggers: [{ keywords: ['hi', "hello"] }, { payload: "GO" }],
      steps: [
        { text:   { default: 'Hi {{ user.first_name }}!', fr_FR: "Salut {{ user.first_name }} !" } ,   // single quotes, odd spacing
          quick_replies: [
            { title: { default: "Pricing", fr_FR: "Tarifs" }, payload: "PRICING", },   // trailing commas
            {title:{ default: 'Help', fr_FR: "Aide" },payload:'HELP'}
          ],
        },
        {
          "text": {
            default: ["Nice to see you.", "Good to see you."],
            fr_FR: ["Ravi de vous voir.", "Content de vous voir."],
          },  // variations
        },
        {
          ask: {
            default: "Your email?",
            fr: "Votre e-mail ?", // every French reader's
            fr_FR: "Votre adresse e-mail ?",
          },
          save_as: "email",
          retry: { default: "An email, please.", fr_FR: "Une adresse e-mail, s'il vous plaît." },
        },
      ],
    },
    help: { triggers: [{ payload: "HELP" }, { payload: "PRICING" }], steps: [{ goto: "welcome" }] },
  },
}
"""  # noqa: E501 - the file's own long lines

CONFIG_AFTER = """\
{
  channels: {
    messenger: {
      pageAccessToken: "t", verifyToken: "v", appSecret: "s",
      pairingMessage: { default: "Your code: {{ code }}", fr_FR: "Votre code : {{ code }}" },
      profile: {
        getStarted: "GO",
        greeting: { default: "Hello!", fr_FR: "Bonjour !" },
        iceBreakers: {
          default: [
            { question: "Prices?", payload: "PRICING" },
            { question: "Help?", payload: "HELP" },
          ],
          fr_FR: [
            { question: "Prix ?", payload: "PRICING" },
            { question: "Aide ?", payload: "HELP" },
          ],
        },
        persistentMenu: {
          default: [{ title: "Pricing", payload: "PRICING" }],
          fr_FR: [{ title: "Tarifs", payload: "PRICING" }],
        },
      },
    },
  },
  flows: "flows/",
}
"""


def test_each_shape_gets_its_translation_and_the_rest_of_the_file_stays_as_written(
    bot: Bot,
) -> None:
    bot.translations("fr_FR", FRENCH)

    ran = bot.import_("fr.json5")

    assert ran.code == 0, ran.err
    assert bot.read(WELCOME) == WELCOME_AFTER
    assert bot.read(CONFIG) == CONFIG_AFTER
    assert ran.out.splitlines() == [
        "flows/welcome.json5: 6 texts",
        "config.json5: 4 texts",
        "fr_FR: 10 texts written",
        "config.json5: valid (1 account, 2 flows, 1 warning)",
    ]


def test_importing_twice_changes_nothing_the_second_time(bot: Bot) -> None:
    bot.translations("fr_FR", FRENCH)
    bot.import_("fr.json5")
    before = bot.files()

    again = bot.import_("fr.json5")

    assert again.code == 0, again.err
    assert bot.files() == before
    assert "fr_FR: 0 texts written; 10 already there" in again.out


def test_after_the_import_the_export_shows_the_values_and_the_bot_validates(bot: Bot) -> None:
    """The round trip: export, fill in, import, export again; with `locales` checked."""
    config = bot.read(CONFIG).replace(
        '  flows: "flows/",', '  flows: "flows/",\n  locales: ["en_US", "fr_FR"],'
    )
    bot.write(CONFIG, config)
    exported = bot.export("fr_FR")
    texts = exported["texts"]
    assert isinstance(texts, dict)
    translated = FRENCH[WELCOME] | FRENCH[CONFIG]
    for entries in texts.values():
        for path, entry in entries.items():
            entry["fr_FR"] = translated[path]["fr_FR"]
    bot.translations("fr_FR", texts)

    assert bot.import_("fr.json5").code == 0

    again = bot.export("fr_FR")["texts"]
    assert isinstance(again, dict)
    assert (
        again[WELCOME]["flows.welcome.steps.1.text"]
        == FRENCH[WELCOME]["flows.welcome.steps.1.text"]
    )
    assert again[CONFIG]["channels.messenger.profile.iceBreakers"]["fr_FR"] == ["Prix ?", "Aide ?"]
    assert bot.export("fr_FR", "--missing")["texts"] == {}
    assert bot.run("validate").code == 0


@pytest.mark.parametrize("untranslated", [None, "", "  "])
def test_null_or_an_empty_text_leaves_a_text_as_it_is(bot: Bot, untranslated: str | None) -> None:
    """What translation tools write for a text nobody translated yet: null, or nothing."""
    bot.translations(
        "fr_FR",
        {
            WELCOME: {
                "flows.welcome.steps.0.text": {
                    "default": "Hi {{ user.first_name }}!",
                    "fr_FR": untranslated,
                }
            }
        },
    )
    before = bot.files()

    ran = bot.import_("fr.json5")

    assert ran.code == 0
    assert bot.files() == before
    assert "fr_FR: 0 texts written; 1 untranslated" in ran.out


def test_dry_run_prints_the_changes_and_writes_nothing(bot: Bot) -> None:
    bot.translations("fr_FR", {CONFIG: FRENCH[CONFIG]})
    before = bot.files()

    ran = bot.import_("fr.json5", "--dry-run")

    assert ran.code == 0
    assert bot.files() == before
    assert '\n-        greeting: "Hello!",\n' in ran.out
    assert '\n+        greeting: { default: "Hello!", fr_FR: "Bonjour !" },\n' in ran.out
    assert "fr_FR: 4 texts to write (--dry-run: nothing written)" in ran.out


def test_a_default_changed_since_the_export_is_skipped_and_the_rest_written(bot: Bot) -> None:
    """A text edited since the export: its translation is of the old text. It is not written
    (the warning says which and how to get the new one), and the rest of the work is."""
    bot.translations("fr_FR", FRENCH)
    bot.write(WELCOME, bot.read(WELCOME).replace("Your email?", "Your email address?"))

    ran = bot.import_("fr.json5")

    assert ran.code == 0, ran.err
    assert (
        "texts.flows/welcome.json5.flows.welcome.steps.2.ask: warning: skipped: the default text"
        ' in flows/welcome.json5 is now "Your email address?", not "Your email?" as exported;'
        " translate the new text (runtime texts export --missing lists it)"
    ) in ran.err
    assert "Votre adresse e-mail ?" not in bot.read(WELCOME)
    assert '"Salut {{ user.first_name }} !"' in bot.read(WELCOME)
    assert "fr_FR: 9 texts written; 1 skipped" in ran.out


def test_a_value_written_into_another_locale_s_entry_is_ignored_and_said(bot: Bot) -> None:
    ask = {"default": "Your email?", "fr_FR": None, "from": "fr", "fr": "Ton e-mail ?"}
    bot.translations("fr_FR", {WELCOME: {"flows.welcome.steps.2.ask": ask}})
    before = bot.files()

    ran = bot.import_("fr.json5")

    assert bot.files() == before
    assert (
        "texts.flows/welcome.json5.flows.welcome.steps.2.ask.fr: warning: ignored: this import"
        " writes fr_FR texts only (its `locale`)"
    ) in ran.err


def test_a_language_alone_writes_no_profile_text_and_says_so(bot: Bot) -> None:
    bot.translations(
        "fr",
        {
            CONFIG: {
                key: {"default": entry["default"], "fr": entry["fr_FR"]}
                for key, entry in FRENCH[CONFIG].items()
            }
        },
    )

    ran = bot.import_("fr.json5")

    assert ran.code == 0, ran.err
    assert (
        "fr.json5:2:3: locale: warning: 3 page profile text(s) not written: Meta's profile takes a"
        " locale with its region (fr_FR), not fr alone; import them with such a locale"
    ) in ran.err
    config = bot.read(CONFIG)
    assert (
        'pairingMessage: { default: "Your code: {{ code }}", fr: "Votre code : {{ code }}" },'
        in config
    )
    assert 'greeting: "Hello!",' in config


# -- refusals: nothing written to any file -------------------------------------------------
REFUSALS = [
    pytest.param(
        {WELCOME: {"flows.welcome.steps.4.text": {"default": "Bye", "fr_FR": "Salut"}}},
        "texts.flows/welcome.json5.flows.welcome.steps.4.text: no such text in"
        " flows/welcome.json5; was the flow changed since the export?",
        id="a key path the flow does not have",
    ),
    pytest.param(
        {"flows/old.json5": {"flows.old.steps.0.text": {"default": "Bye", "fr_FR": "Salut"}}},
        "texts.flows/old.json5.flows.old.steps.0.text: flows/old.json5 is not among the bot's"
        " files (the config and its flows, named from config.json5's folder); was it renamed or"
        " moved since the export?",
        id="a file the bot does not have",
    ),
    pytest.param(
        {CONFIG: {"channels.messenger.name": {"default": "Shop", "fr_FR": "Boutique"}}},
        "texts.config.json5.channels.messenger.name: no such text in config.json5; was the"
        " config changed since the export?",
        id="a config key that is no text",
    ),
    pytest.param(
        {
            WELCOME: {
                "flows.welcome.steps.0.text": {"default": "Hi {{ user.first_name }}!", "fr_FR": 42}
            }
        },
        "flows.welcome.steps.0.text: expected a text, a list of variations, or null; got an"
        " integer",
        id="a number",
    ),
    pytest.param(
        {
            WELCOME: {
                "flows.welcome.steps.1.text": {
                    "default": ["Nice to see you.", "Good to see you."],
                    "fr_FR": ["Ravi", ""],
                }
            }
        },
        "flows.welcome.steps.1.text: expected a text, a list of variations, or null; got a list"
        " holding something else than texts",
        id="an empty variation",
    ),
    pytest.param(
        {
            WELCOME: {
                "flows.welcome.steps.1.text": {
                    "default": ["Nice to see you.", "Good to see you."],
                    "fr_FR": ["Ravi", 3],
                }
            }
        },
        "flows.welcome.steps.1.text: expected a text, a list of variations, or null; got a list"
        " holding something else than texts",
        id="a list holding a number",
    ),
    pytest.param(
        {
            WELCOME: {
                "flows.welcome.steps.0.text": {
                    "default": "Hi {{ user.first_name }}!",
                    "fr_FR": "Salut {{ user.first_name !",
                }
            }
        },
        "flows.welcome.steps.0.text: is not a valid template: unexpected char '!' at 25 (line 1)",
        id="a template that does not compile",
    ),
    pytest.param(
        {
            CONFIG: {
                "channels.messenger.profile.iceBreakers": {
                    "default": ["Prices?", "Help?"],
                    "fr_FR": ["Prix ?"],
                }
            }
        },
        "channels.messenger.profile.iceBreakers: expected a list of 2 questions, one for each of"
        " default's in its order, or null; got a list of 1",
        id="fewer ice breakers than default's",
    ),
    pytest.param(
        {
            CONFIG: {
                "channels.messenger.profile.greeting": {
                    "default": "Hello!",
                    "fr_FR": ["Salut", "Bonjour"],
                }
            }
        },
        "channels.messenger.profile.greeting: expected a text (a greeting has no variations), or"
        " null; got a list",
        id="variations of the greeting",
    ),
    pytest.param(
        {WELCOME: {"flows.welcome.steps.0.text": {"default": "Hi {{ user.first_name }}!"}}},
        "flows.welcome.steps.0.text: has no fr_FR key: write the translation there, or fr_FR:"
        " null to leave the text untranslated",
        id="an entry without the locale",
    ),
    pytest.param(
        {WELCOME: {"flows.welcome.steps.0.text": "Salut !"}},
        "flows.welcome.steps.0.text: expected { default: ..., fr_FR: ... } as exported, got a"
        " string",
        id="a bare value",
    ),
]


@pytest.mark.parametrize(("texts", "said"), REFUSALS)
def test_a_wrong_entry_refuses_the_whole_import(
    bot: Bot, texts: dict[str, dict[str, object]], said: str
) -> None:
    # with good translations beside it, in both files: none of them is written either
    bot.translations(
        "fr_FR", {name: {**FRENCH[name], **texts.get(name, {})} for name in FRENCH} | texts
    )
    before = bot.files()

    ran = bot.import_("fr.json5")

    assert ran.code == 1
    assert bot.files() == before
    assert said in ran.err
    assert ran.err.strip().endswith("fr.json5: nothing was written")
    assert ran.out == ""


@pytest.mark.parametrize(
    ("locale", "said"),
    [
        ("french", "locale: is 'french', which is not a locale; expected the locale of the texts"),
        (None, "locale: is missing; expected the locale of the texts"),
    ],
)
def test_an_import_whose_locale_is_no_locale_is_refused(
    bot: Bot, locale: str | None, said: str
) -> None:
    bot.translations(locale, FRENCH)
    before = bot.files()

    ran = bot.import_("fr.json5")

    assert ran.code == 1
    assert bot.files() == before
    assert f"fr.json5:2:3: {said}" in ran.err


def test_an_import_of_a_bot_that_does_not_validate_is_refused(bot: Bot) -> None:
    bot.translations("fr_FR", FRENCH)
    bot.write(WELCOME, bot.read(WELCOME).replace('{ goto: "welcome" }', '{ goto: "nowhere" }'))
    before = bot.files()

    ran = bot.import_("fr.json5")

    assert ran.code == 1
    assert bot.files() == before
    assert "flows.help.steps.0.goto" in ran.err
