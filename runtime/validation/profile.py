"""The `profile` of an account checked against what Meta accepts, before anything is sent.

The schema says which keys there are and their types; this says the rest: Meta's limits
(greeting 160 characters, 4 ice breakers, 20 menu items of 30-character titles, payloads of
1000), its three greeting placeholders, locales with a `default`, no nested menu, https only,
a menu only with getStarted. `profile_warnings` adds what needs the flows: a payload no
trigger handles.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from runtime.bot import Bot
from runtime.messenger.profile import (
    COMPOSER_KEY,
    DEFAULT_LOCALE,
    GREETING_PLACEHOLDERS,
    LOCALE_PATTERN,
    MENU_ITEM_TYPES,
    PROFILE_LIMITS,
    WEBVIEW_HEIGHT_RATIOS,
)
from runtime.validation.problems import Problem, ProblemCollector, Severity
from runtime.validation.schema import describe_value_type

_LOCALE: Final = re.compile(LOCALE_PATTERN)
_TEMPLATE_TAG: Final = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_PLACEHOLDERS: Final = ", ".join(GREETING_PLACEHOLDERS[:-1]) + f" and {GREETING_PLACEHOLDERS[-1]}"
_ICE_BREAKER_KEYS: Final = ("question", "payload")
_MENU_ITEM_KEYS: Final = ("title", "payload", "url", "webview_height_ratio", "type")
_NESTED: Final = (
    "nested menus are gone: Meta removed them from every API version on Aug 4, 2022 and "
    "refuses one with error #11; list up to 20 items at the top, each { title, payload } or "
    "{ title, url }"
)
_A_MENU_ITEM: Final = (
    '{ title: "Pricing", payload: "PRICING" } or { title: "Website", url: "https://..." }'
)


def check_profile(profile: Mapping[str, Any], *, file: str, path: str) -> list[Problem]:
    """Every problem of one `profile` (at `path`, such as `channels.messenger.profile`)."""
    found = ProblemCollector(file)
    limits = PROFILE_LIMITS
    get_started = profile.get("getStarted")
    if isinstance(get_started, str):
        _check_payload(found, get_started, f"{path}.getStarted")
    if profile.get("greeting") is not None:
        for where, text in _locales(found, profile["greeting"], f"{path}.greeting", str, "a text"):
            _check_greeting(found, text, where)
    if profile.get("iceBreakers") is not None:
        for where, items in _locales(
            found, profile["iceBreakers"], f"{path}.iceBreakers", list, "a list"
        ):
            _check_list(found, items, where, "ice breakers", limits.ice_breakers, _QUESTION)
            for number, item in enumerate(items):
                _check_ice_breaker(found, item, f"{where}.{number}")
    menu = profile.get("persistentMenu")
    if menu is not None:
        for where, items in _locales(found, menu, f"{path}.persistentMenu", list, "a list"):
            _check_list(found, items, where, "menu items", limits.menu_items, _A_MENU_ITEM)
            for number, item in enumerate(items):
                _check_menu_item(found, item, f"{where}.{number}")
        if not isinstance(get_started, str):
            state = "is null (deleted from the page)" if "getStarted" in profile else "is not set"
            found.problem(
                f"{path}.persistentMenu",
                f"needs getStarted, which {state}: Meta shows a persistent menu only on a page "
                'with a Get Started button; add getStarted: "GET_STARTED" (a payload one of '
                "your flows' triggers has)",
            )
    if profile.get(COMPOSER_KEY) is not None and menu is None:
        found.problem(
            f"{path}.{COMPOSER_KEY}",
            "Meta keeps it in the persistent menu, and this profile sets no menu: add a "
            "persistentMenu, or remove this key",
        )
    for number, domain in enumerate(profile.get("whitelistedDomains") or ()):
        if isinstance(domain, str) and not _is_https(domain):
            found.problem(
                f"{path}.whitelistedDomains.{number}",
                f"{domain!r} is not an https URL: Meta whitelists only https domains, such as "
                "https://example.com",
            )
    return found.problems


_QUESTION: Final = '{ question: "What are your hours?", payload: "HOURS" }'


def _locales(
    found: ProblemCollector, value: object, path: str, kind: type, shape: str
) -> Iterator[tuple[str, Any]]:
    """Each locale's value and its key path; a `{locale: ...}` mapping needs `default`."""
    if not isinstance(value, Mapping):
        yield path, value
        return
    if DEFAULT_LOCALE not in value:
        found.problem(
            path,
            f"has no `{DEFAULT_LOCALE}` locale: Meta needs one, for every locale not listed; "
            f"add {DEFAULT_LOCALE}: ... (a plain value, without locales, is the default)",
        )
    for locale, item in value.items():
        where = f"{path}.{locale}"
        if locale != DEFAULT_LOCALE and not _LOCALE.match(str(locale)):
            found.problem(
                where,
                f"unknown locale {locale!r}: Meta's locales are written like en_US, fr_FR or "
                f"es_LA, or `{DEFAULT_LOCALE}`",
            )
        elif not isinstance(item, kind):
            found.problem(where, f"expected {shape}, got {_kind(item)}")
        else:
            yield where, item


def _check_greeting(found: ProblemCollector, text: str, path: str) -> None:
    if not text.strip():
        found.problem(path, "must not be empty: it is the text people see before they write")
    if len(text) > PROFILE_LIMITS.greeting:
        found.problem(
            path,
            f"is {len(text)} characters; Meta takes at most {PROFILE_LIMITS.greeting}: shorten it",
        )
    for tag in _TEMPLATE_TAG.findall(text):
        if tag in GREETING_PLACEHOLDERS:
            continue
        message = (
            f"{tag} is not one of Meta's placeholders: the greeting is Meta's text, not a Jinja "
            f"template, and Meta fills in only {_PLACEHOLDERS}"
        )
        close = _placeholder_like(tag)
        if close is not None:
            message += f"; write {close}"
        found.problem(path, message)


def _placeholder_like(tag: str) -> str | None:
    """`{{ user.first_name }}` -> `{{user_first_name}}`: the placeholder meant, if clear."""
    name = re.sub(r"[^a-z]+", "_", tag.lower()).strip("_")
    for placeholder in GREETING_PLACEHOLDERS:
        wanted = placeholder.strip("{}")
        if name in (wanted, wanted.removeprefix("user_")):
            return placeholder
    return None


def _check_list(
    found: ProblemCollector, items: list[Any], path: str, what: str, most: int, example: str
) -> None:
    if not items:
        found.problem(
            path,
            f"is empty: list up to {most} {what} such as {example}, or set it to null to remove "
            "them from the page",
        )
    elif len(items) > most:
        found.problem(
            path,
            f"has {len(items)} {what}; Meta takes at most {most}: remove {len(items) - most}",
        )


def _check_ice_breaker(found: ProblemCollector, item: object, path: str) -> None:
    if not isinstance(item, Mapping):
        found.problem(path, f"expected an object such as {_QUESTION}, got {_kind(item)}")
        return
    _unknown_keys(found, item, path, _ICE_BREAKER_KEYS)
    question = item.get("question")
    if not isinstance(question, str) or not question.strip():
        found.problem(
            f"{path}.question",
            'is required: the question people tap, such as "What are your hours?"',
        )
    _required_payload(found, item, path, "a tap on the question sends it to the bot")


def _check_menu_item(found: ProblemCollector, item: object, path: str) -> None:
    if not isinstance(item, Mapping):
        found.problem(path, f"expected an object such as {_A_MENU_ITEM}, got {_kind(item)}")
        return
    if "call_to_actions" in item or "nested" in item or item.get("type") == "nested":
        found.problem(path, _NESTED)
        return
    _unknown_keys(found, item, path, _MENU_ITEM_KEYS)
    title = item.get("title")
    if not isinstance(title, str) or not title.strip():
        found.problem(f"{path}.title", "is required: the words of the menu item")
    elif len(title) > PROFILE_LIMITS.menu_title:
        found.problem(
            f"{path}.title",
            f"is {len(title)} characters; Meta takes at most {PROFILE_LIMITS.menu_title} in a "
            "menu item's title: shorten it",
        )
    kind = item.get("type")
    if kind is not None and kind not in MENU_ITEM_TYPES:
        found.problem(
            f"{path}.type",
            f"unknown value {kind!r}; expected postback or web_url (or leave it out: payload "
            "makes a postback, url a web_url)",
        )
    if "payload" in item and "url" in item:
        found.problem(
            path,
            "has both payload and url: a menu item either sends a payload to the bot or opens "
            "a web page; keep one",
        )
    elif "url" in item:
        _check_url(found, item, path, kind)
    else:
        if kind == "web_url":
            found.problem(f"{path}.url", "is required: a web_url item opens this https URL")
            return
        _required_payload(found, item, path, "a tap on the menu item sends it to the bot")
        if "webview_height_ratio" in item:
            found.problem(
                f"{path}.webview_height_ratio",
                "is only for an item that opens a url; remove it",
            )


def _check_url(found: ProblemCollector, item: Mapping[str, Any], path: str, kind: object) -> None:
    url = item["url"]
    if kind == "postback":
        found.problem(f"{path}.type", "is postback, which sends a payload: use web_url for a url")
    if not isinstance(url, str) or not _is_https(url):
        found.problem(
            f"{path}.url",
            f"{_shown(url)} is not an https URL: Meta opens only https pages from the menu",
        )
    ratio = item.get("webview_height_ratio")
    if ratio is not None and ratio not in WEBVIEW_HEIGHT_RATIOS:
        found.problem(
            f"{path}.webview_height_ratio",
            f"unknown value {_shown(ratio)}; expected one of {', '.join(WEBVIEW_HEIGHT_RATIOS)}",
        )


def _required_payload(
    found: ProblemCollector, item: Mapping[str, Any], path: str, why: str
) -> None:
    payload = item.get("payload")
    if not isinstance(payload, str) or not payload.strip():
        found.problem(
            f"{path}.payload",
            f"is required: {why}, and a flow's {{ payload: ... }} trigger answers it",
        )
        return
    _check_payload(found, payload, f"{path}.payload")


def _check_payload(found: ProblemCollector, payload: str, path: str) -> None:
    if len(payload) > PROFILE_LIMITS.payload:
        found.problem(
            path,
            f"is {len(payload)} characters; Meta takes at most {PROFILE_LIMITS.payload} in a "
            "payload: shorten it",
        )


def _unknown_keys(
    found: ProblemCollector, item: Mapping[str, Any], path: str, known: tuple[str, ...]
) -> None:
    for key in item:
        if key in known:
            continue
        message = "unknown key"
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        message += f"; did you mean `{close[0]}`?" if close else f"; expected {', '.join(known)}"
        found.problem(f"{path}.{key}", message)


def _is_https(url: str) -> bool:
    parts = urlsplit(url.strip())
    return parts.scheme == "https" and bool(parts.netloc)


def _shown(value: object) -> str:
    return repr(value) if isinstance(value, str) else _kind(value)


def _kind(value: object) -> str:
    return describe_value_type(value)


def profile_warnings(bot: Bot) -> list[Problem]:
    """A getStarted, ice-breaker or menu payload that no flow's trigger has: a tap on it would
    get the fallback's answer, or none. Once per written profile (accounts inherit one)."""
    problems: list[Problem] = []
    seen: set[str] = set()
    file = str(bot.config.path)
    for account in bot.accounts.values():
        path = account.profile_path
        if account.profile is None or path is None or path in seen:
            continue
        seen.add(path)
        for where, payload, tapped in _payloads(account.profile, path):
            if payload in bot.triggers.by_payload:
                continue
            fallback = bot.triggers.fallback
            goes = f"goes to the '{fallback}' flow" if fallback is not None else "gets no answer"
            trigger = f"{{ payload: {json.dumps(payload, ensure_ascii=False)} }}"
            message = (
                f"no flow's triggers have {trigger}, so a tap on {tapped} {goes}; add that "
                "trigger to the flow it should start"
            )
            problems.append(
                Problem(file=file, path=where, message=message, severity=Severity.WARNING)
            )
    return problems


def _payloads(profile: Mapping[str, Any], path: str) -> Iterator[tuple[str, str, str]]:
    """(key path, payload, what is tapped) of every payload the profile sends the bot."""
    if isinstance(profile.get("getStarted"), str):
        yield f"{path}.getStarted", profile["getStarted"], "Get Started"
    for key, tapped in (("iceBreakers", "this ice breaker"), ("persistentMenu", "this menu item")):
        value = profile.get(key)
        if value is None:
            continue
        locales = value.items() if isinstance(value, Mapping) else [(None, value)]
        for locale, items in locales:
            where = f"{path}.{key}" if locale is None else f"{path}.{key}.{locale}"
            for number, item in enumerate(items):
                if isinstance(item.get("payload"), str):
                    yield f"{where}.{number}.payload", item["payload"], tapped
