"""Texts by locale and variations, as the engine sends them: the person's locale picks the
text (vars.locale, then the profile's locale, then default; fr_CA -> fr -> fr_FR -> default),
and a list of texts is a set from which each send picks one."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.build import build_bot
from runtime.dialog.engine import run_turn
from runtime.dialog.messages import TextMessage
from runtime.errors import ConfigError
from runtime.locales import entry_for, normalize_locale
from tests.dialog.conftest import Chat, MakeBot, said
from tests.dialog.events import tap, text

GREETINGS = """{ flows: { hi: { triggers: [{ keywords: ["hi"] }], steps: [
  { text: { default: "Hi!", fr: "Salut !", fr_FR: "Bonjour !", es_ES: "¡Hola!" } },
] } } }"""


def greeting_for(make_bot: MakeBot, **user: object) -> list[str]:
    return said(run_turn(make_bot(GREETINGS), text("hi"), None, now=1.0, user=user))


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("fr_FR", "Bonjour !"),  # the locale itself
        ("fr_CA", "Salut !"),  # its language
        ("fr-ca", "Salut !"),  # written another way
        ("es_MX", "¡Hola!"),  # another region of the language
        ("de_DE", "Hi!"),  # nothing of that language: default
        ("klingon", "Hi!"),  # no locale at all
        (None, "Hi!"),
    ],
)
def test_the_profile_locale_picks_the_text(
    make_bot: MakeBot, locale: str | None, expected: str
) -> None:
    user = {} if locale is None else {"locale": locale}
    assert greeting_for(make_bot, **user) == [expected]


def test_vars_locale_wins_over_the_profile_and_a_set_step_changes_the_next_steps(
    make_bot: MakeBot,
) -> None:
    bot = make_bot(
        """{ flows: { hi: { triggers: [{ keywords: ["hi"] }], steps: [
          { text: { default: "Hi!", fr: "Salut !" } },
          { set: { locale: "en_GB" } },
          { text: { default: "Switched to English.", fr: "Passé en français." } },
        ] } } }"""
    )
    turn = run_turn(bot, text("hi"), None, now=1.0, user={"locale": "fr_FR"})
    assert said(turn) == ["Salut !", "Switched to English."]
    again = run_turn(bot, text("hi"), turn.session, now=2.0, user={"locale": "fr_FR"})
    assert said(again) == ["Hi!", "Switched to English."]  # vars.locale is kept


def test_every_text_a_person_reads_follows_the_locale(make_bot: MakeBot) -> None:
    bot = make_bot(
        """{ flows: { hi: { triggers: [{ keywords: ["hi"] }], steps: [
          { buttons: { text: { default: "Pick", fr: "Choisissez" }, buttons: [
              { type: "postback", title: { default: "Plans", fr: "Offres" }, payload: "P" } ] } },
          { cards: [{ title: { default: "Kit", fr: "Kit FR" },
                      subtitle: { default: "All in", fr: "Tout compris" } }] },
          { text: "Plain",
            quick_replies: [{ title: { default: "Yes", fr: "Oui" }, payload: "Y" }] },
          { ask: { default: "Email?", fr: "E-mail ?" }, save_as: "email", validate: "email",
            retry: { default: "An email, please", fr: "Un e-mail, svp" } },
        ] } } }"""
    )
    turn = run_turn(bot, text("hi"), None, now=1.0, user={"locale": "fr_BE"})
    buttons, cards, plain, ask = turn.messages
    assert buttons.text == "Choisissez"  # type: ignore[union-attr]
    assert [b.title for b in buttons.buttons] == ["Offres"]  # type: ignore[union-attr]
    card = cards.cards[0]  # type: ignore[union-attr]
    assert (card.title, card.subtitle) == ("Kit FR", "Tout compris")
    assert [r.title for r in plain.quick_replies] == ["Oui"]  # type: ignore[union-attr]
    assert ask == TextMessage(text="E-mail ?")
    wrong = run_turn(bot, text("nope"), turn.session, now=2.0, user={"locale": "fr_BE"})
    assert said(wrong) == ["Un e-mail, svp"]


def test_a_typed_answer_may_be_the_title_in_the_persons_language(make_bot: MakeBot) -> None:
    bot = make_bot(
        """{ flows: { size: { triggers: [{ keywords: ["size"] }], steps: [
          { ask: { default: "Which size?", fr: "Quelle taille ?" }, save_as: "size",
            validate: "choice", quick_replies: [
              { title: { default: "Small", fr: ["Petit", "Petite"] }, payload: "S" },
              { title: { default: "Large", fr: "Grand" }, payload: "L" } ] },
          { text: "{{ vars.size }}" },
        ] } } }"""
    )
    for typed, saved in [("petite", "S"), ("Petit", "S"), ("grand", "L")]:
        asked = run_turn(bot, text("size"), None, now=1.0, user={"locale": "fr_FR"})
        answered = run_turn(bot, text(typed), asked.session, now=2.0, user={"locale": "fr_FR"})
        assert said(answered) == [saved]


def test_each_send_picks_one_of_the_variations(make_bot: MakeBot) -> None:
    bot = make_bot(
        """{ flows: { hi: { triggers: [{ keywords: ["hi"] }], steps: [
          { text: ["Hi!", "Hello!", "Hey there!"] },
        ] } } }"""
    )
    chat = Chat(bot)
    seen = [said(chat.send(text("hi")))[0] for _ in range(200)]
    assert set(seen) == {"Hi!", "Hello!", "Hey there!"}  # each is picked (odds of not: 1e-35)


def test_variations_by_locale_pick_within_the_persons_language(make_bot: MakeBot) -> None:
    bot = make_bot(
        """{ flows: { hi: { triggers: [{ keywords: ["hi"] }], steps: [
          { text: { default: ["Hi!", "Hello!"], fr: ["Salut !", "Bonjour !"] } },
        ] } } }"""
    )
    seen = {
        said(run_turn(bot, text("hi"), None, now=1.0, user={"locale": "fr_FR"}))[0]
        for _ in range(100)
    }
    assert seen == {"Salut !", "Bonjour !"}


def test_a_tap_on_a_translated_quick_reply_sends_its_payload(make_bot: MakeBot) -> None:
    bot = make_bot(
        """{ flows: {
          hi: { triggers: [{ keywords: ["hi"] }], steps: [
            { text: "?",
              quick_replies: [{ title: { default: "Plans", fr: "Offres" }, payload: "PLANS" }] },
          ] },
          plans: { triggers: [{ payload: "PLANS" }], steps: [
            { text: { default: "Plans!", fr: "Offres !" } } ] },
        } }"""
    )
    turn = run_turn(bot, tap("PLANS", "Offres"), None, now=1.0, user={"locale": "fr_FR"})
    assert said(turn) == ["Offres !"]


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        (
            '{ en_US: "Hi!", fr_FR: "Salut !" }',
            "flows.hi.steps.0.text: has no `default` text (it has en_US, fr_FR): a person whose"
            " locale is none of these reads it; add default: ... beside them",
        ),
        ('["Hi!", 3]', "flows.hi.steps.0.text.1: expected a text, got an integer"),
        (
            '{ default: ["Hi!", ""] }',
            "flows.hi.steps.0.text.default.1: expected a text, got an empty text",
        ),
        ('{ default: "Hi!", french: "Salut" }', "flows.hi.steps.0.text.french: invalid value"),
        (
            '{ default: "Hi {{ user.first_name", fr: "Salut" }',
            "flows.hi.steps.0.text.default: Jinja syntax error",
        ),
    ],
)
def test_a_text_written_wrong_is_an_error_at_its_key_path(
    tmp_path: Path, written: str, problem: str
) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "config.json5").write_text(
        '{ channels: { messenger: { pageAccessToken: "t", verifyToken: "v", appSecret: "s" } } }',
        encoding="utf-8",
    )
    (tmp_path / "flows" / "main.json5").write_text(
        '{ flows: { hi: { triggers: [{ keywords: ["hi"] }], steps: [{ text: TEXT }] } } }'.replace(
            "TEXT", written
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as raised:
        build_bot(tmp_path / "config.json5", env={})
    assert problem in str(raised.value)


@pytest.mark.parametrize(
    ("written", "locale"),
    [("fr-ca", "fr_CA"), ("FR", "fr"), (" en_us ", "en_US"), ("french", None), (42, None)],
)
def test_a_locale_is_read_as_meta_writes_it(written: object, locale: str | None) -> None:
    assert normalize_locale(written) == locale


def test_the_fallback_takes_the_first_region_written_of_the_language() -> None:
    assert entry_for("fr_CA", ["default", "fr_BE", "fr_FR"]) == "fr_BE"
    assert entry_for("fr_CA", ["default", "fr_FR", "fr"]) == "fr"
    assert entry_for("pt_BR", ["default", "fr"]) == "default"
    assert entry_for(None, ["default", "fr"]) == "default"
