"""Who may talk to the bot: the account's dmPolicy, allowFrom, and pairing codes.

Applied before any flow runs. A sender who is not admitted gets no sender action and no
reply, except the one pairing reply (with its code) under the `pairing` policy:

| policy      | admitted                                  | everyone else              |
|-------------|-------------------------------------------|----------------------------|
| `pairing`   | `allowFrom`, and senders approved with    | one pairing reply per hour |
|             | `runtime pair approve` (per account)      | at most, else nothing      |
| `allowlist` | `allowFrom` only (approvals do not count) | nothing (an info log line) |
| `open`      | everyone                                  | -                          |
| `disabled`  | nobody, not even `allowFrom`              | nothing                    |

A sender the owner blocked (`runtime pair block`, per account) is admitted by no policy, not
even `open` or `allowFrom`: their events are dropped with a debug log line, and they get no
pairing code, no reply and no sender action until unblocked.

The pairing reply is in the stranger's language when the account's `pairingMessage` is
written by locale: their locale comes from a lookup the caller passes (the worker's asks the
User Profile API, 2 seconds at most, and keeps the answer in the store's profile cache);
without one, or without an answer, `default`. The lookup is made too when the account's
`approvedMessage` is written by locale: `runtime pair approve`, which never calls the Graph
API, finds the locale of its confirmation in that cache.

The owner's side (list, approve, deny, block, revoke) is `runtime/pairing.py`.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypeAlias

from runtime.bot import Bot
from runtime.config.model import PAIRING_MESSAGE_KEY, Account, DmPolicy
from runtime.dialog.templates import Template
from runtime.locales import normalize_locale
from runtime.messenger.limits import LIMITS, fit
from runtime.store.base import PairingRequest, Standing, Store
from runtime.texts import Text

logger = logging.getLogger("runtime.access")

# no look-alikes: no 0/O, no 1/I/L
CODE_ALPHABET: Final = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH: Final = 8
PAIRING_TTL: Final = 3600.0  # a code expires after an hour
RESEND_INTERVAL: Final = 3600.0  # a pending sender is sent their code again at most hourly
MAX_PENDING: Final = 3  # pending requests per account; the oldest expires first
APPROVE_COMMAND: Final = "runtime pair approve messenger {code}"
_DRAWS: Final = 10  # a new code that collides with a pending one is drawn again
DEFAULT_PAIRING_MESSAGE: Final = (
    "Hi! This bot only talks to people its owner has approved. Your pairing code is {{ code }}."
    " To approve you, the owner runs: runtime pair approve messenger {{ code }}"
)
# a person's locale as their profile gives it (any value: it is normalized), or None
LocaleLookup: TypeAlias = Callable[[Account, str], Awaitable[object]]


class Admission(StrEnum):
    ADMIT = "admit"
    IGNORE = "ignore"
    PAIR = "pair"  # not admitted; answer with the pairing reply in `Verdict.reply`
    BLOCKED = "blocked"  # the owner blocked them: dropped, and only a debug line says so


@dataclass(frozen=True, slots=True)
class Verdict:
    admission: Admission
    reply: str | None = None  # the pairing text to send, if any


def new_code() -> str:
    """A fresh pairing code: 8 characters of CODE_ALPHABET from a CSPRNG (31**8, about 8.5e11)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


async def check_access(
    store: Store,
    bot: Bot,
    account: Account,
    psid: str,
    *,
    now: float,
    draw_code: Callable[[], str] = new_code,
    pair: bool = True,
    locale_of: LocaleLookup | None = None,
) -> Verdict:
    """Decide what to do with a sender's event under the account's policy.

    Blocks and approvals are the store's, scoped to the account, read at every event (so a
    `runtime pair` change counts from the next one); `allowFrom` is the config's. Under
    `pairing` a stranger gets a code (the reply in the verdict); writing again while the code
    is pending gets nothing, and the same code again only once its last sending is
    RESEND_INTERVAL old; after it expires (or is pushed out by MAX_PENDING newer ones) the
    next message gets a new code. `draw_code` makes new codes (tests pass their own).
    With `pair=False` (an event the person did not send: a timer) a stranger is ignored,
    never sent a code. `locale_of` finds a stranger's locale, asked only when the pairing
    reply goes out and is written by locale.
    """
    policy = account.dm_policy
    if policy is DmPolicy.DISABLED:
        logger.debug("account %s: dmPolicy disabled; event from %s ignored", account.label, psid)
        return Verdict(Admission.IGNORE)
    standing = await store.standing(account.id, psid)
    if standing is Standing.BLOCKED:
        logger.debug("account %s: %s is blocked; event dropped", account.label, psid)
        return Verdict(Admission.BLOCKED)
    if policy is DmPolicy.OPEN:
        return Verdict(Admission.ADMIT)
    if psid in account.allow_from:
        return Verdict(Admission.ADMIT)
    if policy is DmPolicy.ALLOWLIST:
        # never the message text: a stranger's words are not the log's business
        logger.info("account %s: %s is not in allowFrom; ignored", account.label, psid)
        return Verdict(Admission.IGNORE)
    if standing is Standing.APPROVED:
        return Verdict(Admission.ADMIT)
    if not pair:
        return Verdict(Admission.IGNORE)
    request = await _pairing_request(store, account, psid, now=now, draw_code=draw_code)
    if request is None:
        return Verdict(Admission.IGNORE)
    locale = await _locale_for_reply(bot, account, psid, locale_of)
    reply = render_account_text(
        account,
        PAIRING_MESSAGE_KEY,
        bot.pairing_messages.get(account.id),
        default=DEFAULT_PAIRING_MESSAGE,
        context={"code": request.code, "psid": psid},
        locale=locale,
    )
    return Verdict(Admission.PAIR, reply=reply)


async def _locale_for_reply(
    bot: Bot, account: Account, psid: str, locale_of: LocaleLookup | None
) -> str | None:
    """The stranger's locale when the pairing message or the approval confirmation has a
    text by locale, else None. The lookup keeps it in the profile cache, where `runtime pair
    approve` reads it."""
    if locale_of is None:
        return None
    messages = (bot.pairing_messages.get(account.id), bot.approved_messages.get(account.id))
    if all(message is None or len(message.locales) < 2 for message in messages):
        return None
    return normalize_locale(await locale_of(account, psid))


async def _pairing_request(
    store: Store,
    account: Account,
    psid: str,
    *,
    now: float,
    draw_code: Callable[[], str],
) -> PairingRequest | None:
    """The request whose code to send the stranger now, or None (nothing to send)."""
    pending = await store.pending_pairing(account.id, psid, now=now)
    if pending is not None:
        if now - pending.last_sent_at < RESEND_INTERVAL:
            # they have their code; don't repeat it per message
            logger.debug("account %s: %s is waiting for approval; ignored", account.label, psid)
            return None
        await store.mark_pairing_sent(pending.code, now)
        return pending
    for _ in range(_DRAWS):
        request = PairingRequest(
            code=draw_code(),
            account_id=account.id,
            psid=psid,
            created_at=now,
            expires_at=now + PAIRING_TTL,
            last_sent_at=now,
        )
        stored = await store.create_pairing(request, now=now, max_pending=MAX_PENDING)
        if stored is not None:
            logger.info(
                "account %s: pairing code %s for %s; approve with: %s",
                account.label,
                stored.code,
                psid,
                APPROVE_COMMAND.format(code=stored.code),
            )
            return stored
    logger.error("account %s: no free pairing code found for %s", account.label, psid)
    return None


def render_account_text(
    account: Account,
    key: str,
    message: Text | None,
    *,
    default: str,
    context: Mapping[str, object],
    locale: str | None = None,
) -> str:
    """The account's `key` text (pairingMessage, approvedMessage) for `locale` (Meta's form),
    or the built-in `default` when the config sets none; rendered with `context` (the
    person's `psid`...) and `account`.

    The built-in pairing text holds the code and the exact approve command. An owner's own
    text is sent as written, even a pairing text without `{{ code }}` (a short "ask Anna for
    access" is a valid choice: the owner finds the request by PSID in `runtime pair list`;
    `runtime validate` warns about it). Only a template that fails to render, or renders to
    nothing, falls back to the built-in text, so nobody is locked out by a typo. Cut to one
    message (2000).
    """
    context = {
        **context,
        "account": {"id": account.id, "name": account.name, "page_id": account.page_id},
    }
    template = Template(default) if message is None else secrets.choice(message.choices(locale))
    try:
        text = template.render(context).strip()
    except Exception as err:  # a broken custom template must not lock people out
        logger.warning("account %s: %s failed to render: %s", account.label, key, err)
        text = ""
    return fit(text or Template(default).render(context), LIMITS.text)
