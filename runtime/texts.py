"""Text: a text a person reads, compiled: its variations, by locale.

A flow writes such a text (a step's `text`, an `ask`, a quick reply's title...) one of
three ways, and a map's entries either of the first two:

    text: "Hi!"                                   one text, the `default` locale's
    text: ["Hi!", "Hello!"]                       variations: one is picked at random a send
    text: { default: "Hi!", fr: ["Salut !", "Bonjour !"] }

`Text.choices(locale)` gives the variations that serve a locale (runtime/locales.py says
which entry that is); the renderer picks one. A Text remembers where each template was
written (`fr.1`), so a check or a translator's export names the exact key path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from runtime.dialog.templates import Template
from runtime.locales import DEFAULT_LOCALE, WrittenText, entry_for


@dataclass(frozen=True, slots=True)
class Written:
    """One template of a Text: its locale, and its key path from the text's key (`fr.1`)."""

    locale: str
    suffix: str
    template: Template


class Text:
    """A text a person reads: variations by locale; `default` is always there."""

    __slots__ = ("_by_locale", "_served", "single", "written")

    def __init__(self, written: Sequence[Written]) -> None:
        by_locale: dict[str, list[Template]] = {}
        for entry in written:
            by_locale.setdefault(entry.locale, []).append(entry.template)
        if DEFAULT_LOCALE not in by_locale:
            raise ValueError("a Text needs a default locale")
        self.written = tuple(written)
        self._by_locale = {locale: tuple(found) for locale, found in by_locale.items()}
        # the common case, one text for everyone: no locale to look at, nothing to pick; an
        # attribute, not a property: it is read for every text sent
        self.single: Template | None = written[0].template if len(written) == 1 else None
        self._served: dict[str | None, tuple[Template, ...]] = {}

    @classmethod
    def plain(cls, template: Template) -> Text:
        """One text, the default locale's."""
        return cls([Written(DEFAULT_LOCALE, "", template)])

    @classmethod
    def compile(cls, value: WrittenText, template: Callable[[str, str], Template]) -> Text:
        """The Text `value` writes; `template(source, suffix)` compiles one of its strings
        (and reports a syntax error at the key path the suffix ends)."""
        written: list[Written] = []
        if isinstance(value, Mapping):
            entries = [(str(locale), item, f".{locale}") for locale, item in value.items()]
        else:
            entries = [(DEFAULT_LOCALE, value, "")]
        for locale, item, suffix in entries:
            if isinstance(item, str):
                written.append(Written(locale, suffix, template(item, suffix)))
            else:
                for number, source in enumerate(item):
                    where = f"{suffix}.{number}"
                    written.append(Written(locale, where, template(source, where)))
        if not any(entry.locale == DEFAULT_LOCALE for entry in written):
            # validation says so (runtime/validation/texts.py); the first entry stands in
            first = written[0] if written else Written(DEFAULT_LOCALE, "", template("", ""))
            written.insert(0, Written(DEFAULT_LOCALE, first.suffix, first.template))
        return cls(written)

    @property
    def locales(self) -> tuple[str, ...]:
        """The locales written, `default` among them, in the order written."""
        return tuple(self._by_locale)

    def choices(self, locale: str | None) -> tuple[Template, ...]:
        """The variations a person of `locale` (Meta's form, or None) may read."""
        served = self._served.get(locale)
        if served is None:
            served = self._by_locale[entry_for(locale, self._by_locale)]
            self._served[locale] = served  # bounded by the locales people have
        return served

    def in_locale(self, locale: str) -> tuple[Template, ...]:
        """The variations written for exactly `locale` (none if it is not written)."""
        return self._by_locale.get(locale, ())

    def __iter__(self) -> Iterator[Template]:
        """Every template, in the order written."""
        return (entry.template for entry in self.written)

    def __repr__(self) -> str:
        return f"Text({[(w.locale, w.template.source) for w in self.written]!r})"
