"""Profile sync: make a page's Messenger Profile what the config says, and its webhook
subscription what the bot needs, writing only what differs.

For one account: GET the profile fields its `profile` mentions, compare them field by field
(`messenger/profile.py`), GET `me/subscribed_apps`; then, when writing, one POST of the
changed fields, one DELETE `{"fields": [...]}` of those the config sets to null, and one POST
of the webhook fields the app lacks. A field the config does not mention is left alone.
Meta allows 10 profile calls per 10 minutes a page: nothing that is already right is written,
so a second run is two GETs and "up to date". Each write is idempotent and the POST comes
before the DELETE, so a run that fails half-way is finished by the next one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from runtime.config.model import Account
from runtime.errors import GraphAPIError, RateLimitError
from runtime.messenger.endpoints import MESSENGER_PROFILE, SUBSCRIBED_APPS
from runtime.messenger.graph import GraphClient
from runtime.messenger.profile import (
    DEFAULT_LOCALE,
    GET_STARTED,
    PERSISTENT_MENU,
    WHITELISTED_DOMAINS,
    normalized,
    read_profile,
    same,
    wanted_fields,
)

# the webhook fields a bot needs: messages, taps, opt-ins, m.me referrals, and the thread
# handed over (or events while it is with someone else)
WEBHOOK_FIELDS: Final = (
    "messages",
    "messaging_postbacks",
    "messaging_optins",
    "messaging_referrals",
    "messaging_handovers",
    "standby",
)
_HINTS: Final = {
    190: "the page token expired or was revoked: regenerate it in the App Dashboard",
    10: "the page token lacks a permission: pages_messaging for the profile, "
    "pages_manage_metadata for the webhook subscription",
    200: "the page token lacks a permission: pages_messaging for the profile, "
    "pages_manage_metadata for the webhook subscription",
}


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One profile field that differs: Meta's value on the page (None: not set) and the one
    the config wants (None: delete it)."""

    field: str
    page: Any
    wanted: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class PageSync:
    """What a sync found and did for one account's page.

    `checked`: the profile fields compared; `unsubscribed`: the webhook fields the app was
    not subscribed to; `written`: profile fields written (POSTed or DELETEd); `error`: the
    call that failed and why (everything before it stands, nothing after it was tried).
    """

    account: Account
    checked: tuple[str, ...] = ()
    changes: tuple[FieldChange, ...] = ()
    unsubscribed: tuple[str, ...] = ()
    written: tuple[str, ...] = ()
    subscribed: bool = False
    error: str | None = None
    rate_limited: bool = False

    @property
    def differs(self) -> bool:
        return bool(self.changes or self.unsubscribed)


async def sync_page(client: GraphClient, account: Account, *, write: bool) -> PageSync:
    """Compare one page with the config and, with `write`, make it match. Never raises a
    GraphAPIError: a failed call is the result's `error`."""
    sync = PageSync(account=account)
    try:
        wanted = wanted_fields(account.profile or {})
        if wanted:
            answer = await _call(
                f"GET {MESSENGER_PROFILE}",
                client.get(account, MESSENGER_PROFILE, {"fields": ",".join(wanted)}),
            )
            page = read_profile(answer)
            changes = tuple(
                FieldChange(field, page.get(field), value)
                for field, value in wanted.items()
                if not same(field, page.get(field), value)
            )
            sync = replace(sync, checked=tuple(wanted), changes=changes)
        subscribed = _subscribed_fields(
            await _call(f"GET {SUBSCRIBED_APPS}", client.get(account, SUBSCRIBED_APPS))
        )
        missing = tuple(field for field in WEBHOOK_FIELDS if field not in subscribed)
        sync = replace(sync, unsubscribed=missing)
        if write:
            sync = await _apply(client, sync, subscribed)
    except _CallFailed as failed:
        sync = replace(sync, error=failed.reason, rate_limited=failed.rate_limited)
    return sync


async def _apply(client: GraphClient, sync: PageSync, subscribed: Sequence[str]) -> PageSync:
    account = sync.account
    posted = {change.field: change.wanted for change in sync.changes if change.wanted is not None}
    deleted = [change.field for change in sync.changes if change.wanted is None]
    if posted:
        await _call(
            f"POST {MESSENGER_PROFILE} ({', '.join(posted)})",
            client.post(account, MESSENGER_PROFILE, posted),
        )
        sync = replace(sync, written=tuple(posted))
    if deleted:
        await _call(
            f"DELETE {MESSENGER_PROFILE} ({', '.join(deleted)})",
            client.delete(account, MESSENGER_PROFILE, {"fields": deleted}),
        )
        sync = replace(sync, written=(*sync.written, *deleted))
    if sync.unsubscribed:
        # the POST sets the app's fields: the ones it had stay in the list
        fields = [*subscribed, *(field for field in sync.unsubscribed if field not in subscribed)]
        await _call(
            f"POST {SUBSCRIBED_APPS} ({', '.join(sync.unsubscribed)})",
            client.post(account, SUBSCRIBED_APPS, {"subscribed_fields": ",".join(fields)}),
        )
        sync = replace(sync, subscribed=True)
    return sync


def _subscribed_fields(answer: Mapping[str, Any]) -> list[str]:
    """The webhook fields of a `subscribed_apps` answer. With a page token Meta lists the
    token's app only; `data: []` is an app not subscribed to the page at all."""
    fields: list[str] = []
    data = answer.get("data")
    for app in data if isinstance(data, list) else []:
        listed = app.get("subscribed_fields") if isinstance(app, Mapping) else None
        for field in listed if isinstance(listed, list) else []:
            if isinstance(field, str) and field not in fields:
                fields.append(field)
    return fields


class _CallFailed(Exception):
    def __init__(self, reason: str, *, rate_limited: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rate_limited = rate_limited


async def _call(what: str, call: Awaitable[Mapping[str, Any]]) -> Mapping[str, Any]:
    """Await one Graph API call; a refusal becomes `_CallFailed` naming the call."""
    try:
        answer = await call
    except RateLimitError as err:
        limit = (
            "Meta allows 10 Messenger Profile calls per 10 minutes a page"
            if MESSENGER_PROFILE in what
            else "Meta limits how often a page may be asked"
        )
        reason = (
            f"{what}: refused for too many calls ({_label(err)}{_meta_text(err)}); {limit}: "
            "nothing more was written; sync again in 10 minutes"
        )
        raise _CallFailed(reason, rate_limited=True) from err
    except GraphAPIError as err:
        if err.code is None:  # no answer from Meta: the transport's own sentence
            raise _CallFailed(f"{what}: {err}", rate_limited=False) from err
        hint = _HINTS.get(err.code)
        reason = f"{what}: {_label(err)}{_meta_text(err)}" + (f"; {hint}" if hint else "")
        raise _CallFailed(reason, rate_limited=False) from err
    return answer


def _label(err: GraphAPIError) -> str:
    return f"(#{err.code}" + (f"/{err.subcode}" if err.subcode else "") + ") "


def _meta_text(err: GraphAPIError) -> str:
    """Meta's own message, without the `(#613)` it may start with (`_label` says it)."""
    return re.sub(r"^\(#\d+\)\s*", "", err.meta_message or str(err))


# -- what a person reads ---------------------------------------------------------------------
def describe_sync(sync: PageSync, *, write: bool) -> list[str]:
    """The lines `runtime profile sync` prints for one page: each difference (old -> new),
    then what was done, or "up to date"."""
    lines = [f"account {sync.account.label}:"]
    for change in sync.changes:
        lines += [f"  {line}" for line in describe_change(change)]
    if sync.unsubscribed:
        lines.append(f"  webhook: {_subscription(sync, write=write)}")
    if sync.error is not None:
        lines.append(f"  failed: {sync.error}")
        if sync.written:
            lines.append(f"  written before it failed: {', '.join(sync.written)}")
    elif not sync.differs:
        lines[0] += f" up to date ({_what_was_checked(sync)})"
    elif write:
        lines.append("  written" + (f": {', '.join(sync.written)}" if sync.written else ""))
    else:
        lines.append("  nothing written")
    return lines


def summary_line(sync: PageSync) -> str:
    """One log line for `runtime serve`: up to date, what was written, or what failed."""
    name = f"Messenger Profile of account {sync.account.label}"
    if sync.error is not None:
        done = f" (written before it failed: {', '.join(sync.written)})" if sync.written else ""
        return f"{name} not synced: {sync.error}{done}"
    if not sync.differs:
        return f"{name}: up to date ({_what_was_checked(sync)})"
    parts = []
    if sync.written:
        parts.append(f"written {', '.join(sync.written)}")
    if sync.unsubscribed:
        parts.append(_subscription(sync, write=True))
    return f"{name}: {'; '.join(parts)}"


def describe_change(change: FieldChange) -> list[str]:
    """`greeting[default]: "Hi!" -> "Hello!"`: one line per locale that differs, or one
    for a field without locales (or deleted whole)."""
    old = normalized(change.field, change.page)
    new = normalized(change.field, change.wanted)
    if new is None:
        return [f"{change.field}: {_shown(change.field, old)} -> (deleted)"]
    if not isinstance(new, Mapping):
        return [f"{change.field}: {_shown(change.field, old)} -> {_shown(change.field, new)}"]
    before: Mapping[str, Any] = old if isinstance(old, Mapping) else {}
    locales = sorted({*before, *new}, key=lambda locale: (locale != DEFAULT_LOCALE, locale))
    return [
        f"{change.field}[{locale}]: {_locale_value(change.field, before.get(locale))} -> "
        f"{_locale_value(change.field, new.get(locale), gone='(removed)')}"
        for locale in locales
        if before.get(locale) != new.get(locale)
    ]


def _shown(field: str, value: Any) -> str:
    if value is None:
        return "(not set)"
    if field == WHITELISTED_DOMAINS:
        return ", ".join(sorted(value)) or "(none)"
    if field == GET_STARTED:
        return _quoted(value)
    if isinstance(value, Mapping):
        return "; ".join(
            f"{locale}: {_locale_value(field, item)}" for locale, item in value.items()
        )
    return str(value)


def _locale_value(field: str, value: Any, *, gone: str = "(not set)") -> str:
    """One locale's greeting text, ice breakers or menu, as a person reads it."""
    if value is None:
        return gone
    if isinstance(value, str):
        return _quoted(value)
    if field == PERSISTENT_MENU:
        disabled, items = value
        shown = " | ".join(_menu_item(dict(item)) for item in items)
        return shown + (" (composer input disabled)" if disabled else "")
    return ", ".join(f"{_quoted(question)} ({payload})" for question, payload in value)


def _menu_item(item: Mapping[str, Any]) -> str:
    target = item.get("url") if item.get("type") == "web_url" else item.get("payload")
    return f"{item.get('title')} ({target})"


def _quoted(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _subscription(sync: PageSync, *, write: bool) -> str:
    fields = ", ".join(sync.unsubscribed)
    why = (
        " (this is why a bot receives nothing)"
        if "messages" in sync.unsubscribed
        else " (without them the bot misses those events)"
    )
    done = "subscribed" if sync.subscribed else "would subscribe" if not write else "not subscribed"
    return f"the app was not subscribed to {fields}: {done}{why}"


def _what_was_checked(sync: PageSync) -> str:
    checked = ", ".join(sync.checked) if sync.checked else "no profile field in the config"
    return f"{checked}; webhook fields subscribed"
