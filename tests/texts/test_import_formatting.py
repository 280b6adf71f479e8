"""What `runtime texts import` adds is written the way the file writes the rest: its newlines,
indentation, quotes and commas; long values on lines of their own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.texts.conftest import Bot

WELCOME = "flows/welcome.json5"
LONG = "Thanks for writing! Someone from our team will answer you here within the day."
LONG_FR = "Merci de nous avoir écrit ! Quelqu'un de notre équipe vous répondra ici dans la journée."


def test_a_long_text_gets_its_map_on_lines_in_the_file_s_tabs_crlf_and_bom(bot: Bot) -> None:
    bot.write(
        WELCOME,
        '\ufeff{\r\n\tflows: {\r\n\t\twelcome: {\r\n\t\t\ttriggers: [{ payload: "GO" }],\r\n'
        f'\t\t\tsteps: [\r\n\t\t\t\t{{\r\n\t\t\t\t\ttext: "{LONG}",\r\n\t\t\t\t}},\r\n'
        "\t\t\t],\r\n\t\t},\r\n\t},\r\n}\r\n",
    )
    path = "flows.welcome.steps.0.text"
    bot.translations("fr_FR", {WELCOME: {path: {"default": LONG, "fr_FR": LONG_FR}}})

    assert bot.import_("fr.json5").code == 0

    assert (bot.root / WELCOME).read_bytes().decode("utf-8") == (
        '\ufeff{\r\n\tflows: {\r\n\t\twelcome: {\r\n\t\t\ttriggers: [{ payload: "GO" }],\r\n'
        "\t\t\tsteps: [\r\n\t\t\t\t{\r\n\t\t\t\t\ttext: {\r\n"
        f'\t\t\t\t\t\tdefault: "{LONG}",\r\n'
        f'\t\t\t\t\t\tfr_FR: "{LONG_FR}",\r\n'
        "\t\t\t\t\t},\r\n\t\t\t\t},\r\n\t\t\t],\r\n\t\t},\r\n\t},\r\n}\r\n"
    )


def test_a_json_file_stays_json(bot: Bot) -> None:
    """Quoted keys and no trailing commas in, quoted keys and no trailing commas out."""
    bot.write(
        WELCOME,
        '{\n    "flows": {\n        "welcome": {\n            "triggers": [{"payload": "GO"}],\n'
        '            "steps": [\n                {"text": ["Hi!", "Hello!"]},\n'
        '                {"text": {"default": "Bye", "de": "Tschüss"}}\n'
        "            ]\n        }\n    }\n}\n",
    )
    bot.translations(
        "fr_FR",
        {
            WELCOME: {
                "flows.welcome.steps.0.text": {
                    "default": ["Hi!", "Hello!"],
                    "fr_FR": [
                        "Salut ! Comment allez-vous aujourd'hui ?",
                        "Bonjour ! Que puis-je faire ?",
                    ],
                },
                "flows.welcome.steps.1.text": {"default": "Bye", "fr_FR": "Au revoir"},
            }
        },
    )

    assert bot.import_("fr.json5").code == 0

    assert bot.read(WELCOME) == (
        '{\n    "flows": {\n        "welcome": {\n            "triggers": [{"payload": "GO"}],\n'
        '            "steps": [\n                {"text": {\n'
        '                    "default": ["Hi!", "Hello!"],\n'
        '                    "fr_FR": [\n'
        '                        "Salut ! Comment allez-vous aujourd\'hui ?",\n'
        '                        "Bonjour ! Que puis-je faire ?"\n'
        "                    ]\n"
        "                }},\n"
        '                {"text": {"default": "Bye", "de": "Tschüss", "fr_FR": "Au revoir"}}\n'
        "            ]\n        }\n    }\n}\n"
    )


def test_a_text_with_quotes_and_newlines_is_escaped_in_the_file_s_quotes(bot: Bot) -> None:
    bot.write(
        WELCOME,
        "{\n  flows: { welcome: {\n    triggers: [{ payload: 'GO' }],\n    steps: [\n"
        "      { text: 'Hi' },\n    ],\n  } },\n}\n",
    )
    translated = 'L\'équipe dit "bonjour"\net \\o/'
    path = "flows.welcome.steps.0.text"
    bot.translations("fr_FR", {WELCOME: {path: {"default": "Hi", "fr_FR": translated}}})

    assert bot.import_("fr.json5").code == 0

    assert bot.read(WELCOME) == (
        "{\n  flows: { welcome: {\n    triggers: [{ payload: 'GO' }],\n    steps: [\n"
        "      { text: { default: 'Hi', fr_FR: 'L\\'équipe dit \"bonjour\"\\net \\\\o/' } },\n"
        "    ],\n  } },\n}\n"
    )
    texts = bot.export("fr_FR")["texts"]
    assert isinstance(texts, dict)
    assert texts[WELCOME][path]["fr_FR"] == translated


def test_a_flow_file_behind_a_symbolic_link_is_written_through_it(bot: Bot) -> None:
    real = bot.write("shared/welcome.json5", bot.read(WELCOME))
    (bot.root / WELCOME).unlink()
    os.symlink(real, bot.root / WELCOME)
    bot.translations(
        "fr_FR",
        {
            WELCOME: {
                "flows.welcome.steps.0.quick_replies.0.title": {
                    "default": "Pricing",
                    "fr_FR": "Tarifs",
                }
            }
        },
    )

    assert bot.import_("fr.json5").code == 0

    assert (bot.root / WELCOME).is_symlink()
    assert (
        '{ title: { default: "Pricing", fr_FR: "Tarifs" }, payload: "PRICING", }'
        in real.read_text()
    )


def test_files_are_named_from_the_config_s_folder_wherever_it_runs(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(bot.root.parent)
    config = str(Path(bot.root.name) / "config.json5")
    exported = bot.export("fr_FR", "-c", config)
    texts = exported["texts"]
    assert isinstance(texts, dict)
    assert list(texts) == [WELCOME, "config.json5"]
    texts[WELCOME]["flows.welcome.steps.0.quick_replies.0.title"]["fr_FR"] = "Tarifs"
    bot.translations("fr_FR", texts)

    ran = bot.import_(str(Path(bot.root.name) / "fr.json5"), "-c", config)

    assert ran.code == 0, ran.err
    assert ran.out.startswith("flows/welcome.json5: 1 text\n")
    assert '{ title: { default: "Pricing", fr_FR: "Tarifs" }, payload: "PRICING", }' in bot.read(
        WELCOME
    )
