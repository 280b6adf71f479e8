"""`runtime chat --locale` and `/locale`: trying a language, through a real subprocess."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.testing.quickstart import run_runtime

CONFIG = """{
  channels: { messenger: { pageAccessToken: "t", verifyToken: "v", dmPolicy: "open" } },
  locales: ["en_US", "fr_FR"],
}"""
FLOWS = """{
  flows: {
    hello: {
      triggers: [{ keywords: ["hi", "salut"] }],
      steps: [{
        text: { default: "Hello!", fr: "Bonjour !", fr_FR: "Bonjour de Paris !" },
        quick_replies: [{ title: { default: "English", fr_FR: "Anglais" }, payload: "ENGLISH" }],
      }],
    },
    english: {
      triggers: [{ keywords: ["english"] }, { payload: "ENGLISH" }],
      steps: [
        { set: { locale: "en_US" } },
        { text: { default: "English it is.", fr_FR: "Anglais ?" } },
      ],
    },
    fallback: { steps: [{ text: { default: "Sorry?", fr_FR: "Pardon ?" } }] },
  },
}"""
HELLO = "bot: Hello!"
BONJOUR = "bot: Bonjour de Paris !"
ENGLISH = ["  1) English"]
ANGLAIS = ["  1) Anglais"]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "hello.json5").write_text(FLOWS, encoding="utf-8")
    path = tmp_path / "config.json5"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def run_chat(
    config: Path, *lines: str, args: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return run_runtime("chat", "-c", str(config), *args, input="".join(f"{x}\n" for x in lines))


def chat(config: Path, *lines: str, args: tuple[str, ...] = ()) -> list[str]:
    result = run_chat(config, *lines, args=args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout.splitlines()


def test_locale_gives_the_person_that_profile_locale(config: Path) -> None:
    lines = chat(config, "hi", args=("--locale", "fr_FR"))
    assert "as chat-local (profile: locale=fr_FR)" in lines[0]
    assert lines[1:] == [BONJOUR, *ANGLAIS]


def test_without_a_locale_the_texts_are_the_default_ones(config: Path) -> None:
    lines = chat(config, "hi", "/locale")
    assert lines[1:] == [
        HELLO,
        *ENGLISH,
        "(no locale: the bot reads its default texts; /locale fr_FR gives you one;"
        " the config's locales: en_US, fr_FR)",
    ]


def test_slash_locale_switches_mid_chat_and_says_where_the_locale_comes_from(
    config: Path,
) -> None:
    lines = chat(config, "hi", "/locale fr_CA", "hi", "/locale", "/locale none", "hi")
    assert lines[1:] == [
        HELLO,
        *ENGLISH,
        "(profile locale: fr_CA)",
        "bot: Bonjour !",  # fr_CA reads the `fr` text; the title has only fr_FR: it is used
        *ANGLAIS,
        "(locale fr_CA, from the profile; the config's locales: en_US, fr_FR)",
        "(no profile locale: the bot reads its default texts)",
        HELLO,
        *ENGLISH,
    ]


def test_vars_locale_set_by_a_flow_wins_over_the_profile_and_slash_locale_says_so(
    config: Path,
) -> None:
    lines = chat(
        config,
        *("hi", "1", "/locale", "/locale fr_CA", "hi", "/reset", "hi"),
        args=("--locale", "fr_FR"),
    )
    assert lines[1:] == [
        BONJOUR,
        *ANGLAIS,
        "bot: English it is.",  # the flow set vars.locale, then spoke
        "(locale en_US, from vars.locale: a flow set it, /reset forgets it;"
        " the profile's is fr_FR; the config's locales: en_US, fr_FR)",
        "(profile locale: fr_CA; but vars.locale is en_US, which wins:"
        " a flow set it, /reset forgets it)",
        HELLO,
        *ENGLISH,
        "(session forgotten: the bot sees you as a new user)",
        "bot: Bonjour !",  # the profile's fr_CA, now that vars.locale is forgotten
        *ANGLAIS,
    ]


def test_a_wrong_slash_locale_says_what_a_locale_looks_like_and_changes_nothing(
    config: Path,
) -> None:
    lines = chat(config, "/locale french", "/locale fr-fr", "hi", args=("--locale", "fr_FR"))
    assert lines[1:] == [
        "('french' is no locale: write one as Meta does, a language and region such as"
        " fr_FR, or a language alone such as fr)",
        "('fr-fr' is no locale (did you mean fr_FR?): write one as Meta does, a language and"
        " region such as fr_FR, or a language alone such as fr)",
        BONJOUR,
        *ANGLAIS,
    ]


def test_help_lists_slash_locale(config: Path) -> None:
    lines = chat(config, "/help")
    assert any(line.startswith("  /locale [LOCALE]") for line in lines)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--locale", "french"),
            "runtime chat: error: argument --locale: 'french' is no locale: write one as Meta"
            " does, a language and region such as fr_FR, or a language alone such as fr",
        ),
        (
            ("--locale", "FR_fr"),
            "runtime chat: error: argument --locale: 'FR_fr' is no locale (did you mean fr_FR?):"
            " write one as Meta does, a language and region such as fr_FR, or a language alone"
            " such as fr",
        ),
        (
            ("--user", "locale=fr-FR"),
            "runtime chat: error: argument --user: 'fr-FR' is no locale (did you mean fr_FR?):"
            " write one as Meta does, a language and region such as fr_FR, or a language alone"
            " such as fr",
        ),
        (
            ("--locale", "fr_FR", "--user", "locale=en_US"),
            "runtime chat: --locale fr_FR and --user locale=en_US disagree: a person has one"
            " profile locale; give it once",
        ),
    ],
)
def test_a_wrong_locale_exits_2_saying_what_is_wrong(
    config: Path, args: tuple[str, ...], message: str
) -> None:
    result = run_chat(config, "hi", args=args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == message
