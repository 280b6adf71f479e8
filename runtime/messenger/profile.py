"""The Messenger Profile in Meta's wire format: the config's `profile` as Meta's field values,
a GET answer read back, and the two compared as Meta means them.

The config writes camelCase keys, a plain value for the `default` locale or a `{locale: ...}`
mapping; Meta takes `get_started`, `greeting`, `ice_breakers` (always sent in the per-locale
format, which needs `default`), `persistent_menu` (one entry per locale, each with its
`composer_input_disabled`) and `whitelisted_domains`. A key set to `null` is a field to
DELETE. Meta's limits are here too (FACTS-2026 §1), for validation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from runtime.messenger.limits import LIMITS

GET_STARTED: Final = "get_started"
GREETING: Final = "greeting"
ICE_BREAKERS: Final = "ice_breakers"
PERSISTENT_MENU: Final = "persistent_menu"
WHITELISTED_DOMAINS: Final = "whitelisted_domains"

# the config's key of each field, in the order fields are shown and sent
FIELD_KEYS: Final = {
    GET_STARTED: "getStarted",
    GREETING: "greeting",
    ICE_BREAKERS: "iceBreakers",
    PERSISTENT_MENU: "persistentMenu",
    WHITELISTED_DOMAINS: "whitelistedDomains",
}
COMPOSER_KEY: Final = "composerInputDisabled"  # Meta keeps it inside persistent_menu
SYNC_KEY: Final = "sync"

DEFAULT_LOCALE: Final = "default"
LOCALE_PATTERN: Final = r"^[a-z]{2,3}_[A-Z]{2}$"  # en_US, fr_FR, es_LA
GREETING_PLACEHOLDERS: Final = ("{{user_first_name}}", "{{user_last_name}}", "{{user_full_name}}")
MENU_ITEM_TYPES: Final = ("postback", "web_url")
WEBVIEW_HEIGHT_RATIOS: Final = ("compact", "tall", "full")
_META_DEFAULT_RATIO: Final = "full"  # what a web_url item without one opens as


@dataclass(frozen=True, slots=True)
class ProfileLimits:
    """Meta's limits of the Messenger Profile (2026)."""

    greeting: int = 160  # characters of one locale's text
    ice_breakers: int = 4  # questions, per locale
    menu_items: int = 20  # per locale; nested menus are gone since Aug 4, 2022
    menu_title: int = 30
    payload: int = LIMITS.payload


PROFILE_LIMITS: Final = ProfileLimits()


def by_locale(value: object) -> dict[str, Any]:
    """A field as written, `{locale: value}`: a plain value is the `default` locale's."""
    if isinstance(value, Mapping):
        return {str(locale): item for locale, item in value.items()}
    return {DEFAULT_LOCALE: value}


def wanted_fields(profile: Mapping[str, Any]) -> dict[str, Any]:
    """Meta's value of every field the profile mentions; None for a field to delete.

    `{getStarted: "GO", greeting: "Hi!", whitelistedDomains: null}` ->
    `{"get_started": {"payload": "GO"}, "greeting": [{"locale": "default", "text": "Hi!"}],
    "whitelisted_domains": None}`.
    """
    wanted: dict[str, Any] = {}
    for field, key in FIELD_KEYS.items():
        if key not in profile:
            continue
        value = profile[key]
        wanted[field] = None if value is None else _to_meta(field, value, profile)
    return wanted


def _to_meta(field: str, value: Any, profile: Mapping[str, Any]) -> Any:
    if field == GET_STARTED:
        return {"payload": value}
    if field == GREETING:
        return [{"locale": locale, "text": text} for locale, text in by_locale(value).items()]
    if field == ICE_BREAKERS:
        return [
            {
                "locale": locale,
                "call_to_actions": [
                    {"question": item["question"], "payload": item["payload"]} for item in items
                ],
            }
            for locale, items in by_locale(value).items()
        ]
    if field == PERSISTENT_MENU:
        disabled = profile.get(COMPOSER_KEY) is True
        return [
            {
                "locale": locale,
                "composer_input_disabled": disabled,
                "call_to_actions": [_menu_item(item) for item in items],
            }
            for locale, items in by_locale(value).items()
        ]
    return list(value)  # whitelisted_domains


def _menu_item(item: Mapping[str, Any]) -> dict[str, Any]:
    if "url" in item:
        meta: dict[str, Any] = {"type": "web_url", "title": item["title"], "url": item["url"]}
        if "webview_height_ratio" in item:
            meta["webview_height_ratio"] = item["webview_height_ratio"]
        return meta
    return {"type": "postback", "title": item["title"], "payload": item["payload"]}


def read_profile(answer: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a GET answer holds: every element of `data` merged (Meta may send one
    object with every field or one object per field); `[]` is a page with nothing set."""
    fields: dict[str, Any] = {}
    data = answer.get("data")
    for element in data if isinstance(data, list) else []:
        if isinstance(element, Mapping):
            fields.update({str(key): value for key, value in element.items()})
    return fields


def normalized(field: str, value: Any) -> Any:
    """A field's value in a form where equal means "the same to a person on Messenger".

    None stays None (not set). Locales become `{locale: ...}` (their order does not matter);
    ice breakers in either of Meta's formats become `{locale: ((question, payload), ...)}`;
    a menu item keeps only what it shows and does (Meta adds defaults such as
    `webview_height_ratio: "full"`); domains become a set of lower-case origins.
    """
    if value is None:
        return None
    if field == GET_STARTED:
        return value.get("payload") if isinstance(value, Mapping) else value
    if field == GREETING:
        return {str(item.get("locale")): item.get("text") for item in _mappings(value)}
    if field == ICE_BREAKERS:
        return _ice_breakers(value)
    if field == PERSISTENT_MENU:
        return {
            str(menu.get("locale")): (
                menu.get("composer_input_disabled") is True,
                tuple(_shown_item(item) for item in _mappings(menu.get("call_to_actions"))),
            )
            for menu in _mappings(value)
        }
    if field == WHITELISTED_DOMAINS:
        return frozenset(comparable_url(str(domain)) for domain in value or ())
    return value


def same(field: str, page: Any, wanted: Any) -> bool:
    """Whether the page's value of `field` already is the wanted one (None: not set)."""
    return bool(normalized(field, page) == normalized(field, wanted))


def comparable_url(url: str) -> str:
    """`HTTPS://Example.com/` -> `https://example.com`: the case Meta ignores and the slash it
    adds left out."""
    parts = urlsplit(url.strip())
    text = f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"
    return (
        text
        + (f"?{parts.query}" if parts.query else "")
        + (f"#{parts.fragment}" if parts.fragment else "")
    )


def _ice_breakers(value: Any) -> dict[str, tuple[tuple[Any, Any], ...]]:
    items = _mappings(value)
    if items and all("call_to_actions" in item for item in items):  # the per-locale format
        return {str(item.get("locale")): _questions(item.get("call_to_actions")) for item in items}
    return {DEFAULT_LOCALE: _questions(items)}  # the old format: the default locale's


def _questions(items: Any) -> tuple[tuple[Any, Any], ...]:
    return tuple((item.get("question"), item.get("payload")) for item in _mappings(items))


def _shown_item(item: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    kept = {"type": item.get("type"), "title": item.get("title")}
    if item.get("type") == "web_url":
        kept["url"] = comparable_url(str(item.get("url")))
        ratio = item.get("webview_height_ratio", _META_DEFAULT_RATIO)
        if ratio != _META_DEFAULT_RATIO:
            kept["webview_height_ratio"] = ratio
    else:
        kept["payload"] = item.get("payload")
    return tuple(kept.items())


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [item for item in value if isinstance(item, Mapping)]
    return []
