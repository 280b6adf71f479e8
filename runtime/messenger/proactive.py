"""Proactive sends (`runtime send`): the 24-hour window and message tags, checked before HTTP."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from runtime.bot import Bot
from runtime.config.model import Account
from runtime.dialog.messages import TextMessage
from runtime.errors import Error, WindowClosedError
from runtime.messenger.endpoints import MESSAGES
from runtime.messenger.graph import GraphClient
from runtime.messenger.limits import split_text
from runtime.messenger.payloads import MessagingType, message_request
from runtime.messenger.tags import MESSAGE_TAGS, RETIRED_TAGS
from runtime.store.base import Standing, Store
from runtime.store.factory import open_store
from runtime.window import HUMAN_AGENT_WINDOW_SECONDS, WINDOW_SECONDS


class UnknownAccountError(Error):
    """A command named an account the config does not have."""


class SenderBlockedError(Error):
    """The owner blocked this person on this account (`runtime pair block`): nothing goes."""


async def send_text(
    bot: Bot,
    store: Store,
    client: GraphClient,
    *,
    psid: str,
    text: str,
    account_id: str | None = None,
    tag: str | None = None,
    now: float,
) -> list[Mapping[str, Any]]:
    """Send `text` (in several messages if long) to a person, under the window rules.

    Inside 24 hours of their last message: `messaging_type: UPDATE` (or MESSAGE_TAG when a
    tag is given). Later: only with a tag, as MESSAGE_TAG. Without one, WindowClosedError is
    raised before any HTTP call. Returns the Graph API's answers.
    """
    account = _account(bot, account_id)
    if await store.standing(account.id, psid) is Standing.BLOCKED:
        raise SenderBlockedError(
            f"not sent: {psid} is blocked on account '{account.id}' and gets nothing from the "
            f"bot; `runtime pair unblock messenger {psid} --account {account.id}` lifts it"
        )
    if tag in RETIRED_TAGS:
        raise WindowClosedError(
            f"not sent: Meta retired the {tag} tag on April 27, 2026 and refuses it (error "
            "100); send within 24 hours of the person's last message without a tag, use "
            "HUMAN_AGENT when a person replies by hand within 7 days, or Meta's utility "
            "message templates for order, account and event updates",
            sent=False,
        )
    if tag is not None and tag not in MESSAGE_TAGS:
        raise WindowClosedError(
            f"unknown tag {tag!r}; use one of {', '.join(MESSAGE_TAGS)}", sent=False
        )
    last = await store.last_inbound(account.id, psid)
    age = None if last is None else now - last
    if tag is None:
        if age is None or age > WINDOW_SECONDS:
            when = (
                "never wrote to this page"
                if age is None
                else f"last wrote {age / 3600:.0f} hours ago"
            )
            raise WindowClosedError(
                f"not sent: {psid} {when}, outside the 24-hour window; a send outside it needs "
                f"--tag, one of {', '.join(MESSAGE_TAGS)}",
                sent=False,
            )
        messaging_type = MessagingType.UPDATE
    else:
        if tag == "HUMAN_AGENT" and (age is None or age > HUMAN_AGENT_WINDOW_SECONDS):
            raise WindowClosedError(
                "not sent: the HUMAN_AGENT tag allows 7 days after the person's last message;"
                f" {psid} is past that",
                sent=False,
            )
        messaging_type = MessagingType.MESSAGE_TAG
    answers = []
    for part in split_text(text):
        body = message_request(psid, TextMessage(text=part), messaging_type=messaging_type, tag=tag)
        answers.append(await client.post(account, MESSAGES, body))
    return answers


async def send_to(
    bot: Bot, *, psid: str, text: str, account_id: str | None, tag: str | None
) -> list[Mapping[str, Any]]:
    """`runtime send`: open the store and a client, send, close them."""
    store = await open_store(bot.config.state)
    client = GraphClient(bot.config.graph, pools=1)
    await client.open()
    try:
        return await send_text(
            bot,
            store,
            client,
            psid=psid,
            text=text,
            account_id=account_id,
            tag=tag,
            now=time.time(),
        )
    finally:
        await client.close()
        await store.close()


def _account(bot: Bot, account_id: str | None) -> Account:
    if account_id is None:
        if len(bot.accounts) == 1:
            return next(iter(bot.accounts.values()))
        raise UnknownAccountError(
            f"this config has {len(bot.accounts)} accounts; name one with --account "
            f"({', '.join(bot.accounts)})"
        )
    account = bot.accounts.get(account_id)
    if account is None:
        raise UnknownAccountError(
            f"no account '{account_id}' in the config; it has: {', '.join(bot.accounts) or 'none'}"
        )
    return account
