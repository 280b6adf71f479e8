"""Locales: how they are written, and which entry of a `{locale: ...}` map serves a person.

Meta writes a locale as language and region, `fr_FR`; a text of a flow may also be written
for a whole language, `fr`, and every map has a `default` entry. A person's locale (from
`vars.locale`, else their profile's `user.locale`) finds its entry in this order:

1. the locale itself: `fr_CA`;
2. its language alone: `fr`;
3. another region of that language, the first written: `fr_FR`;
4. `default`.

A locale written another way (`fr-ca`, `FR`) is read as Meta writes it (`fr_CA`, `fr`);
one that is no locale at all (`"french"`, a number) is taken as none: `default`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, TypeAlias

DEFAULT_LOCALE: Final = "default"
# Meta's own form, for the page's profile: a region is required there
META_LOCALE_PATTERN: Final = r"^[a-z]{2,3}_[A-Z]{2}$"  # en_US, fr_FR, es_LA
# a flow's texts may also name a language alone
TEXT_LOCALE_PATTERN: Final = r"^[a-z]{2,3}(_[A-Z]{2})?$"  # fr, fr_FR
# a text a person reads, as a file writes it: one text, variations, or a map by locale
WrittenText: TypeAlias = str | Sequence[str] | Mapping[str, "str | Sequence[str]"]
_LOOSE: Final = re.compile(r"([A-Za-z]{2,3})(?:[_-]([A-Za-z]{2}))?")


def normalize_locale(value: object) -> str | None:
    """`value` as Meta writes a locale (`fr-ca` -> `fr_CA`), or None if it is not one."""
    if not isinstance(value, str):
        return None
    return _normalized(value)


@functools.lru_cache(maxsize=1024)  # a turn reads the person's locale: a few hundred there are
def _normalized(value: str) -> str | None:
    found = _LOOSE.fullmatch(value.strip())
    if found is None:
        return None
    language, region = found.groups()
    return language.lower() if region is None else f"{language.lower()}_{region.upper()}"


def language_of(locale: str) -> str:
    """`fr` for `fr_CA` (and for `fr`)."""
    return locale.partition("_")[0]


def entry_for(locale: str | None, written: Iterable[str]) -> str:
    """The key of `written` (a map's locales, in the order written) that serves `locale`."""
    keys = tuple(written)
    if locale is None:
        return DEFAULT_LOCALE
    if locale in keys:
        return locale
    language = language_of(locale)
    if language in keys:
        return language
    for key in keys:
        if key != DEFAULT_LOCALE and language_of(key) == language:
            return key
    return DEFAULT_LOCALE
