"""Locale checks: with a top-level `locales`, every text a person reads is written for each.

`locales: ["en_US", "fr_FR"]` lists the languages the bot speaks, the first being the one its
`default` texts are written in. A text that would give a person of another listed locale its
`default` is an error: they would read the wrong language. The texts: every step's (runtime/
step_fields.py finds them), the pairingMessage and approvedMessage the config writes (each
once, where it is written: accounts may inherit one), and the page profile's greeting,
iceBreakers and persistentMenu. The built-in pairing and approval texts are English, and
exempt.

Whether a flow's text has a locale is the fallback rule itself (runtime/locales.py's
`entry_for`): an `fr` entry covers fr_FR and fr_CA. The profile is Meta's, and Meta has no
such fallback: there a locale is covered by its own entry only (`default` by the first one).

A text written for a locale the bot does not list, nor one of the same language, is a warning:
nothing checks that the bot's other texts have it. Without `locales` nothing is checked: a bot
may be translated in part, which is what the fallback is for.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Final

from runtime.bot import CompiledFlow
from runtime.config.model import Config
from runtime.locales import DEFAULT_LOCALE, entry_for, language_of
from runtime.step_fields import step_texts
from runtime.texts import Text
from runtime.validation.problems import Problem, Severity

# the page profile's texts by locale: (key, what one locale's value is called, an example)
_PROFILE_TEXTS: Final = (
    ("greeting", "greeting", '"..."'),
    ("iceBreakers", "ice breakers", '[{ question: "...", payload: "..." }]'),
    ("persistentMenu", "menu", '[{ title: "...", payload: "..." }]'),
)


def locale_problems(
    config: Config, flows: Iterable[CompiledFlow], own_texts: Mapping[str, Text]
) -> list[Problem]:
    """Every text of `flows`, `own_texts` (the accounts' pairingMessage and approvedMessage,
    compiled, by the key path they are written at) and the accounts' profiles that lacks one
    of `config.locales`, or is written for a locale the bot does not list."""
    problems = _duplicates(config)
    if not config.locales:
        return problems
    locales = _Locales(config.locales)
    problems.extend(_grouped_strays(_locale_problems(config, flows, own_texts, locales)))
    return problems


def _locale_problems(
    config: Config,
    flows: Iterable[CompiledFlow],
    own_texts: Mapping[str, Text],
    locales: _Locales,
) -> list[Problem]:
    problems: list[Problem] = []
    for flow in flows:
        for step in flow.steps:
            for path, text in step_texts(step):
                problems.extend(locales.text_problems(step.source.file, path, text))
    file = str(config.path)
    for path, text in own_texts.items():
        problems.extend(locales.text_problems(file, path, text))
    seen: set[str] = set()
    for account in config.accounts.values():
        profile_path = account.profile_path
        if account.profile is not None and profile_path is not None and profile_path not in seen:
            seen.add(profile_path)  # accounts inherit one profile: its problems once
            problems.extend(locales.profile_problems(file, profile_path, account.profile))
    return problems


def _grouped_strays(problems: Iterable[Problem]) -> list[Problem]:
    """One warning a file for a locale the bot does not list, however many texts have it
    (a bot written for de_DE everywhere would warn at each text)."""
    kept: list[Problem] = []
    strays: dict[tuple[str, str], list[Problem]] = {}
    for problem in problems:
        if problem.is_error:
            kept.append(problem)
            continue
        locale = problem.path.rpartition(".")[2]
        found = strays.setdefault((problem.file, locale), [])
        if not found:
            kept.append(problem)
        found.append(problem)
    for number, problem in enumerate(kept):
        if problem.is_error:
            continue
        more = len(strays[(problem.file, problem.path.rpartition(".")[2])]) - 1
        if more:
            message = f"{problem.message} (and {more} more text{'s' * (more > 1)} of this file)"
            kept[number] = replace(problem, message=message)
    return kept


class _Locales:
    """The config's `locales`: which a text must have, and which languages the bot speaks."""

    def __init__(self, locales: tuple[str, ...]) -> None:
        self.listed = frozenset(locales)
        # the first is what `default` texts are written in (listed twice: once)
        self.others = tuple(dict.fromkeys(loc for loc in locales[1:] if loc != locales[0]))
        self.languages = frozenset(language_of(locale) for locale in locales)

    def text_problems(self, file: str, path: str, text: Text) -> Iterator[Problem]:
        """A flow's or a pairing message's text: the fallback rule decides what it has."""
        written = text.locales
        for locale in self.others:
            if entry_for(locale, written) != DEFAULT_LOCALE:
                continue
            language = language_of(locale)
            fix = (
                f'add {locale}: "..." beside default'
                if _is_map(text)
                else f'write it {{ default: <{_what_it_is(text)}>, {locale}: "..." }}'
            )
            yield _error(
                file,
                path,
                f"has no {locale} text (locales lists {locale}); {fix}"
                f' (or {language}: "..." for every {language}_* locale)',
            )
        yield from self._strays(file, path, written)

    def profile_problems(
        self, file: str, path: str, profile: Mapping[str, object]
    ) -> Iterator[Problem]:
        """The greeting, ice breakers and menu: Meta serves a locale its own entry, else the
        default (a locale without a region, which Meta never sends, takes any of its
        language)."""
        for key, noun, example in _PROFILE_TEXTS:
            value = profile.get(key)
            if value is None:  # not managed, or deleted from the page
                continue
            written = tuple(value) if isinstance(value, Mapping) else (DEFAULT_LOCALE,)
            where = f"{path}.{key}"
            for locale in self.others:
                if _profile_has(locale, written):
                    continue
                fix = (
                    f"add {locale}: {example} beside default"
                    if isinstance(value, Mapping)
                    else f"write it {{ default: <the {noun} it is now>, {locale}: {example} }}"
                )
                yield _error(
                    file,
                    where,
                    f"has no {locale} {noun} (locales lists {locale}), and Meta has no fallback"
                    f" by language: people in {locale} would see the default; {fix}",
                )
            yield from self._strays(file, where, written)

    def _strays(self, file: str, path: str, written: Iterable[str]) -> Iterator[Problem]:
        for locale in written:
            if (
                locale == DEFAULT_LOCALE
                or locale in self.listed
                or language_of(locale) in self.languages
            ):
                continue
            yield Problem(
                file=file,
                path=f"{path}.{locale}",
                message=(
                    f"{locale} is not in locales, so nothing checks that every text has it;"
                    " add it to locales or remove it"
                ),
                severity=Severity.WARNING,
            )


def _profile_has(locale: str, written: Collection[str]) -> bool:
    if locale in written:
        return True
    return "_" not in locale and any(language_of(key) == locale for key in written)


def _what_it_is(text: Text) -> str:
    return "the text it is now" if len(text.written) == 1 else "the variations it is now"


def _is_map(text: Text) -> bool:
    """Whether the text is written `{ default: ..., fr: ... }` (not "Hi" nor ["Hi", ...])."""
    suffix = text.written[0].suffix
    return bool(suffix) and not suffix[1:].partition(".")[0].isdigit()


def _duplicates(config: Config) -> list[Problem]:
    """A locale listed twice in `locales`: at the second."""
    first: dict[str, int] = {}
    problems: list[Problem] = []
    for number, locale in enumerate(config.locales):
        if locale in first:
            message = f"{locale} is listed twice (first at locales.{first[locale]}); remove one"
            problems.append(_error(str(config.path), f"locales.{number}", message))
        first.setdefault(locale, number)
    return problems


def _error(file: str, path: str, message: str) -> Problem:
    return Problem(file=file, path=path, message=message)
