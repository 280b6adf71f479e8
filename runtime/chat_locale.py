"""The person's locale in `runtime chat`: read from `--locale` and `/locale`, and told.

The chat's person has the profile locale `--locale fr_FR` gives (their `user.locale`, as the
User Profile API would give it); `/locale fr_FR` changes it mid-chat, `/locale none` drops
it. The texts come in the language of `vars.locale` when a flow set it, else of the
profile's locale, else the `default` ones: `/locale` alone says which, and why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

from runtime.locales import TEXT_LOCALE_PATTERN, normalize_locale

NO_LOCALE: Final = "none"  # `/locale none`: the person's profile has no locale
SET_BY_A_FLOW: Final = "a flow set it, /reset forgets it"
_LOCALE: Final = re.compile(TEXT_LOCALE_PATTERN)


def read_locale(text: str) -> str:
    """`fr_FR` (or `fr`) as given; ValueError saying what a locale looks like otherwise."""
    value = text.strip()
    if _LOCALE.match(value):
        return value
    close = normalize_locale(value)
    hint = f" (did you mean {close}?)" if close is not None else ""
    raise ValueError(
        f"{value!r} is no locale{hint}: write one as Meta does, a language and region"
        " such as fr_FR, or a language alone such as fr"
    )


def describe_locale(
    variables: Mapping[str, object], user: Mapping[str, object], spoken: Sequence[str] = ()
) -> str:
    """`/locale`: the locale the bot's texts are chosen by, where it comes from (as the
    renderer reads it: `vars.locale`, else the profile's), and the config's `locales`."""
    profile = user.get("locale")
    written = variables.get("locale")
    if written:
        shown = normalize_locale(written)
        parts = [
            f"vars.locale is {written!r}, no locale: the bot reads its default texts"
            if shown is None
            else f"locale {shown}, from vars.locale: {SET_BY_A_FLOW}",
            f"the profile's is {profile or NO_LOCALE}",
        ]
    elif profile:
        parts = [f"locale {normalize_locale(profile) or profile}, from the profile"]
    else:
        parts = ["no locale: the bot reads its default texts", "/locale fr_FR gives you one"]
    if spoken:
        parts.append(f"the config's locales: {', '.join(spoken)}")
    return f"({'; '.join(parts)})"


def describe_change(variables: Mapping[str, object], locale: str | None) -> str:
    """What `/locale LOCALE` (None: `/locale none`) did, and whether `vars.locale` wins."""
    said = f"profile locale: {locale}" if locale else "no profile locale"
    written = variables.get("locale")
    if written:
        return f"({said}; but vars.locale is {written}, which wins: {SET_BY_A_FLOW})"
    if locale is None:
        return f"({said}: the bot reads its default texts)"
    return f"({said})"
