"""`runtime test` in several languages: a test's `locale`, and texts written as variations."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from runtime.build import build_bot
from runtime.testing import Conversation, HttpAnswer
from tests.testing.quickstart import run_runtime

CONFIG = """{
  channels: { messenger: { pageAccessToken: "t", verifyToken: "v", dmPolicy: "open" } },
}"""
# two languages (a French text for all of `fr`), and texts written as variations
FLOWS = """{
  flows: {
    hello: {
      triggers: [{ keywords: ["hi", "salut"] }],
      steps: [
        { text: { default: "Hello!", fr: "Bonjour !", fr_FR: "Bonjour de Paris !" } },
        { text: { default: "Your locale: {{ user.locale }}",
                  fr: "Votre langue : {{ user.locale }}" },
          when: "user.locale" },
      ],
    },
    english: {
      triggers: [{ keywords: ["english"] }],
      steps: [
        { set: { locale: "en_US" } },
        { text: { default: "English it is.", fr: "Anglais ?" } },
      ],
    },
    menu: {
      triggers: [{ keywords: ["menu"] }],
      steps: [
        { text: ["Pick one.", "Choose one."],
          quick_replies: [
            { title: ["Yes", "Sure"], payload: "YES" },
            { title: "No", payload: "NO" },
          ] },
        { buttons: { text: ["Plans?", "Prices?"],
                     buttons: [{ type: "postback", title: ["Go", "Open"], payload: "GO" }] } },
        { cards: [{ title: ["Kit", "Box"], subtitle: ["Small", "Little"] }, { title: "Pro" }] },
      ],
    },
    order: {
      triggers: [{ keywords: ["order"] }],
      steps: [
        { http: { url: "https://api.example.com/orders/A1", save_as: "order" } },
        { text: ["Found it: {{ vars.order.body.status }}.",
                 "Got it: {{ vars.order.body.status }}."] },
      ],
    },
    fallback: {
      steps: [{ text: { default: ["Sorry?", "Pardon me?"], fr: ["Pardon ?", "Comment ?"] } }],
    },
  },
}"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "flows.json5").write_text(FLOWS, encoding="utf-8")
    path = tmp_path / "config.json5"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def run_tests(config: Path, tests: str) -> subprocess.CompletedProcess[str]:
    path = config.parent / "conversation.json5"
    path.write_text(tests, encoding="utf-8")
    return run_runtime("test", "-c", str(config), str(path))


def passes(result: subprocess.CompletedProcess[str]) -> bool:
    return result.returncode == 0 and result.stdout.splitlines()[-1].endswith(" 0 failed")


# -- a test's locale --------------------------------------------------------------------------
def test_a_french_test_reads_the_french_texts_and_its_locale_is_user_locale(config: Path) -> None:
    result = run_tests(
        config,
        """{ tests: [{ name: "en français", locale: "fr_FR", turns: [
          { user: "salut",
            expect: [{ text: "Bonjour de Paris !" }, { text: "Votre langue : fr_FR" }] },
        ] }] }""",
    )
    assert passes(result), result.stdout + result.stderr
    assert result.stdout.splitlines() == ["PASS en français", "1 passed, 0 failed"]


def test_an_english_expectation_for_a_french_test_fails_with_a_readable_diff(
    config: Path,
) -> None:
    result = run_tests(
        config,
        """{ tests: [{ name: "wrong language", locale: "fr_FR", turns: [
          { user: "hi", expect: [{ text: "Hello!" }, { text: "Your locale: fr_FR" }] },
        ] }] }""",
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[:8] == [
        "FAIL wrong language",
        f"{config.parent / 'conversation.json5'}: tests.0.turns.0: test 'wrong language',"
        ' turn 1 (user: "hi"):',
        "--- expected",
        "+++ actual",
        '-text: "Hello!"',
        '-text: "Your locale: fr_FR"',
        '+text: "Bonjour de Paris !"',
        '+text: "Votre langue : fr_FR"',
    ]


def test_fr_CA_falls_back_to_the_fr_text(config: Path) -> None:
    result = run_tests(
        config,
        """{ tests: [{ name: "québécois", locale: "fr_CA", turns: [
          { user: "salut", expect: [{ text: "Bonjour !" }, { text: "Votre langue : fr_CA" }] },
        ] }] }""",
    )
    assert passes(result), result.stdout


def test_a_test_without_a_locale_reads_the_default_texts_unless_its_user_gives_one(
    config: Path,
) -> None:
    result = run_tests(
        config,
        """{ tests: [
          { name: "no locale", turns: [{ user: "salut", expect: [{ text: "Hello!" }] }] },
          { name: "a locale nobody wrote for", locale: "de_DE", turns: [
            { user: "hi", expect: [{ text: "Hello!" }, { text: "Your locale: de_DE" }] },
          ] },
          { name: "the profile's", user: { first_name: "Ada", locale: "fr_BE" }, turns: [
            { user: "hi", expect: [{ text: "Bonjour !" }, { text: "Votre langue : fr_BE" }] },
          ] },
        ] }""",
    )
    assert passes(result), result.stdout


def test_vars_locale_set_by_a_flow_wins_over_the_tests_locale(config: Path) -> None:
    result = run_tests(
        config,
        """{ tests: [{ name: "switch", locale: "fr_FR", turns: [
          { user: "salut",
            expect: [{ text: "Bonjour de Paris !" }, { text: "Votre langue : fr_FR" }] },
          { user: "english", expect: [{ text: "English it is." }], vars: { locale: "en_US" } },
          // the profile still says fr_FR, but the flow chose English
          { user: "hi", expect: [{ text: "Hello!" }, { text: "Your locale: fr_FR" }] },
        ] }] }""",
    )
    assert passes(result), result.stdout


def test_a_wrong_locale_is_an_error_naming_the_file_and_key_path(config: Path) -> None:
    result = run_tests(
        config,
        """{ tests: [
          { name: "a", locale: "french", turns: [{ user: "hi", expect: [] }] },
          { name: "b", user: { locale: "fr-FR" }, turns: [{ user: "hi", expect: [] }] },
          { name: "c", locale: "fr_FR", user: { locale: "en_US" },
            turns: [{ user: "hi", expect: [] }] },
        ] }""",
    )
    file = config.parent / "conversation.json5"
    hint = "a locale as Meta writes it (fr_FR), or a language alone (fr)"
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{file}: tests.0.locale: invalid value 'french': {hint}",
        f"{file}: tests.1.user.locale: invalid value 'fr-FR': {hint}",
        f"{file}: tests.2.locale: is fr_FR, but user.locale is en_US: a person has one"
        " profile locale; keep one of the two",
    ]


# -- variations -------------------------------------------------------------------------------
MENU_TEST = """{{ tests: [{{ name: "menu", turns: [
  {{ user: "menu", expect: [
    {{ text: "{text}", quick_replies: ["{reply}", "No"] }},
    {{ buttons: {{ text: "{question}", buttons: ["{button}"] }} }},
    {{ cards: [{{ title: "{card}", subtitle: "{subtitle}" }}, "Pro"] }},
  ] }},
  {{ user: "???", expect: [{{ text: "{sorry}" }}] }},
] }}] }}"""


@pytest.mark.parametrize(
    "picked",
    [
        dict(
            text="Pick one.",
            reply="Yes",
            question="Plans?",
            button="Go",
            card="Kit",
            subtitle="Small",
            sorry="Sorry?",
        ),
        dict(
            text="Choose one.",
            reply="Sure",
            question="Prices?",
            button="Open",
            card="Box",
            subtitle="Little",
            sorry="Pardon me?",
        ),
    ],
    ids=["the first variations", "the second variations"],
)
def test_an_expectation_naming_any_variation_passes(config: Path, picked: dict[str, str]) -> None:
    # whichever the bot picks, a test written for any variation passes: each one is checked
    result = run_tests(config, MENU_TEST.format(**picked))
    assert passes(result), result.stdout


def test_a_text_that_is_no_variation_fails_and_the_diff_lists_the_variations(
    config: Path,
) -> None:
    result = run_tests(
        config,
        """{ tests: [{ name: "menu", turns: [
          { user: "menu", expect: [
            { text: "Take one.", quick_replies: ["Okay", "No"] },
            { buttons: { text: "Plans?", buttons: ["Go"] } },
            { cards: [{ title: "Kit", subtitle: "Small" }, "Pro"] },
          ] },
        ] }] }""",
    )
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[2:5] == ["--- expected", "+++ actual", '-text: "Take one."  [Okay] [No]']
    sent_text = "Pick one." if '+text: "Pick one."' in lines[5] else "Choose one."
    sent_reply = "Yes" if "[Yes]" in lines[5] else "Sure"
    assert lines[5] == (
        f'+text: "{sent_text}"  [{sent_reply}] [No]  (one of "Choose one.", "Pick one.")'
        f'  ([{sent_reply}] one of "Sure", "Yes")'
    )
    # the other messages match whichever variation was sent: the same line on both sides
    assert lines[6:8] == [' buttons: "Plans?"  <Go>', ' cards: "Kit" ("Small") | "Pro"']


def test_a_french_test_accepts_only_the_french_variations(config: Path) -> None:
    both = run_tests(
        config,
        """{ tests: [
          { name: "one", locale: "fr", turns: [{ user: "???", expect: [{ text: "Pardon ?" }] }] },
          { name: "two", locale: "fr", turns: [{ user: "???", expect: [{ text: "Comment ?" }] }] },
        ] }""",
    )
    assert passes(both), both.stdout
    english = run_tests(
        config,
        """{ tests: [{ name: "english", locale: "fr", turns: [
          { user: "???", expect: [{ text: "Sorry?" }] },
        ] }] }""",
    )
    assert english.returncode == 1
    assert english.stdout.splitlines()[5].endswith('  (one of "Comment ?", "Pardon ?")')


@pytest.mark.parametrize("status", ["Found it: shipped.", "Got it: shipped."])
def test_variations_after_an_http_call_pass_too(config: Path, status: str) -> None:
    result = run_tests(
        config,
        f"""{{ tests: [{{ name: "order", http: [
          {{ url: "https://api.example.com/orders/A1", json: {{ status: "shipped" }} }},
        ], turns: [{{ user: "order", expect: [{{ text: "{status}" }}] }}] }}] }}""",
    )
    assert passes(result), result.stdout


# -- Conversation, for pytest -----------------------------------------------------------------
def test_a_conversation_takes_a_locale_and_tells_the_variations(config: Path) -> None:
    bot = build_bot(config, offline=True).bot
    french = Conversation(bot, locale="fr_CA")
    assert [message.text for message in french.say("salut").messages] == [
        "Bonjour !",
        "Votre langue : fr_CA",
    ]
    assert french.variations == {}  # one text each: nothing picked
    [sorry] = french.say("???").messages
    assert french.variations == {sorry.text: frozenset({"Pardon ?", "Comment ?"})}

    chat = Conversation(bot, http=[HttpAnswer(url="https://api.example.com/orders/A1", json={})])
    [found] = chat.say("order").messages
    assert chat.variations[found.text] == {"Found it: .", "Got it: ."}
    with pytest.raises(ValueError, match="'french' is no locale"):
        Conversation(bot, locale="french")
