"""The texts a person reads of one bot, each as its file writes it, with the file and key path.

Flow texts are found by the compiled steps (runtime/step_fields.py's walk), so the catalog
holds exactly what the bot sends; config texts are the pairing and approval messages and the
page profile's greeting, ice breakers and menu, wherever the config writes them (on the channel,
which accounts inherit, or on an account). Each `SourceText` reads the three ways a text is
written (a string, variations, a map by locale) and the profile's lists, so the export and
the import see one shape: a `default` and a value by locale.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from runtime.bot import CompiledFlow
from runtime.compiler import compile_bot
from runtime.config.accounts import CHANNEL_PATH
from runtime.config.json5_edit import value_at
from runtime.config.json5file import Document, locate
from runtime.config.load import check_config
from runtime.config.model import ACCOUNT_TEXT_KEYS
from runtime.errors import ConfigError
from runtime.flowfiles import read_flow_files
from runtime.locales import DEFAULT_LOCALE, META_LOCALE_PATTERN, entry_for
from runtime.step_fields import step_texts


class TextKind(StrEnum):
    """How a text is written, and so what a translation of it is."""

    TEXT = "text"  # a flow's text, a pairingMessage...: a string, variations, or a map of them
    GREETING = "greeting"  # the profile's: a string, or a map of strings by Meta locale
    ICE_BREAKERS = "iceBreakers"  # [{ question, payload }], or a map of such lists
    MENU = "persistentMenu"  # [{ title, payload | url }], or a map of such lists

    @property
    def in_profile(self) -> bool:
        """Meta's profile: a locale needs its region (fr_FR) and covers only itself."""
        return self is not TextKind.TEXT

    @property
    def item_text(self) -> str | None:
        """The key of a list item a person reads (ice breakers, menu); None: not a list."""
        return {TextKind.ICE_BREAKERS: "question", TextKind.MENU: "title"}.get(self)


_PROFILE_KINDS = (TextKind.GREETING, TextKind.ICE_BREAKERS, TextKind.MENU)


@dataclass(frozen=True, slots=True)
class SourceText:
    """One text of the bot: where it is written (`name`, the file relative to the config's
    folder, and `path`, its key path) and how (`written`, the value as parsed)."""

    name: str
    path: str
    kind: TextKind
    written: object

    @property
    def locales(self) -> tuple[str, ...]:
        """The entries written, `default` among them, in the order written."""
        if isinstance(self.written, Mapping):
            return tuple(str(key) for key in self.written)
        return (DEFAULT_LOCALE,)

    @property
    def default(self) -> object:
        """The `default` text (a string or a list: variations, questions, titles)."""
        return self.text_of(DEFAULT_LOCALE)

    def text_of(self, entry: str) -> object:
        """The text of one entry (`default`, `fr_FR`) as a translator reads it; None when
        the text has no such entry."""
        field = self.kind.item_text
        if field is not None:
            items = self.items_of(entry)
            return None if items is None else [item.get(field) for item in items]
        if isinstance(self.written, Mapping):
            return self.written.get(entry)
        return self.written if entry == DEFAULT_LOCALE else None

    def items_of(self, entry: str) -> list[Mapping[str, object]] | None:
        """Ice breakers and menu items of one entry, whole (payloads, urls...)."""
        value = self.written.get(entry) if isinstance(self.written, Mapping) else None
        if not isinstance(self.written, Mapping) and entry == DEFAULT_LOCALE:
            value = self.written
        if not isinstance(value, list):
            return None
        return [item for item in value if isinstance(item, Mapping)]

    def serving(self, locale: str) -> str:
        """The entry a person of `locale` reads today: the fallback rule of runtime/locales.py
        for a text; for the profile, Meta's: the locale itself, else `default`."""
        if self.kind.in_profile:
            return locale if locale in self.locales else DEFAULT_LOCALE
        return entry_for(locale, self.locales)

    def takes(self, locale: str) -> bool:
        """Whether the text can be written for `locale`: the profile needs a region."""
        return not self.kind.in_profile or re.fullmatch(META_LOCALE_PATTERN, locale) is not None


@dataclass(frozen=True, slots=True)
class Catalog:
    """Every text of one bot, file by file in the order the bot reads them."""

    config_path: Path
    documents: Mapping[str, Document]  # by name, relative to the config's folder
    texts: tuple[SourceText, ...]
    locales: tuple[str, ...]  # the config's `locales`

    @property
    def config_name(self) -> str:
        return self.config_path.name

    def find(self, name: str, path: str) -> SourceText | None:
        return next((text for text in self.texts if text.name == name and text.path == path), None)


def read_catalog(config_path: Path) -> Catalog:
    """The texts of the bot `config_path` configures.

    Raises ConfigError with every problem when the bot does not validate, as `runtime
    validate --offline` would, but for a text that lacks one of `locales`: writing those
    is what a translator's export is for.
    """
    checked = check_config(config_path, offline=True)
    problems = list(checked.problems)
    documents: list[Document] = []
    if checked.flow_sources is not None:
        documents, found = read_flow_files(config_path, checked.flow_sources)
        problems.extend(found)
    bot = None
    if checked.config is not None:
        bot, compiled = compile_bot(dataclasses.replace(checked.config, locales=()), documents)
        problems.extend(compiled)
    located = locate(problems, checked.document, *documents)
    errors = [problem for problem in located if problem.is_error]
    if bot is None or errors:
        raise ConfigError(errors)
    base = config_path.parent
    by_name = {_name(document.path, base): document for document in documents}
    config_name = _name(config_path, base)
    by_name[config_name] = checked.document
    texts = [
        *_flow_texts(documents, bot.flows.values(), base),
        *_config_texts(checked.document.data, config_name),
    ]
    return Catalog(
        config_path=config_path,
        documents=by_name,
        texts=tuple(texts),
        locales=checked.config.locales if checked.config else (),
    )


def _name(path: Path, base: Path) -> str:
    """How the export names a file: relative to the config's folder, with `/`."""
    return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(base))).as_posix()


def _flow_texts(
    documents: Sequence[Document], flows: Iterable[CompiledFlow], base: Path
) -> Iterator[SourceText]:
    """Every text of every step, file by file, each as the file writes it."""
    compiled = list(flows)
    for document in documents:
        name = _name(document.path, base)
        for flow in compiled:
            if flow.file != document.display:
                continue
            for step in flow.steps:
                for path, _ in step_texts(step):
                    written = value_at(document.data, path)
                    yield SourceText(name, path, TextKind.TEXT, written)


def _config_texts(data: Mapping[str, object], name: str) -> Iterator[SourceText]:
    """The pairing and approval messages and the profile texts, where the config writes them:
    on the channel (accounts inherit them) and on each account."""
    accounts = _mapping(data, f"{CHANNEL_PATH}.accounts")
    places = [CHANNEL_PATH, *(f"{CHANNEL_PATH}.accounts.{account}" for account in accounts)]
    for place in places:
        block = _mapping(data, place)
        for key in ACCOUNT_TEXT_KEYS:
            if block.get(key) is not None:
                yield SourceText(name, f"{place}.{key}", TextKind.TEXT, block[key])
        profile = _mapping(data, f"{place}.profile")
        for kind in _PROFILE_KINDS:
            if profile.get(kind.value) is not None:
                path = f"{place}.profile.{kind.value}"
                yield SourceText(name, path, kind, profile[kind.value])


def _mapping(data: Mapping[str, object], path: str) -> Mapping[str, object]:
    try:
        found = value_at(data, path)
    except KeyError:
        return {}
    return found if isinstance(found, Mapping) else {}
