"""What the page shows before the first message: the accounts and each page's Messenger
Profile (Get Started, greeting, ice breakers, persistent menu) for one locale.

The profile is the config's, in Meta's form (`messenger/profile.py`'s `wanted_fields`), one
locale's entry picked as Messenger picks it: the person's locale when the page has one for
it, else `default`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runtime.bot import Bot
from runtime.config.model import Account
from runtime.emulator.settings import page_id_of
from runtime.messenger.profile import (
    DEFAULT_LOCALE,
    GET_STARTED,
    GREETING,
    ICE_BREAKERS,
    PERSISTENT_MENU,
    wanted_fields,
)
from runtime.server import WEBHOOK_PATH


def bot_info(bot: Bot, *, account_id: str | None, locale: str | None) -> dict[str, Any]:
    """`{"accounts": [...], "locales": [...]}` for `GET /emulator/api/bot`."""
    accounts = [
        account_info(account, locale)
        for account in bot.accounts.values()
        if account_id is None or account.id == account_id
    ]
    return {"accounts": accounts, "locales": list(bot.config.locales)}


def account_info(account: Account, locale: str | None) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "page_id": page_id_of(account),
        "webhook": f"{WEBHOOK_PATH}/{account.id}",
        "dm_policy": str(account.dm_policy),
        "profile": page_profile(account.profile or {}, locale),
    }


def page_profile(profile: Mapping[str, Any], locale: str | None) -> dict[str, Any]:
    """The fields a person in `locale` sees, in Meta's names and shapes."""
    wanted = wanted_fields(profile)
    get_started = wanted.get(GET_STARTED)
    greeting = _entry(wanted.get(GREETING), locale)
    ice_breakers = _entry(wanted.get(ICE_BREAKERS), locale)
    menu = _entry(wanted.get(PERSISTENT_MENU), locale)
    return {
        "get_started": get_started.get("payload") if isinstance(get_started, Mapping) else None,
        "greeting": greeting.get("text") if greeting is not None else None,
        "ice_breakers": list(ice_breakers.get("call_to_actions", [])) if ice_breakers else [],
        "persistent_menu": list(menu.get("call_to_actions", [])) if menu else [],
        "composer_input_disabled": bool(menu and menu.get("composer_input_disabled")),
    }


def _entry(entries: object, locale: str | None) -> Mapping[str, Any] | None:
    """The entry of `locale`, else the `default` one; None when there is neither."""
    if not isinstance(entries, Sequence):
        return None
    by_locale = {entry.get("locale"): entry for entry in entries if isinstance(entry, Mapping)}
    return by_locale.get(locale) or by_locale.get(DEFAULT_LOCALE)
