"""Reading a filled-in export: its locale and, for each text, the `default` it was made from
and the translation. Only its shape is checked here; writer.py checks it against the bot."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from runtime.config.json5file import Document, locate, read_json5
from runtime.errors import ConfigError
from runtime.flowfiles import display_path
from runtime.locales import DEFAULT_LOCALE, TEXT_LOCALE_PATTERN
from runtime.validation.problems import Problem
from runtime.validation.schema import describe_value_type

_SHAPE = 'as the export writes it: texts: { "flows/welcome.json5": { "flows.welcome...": {...} } }'


@dataclass(frozen=True, slots=True)
class Translation:
    """One text of the import: its file and key path, and its entry as written
    (`{ default: ..., fr_FR: ..., from?: ... }`)."""

    name: str
    path: str
    entry: Mapping[str, object]

    @property
    def where(self) -> str:
        """Its key path in the import file."""
        return f"texts.{self.name}.{self.path}"


@dataclass(frozen=True, slots=True)
class Translations:
    document: Document  # the import file, whose problems are located in it
    locale: str
    items: tuple[Translation, ...]

    @property
    def file(self) -> str:
        return self.document.display


def is_text_locale(value: object) -> bool:
    """A locale a text may be written for: `fr_FR` as Meta writes it, or `fr`."""
    return isinstance(value, str) and re.fullmatch(TEXT_LOCALE_PATTERN, value) is not None


def read_translations(path: Path) -> Translations:
    """The translations of an import file; ConfigError with every problem of its shape."""
    document = read_json5(path, display=display_path(path))
    file, data = document.display, document.data
    locale = data.get("locale")
    problems = [Problem(file=file, path="locale", message=_locale_problem(locale))]
    if is_text_locale(locale):
        problems = []
    texts = data.get("texts")
    if not isinstance(texts, Mapping):
        got = "is missing" if texts is None else f"is {describe_value_type(texts)}"
        problems.append(Problem(file=file, path="texts", message=f"{got}; {_SHAPE}"))
        texts = {}
    items: list[Translation] = []
    for name, entries in texts.items():
        if not isinstance(entries, Mapping):
            got = f"is {describe_value_type(entries)}"
            problems.append(Problem(file=file, path=f"texts.{name}", message=f"{got}; {_SHAPE}"))
            continue
        for text_path, entry in entries.items():
            item = Translation(
                str(name), str(text_path), entry if isinstance(entry, Mapping) else {}
            )
            problem = _entry_problem(entry, locale if isinstance(locale, str) else None)
            if problem:
                problems.append(Problem(file=file, path=item.where, message=problem))
            else:
                items.append(item)
    if problems:
        raise ConfigError(locate(problems, document))
    return Translations(document=document, locale=str(locale), items=tuple(items))


def _locale_problem(locale: object) -> str:
    got = "is missing" if locale is None else f"is {describe_value_type(locale)}"
    if isinstance(locale, str):
        got = f"is {locale!r}, which is not a locale"
    return (
        f"{got}; expected the locale of the texts, as Meta writes it (fr_FR) or a language"
        " alone (fr)"
    )


def _entry_problem(entry: object, locale: str | None) -> str | None:
    if not isinstance(entry, Mapping) or DEFAULT_LOCALE not in entry:
        got = describe_value_type(entry) if not isinstance(entry, Mapping) else "no default"
        return f"expected {{ default: ..., {locale or 'fr_FR'}: ... }} as exported, got {got}"
    if locale is not None and is_text_locale(locale) and locale not in entry:
        return (
            f"has no {locale} key: write the translation there, or {locale}: null to leave"
            " the text untranslated"
        )
    return None
