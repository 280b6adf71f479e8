"""Who may talk to the bot: the account's dmPolicy, allowFrom, and pairing codes.

Applied before any flow runs. A sender who is not admitted gets no sender action and no
reply, except the one pairing reply (with its code) under the `pairing` policy.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from runtime.bot import Bot
from runtime.compiler import DEFAULT_PAIRING_MESSAGE
from runtime.config.model import Account, DmPolicy
from runtime.dialog.templates import Template
from runtime.store.base import PairingRequest, Store

logger = logging.getLogger("runtime.access")

# no look-alikes: no 0/O, no 1/I/L
CODE_ALPHABET: Final = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH: Final = 8
PAIRING_TTL: Final = 3600.0  # a code expires after an hour
RESEND_INTERVAL: Final = 3600.0  # a pending sender is sent their code again at most hourly
MAX_PENDING: Final = 3  # pending requests per account; the oldest expires first


class Admission(StrEnum):
    ADMIT = "admit"
    IGNORE = "ignore"
    PAIR = "pair"  # not admitted; answer with the pairing reply in `Verdict.reply`


@dataclass(frozen=True, slots=True)
class Verdict:
    admission: Admission
    reply: str | None = None  # the pairing text to send, if any


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


async def check_access(
    store: Store, bot: Bot, account: Account, psid: str, *, now: float
) -> Verdict:
    """Decide what to do with a sender's event under the account's policy."""
    policy = account.dm_policy
    if policy is DmPolicy.OPEN:
        return Verdict(Admission.ADMIT)
    if policy is DmPolicy.DISABLED:
        return Verdict(Admission.IGNORE)
    if psid in account.allow_from:
        return Verdict(Admission.ADMIT)
    if policy is DmPolicy.ALLOWLIST:
        logger.info("account %s: %s is not in allowFrom; ignored", account.label, psid)
        return Verdict(Admission.IGNORE)
    if await store.is_approved(account.id, psid):
        return Verdict(Admission.ADMIT)
    return await _pairing_reply(store, bot, account, psid, now=now)


async def _pairing_reply(
    store: Store, bot: Bot, account: Account, psid: str, *, now: float
) -> Verdict:
    pending = await store.pending_pairing(account.id, psid, now=now)
    if pending is not None:
        if now - pending.last_sent_at < RESEND_INTERVAL:
            return Verdict(Admission.IGNORE)  # they have their code; don't repeat it per message
        await store.mark_pairing_sent(pending.code, now)
        return Verdict(Admission.PAIR, reply=render_pairing_message(bot, account, pending))
    for _ in range(10):  # a collision with a pending code is rare; draw again
        request = PairingRequest(
            code=new_code(),
            account_id=account.id,
            psid=psid,
            created_at=now,
            expires_at=now + PAIRING_TTL,
            last_sent_at=now,
        )
        stored = await store.create_pairing(request, now=now, max_pending=MAX_PENDING)
        if stored is not None:
            logger.info(
                "account %s: pairing code %s for %s; approve with: runtime pair approve "
                "messenger %s",
                account.label,
                stored.code,
                psid,
                stored.code,
            )
            return Verdict(Admission.PAIR, reply=render_pairing_message(bot, account, stored))
    logger.error("account %s: no free pairing code found for %s", account.label, psid)
    return Verdict(Admission.IGNORE)


def render_pairing_message(bot: Bot, account: Account, request: PairingRequest) -> str:
    """The pairing reply; the built-in text if the account's own template fails."""
    context = {
        "code": request.code,
        "psid": request.psid,
        "account": {"id": account.id, "name": account.name, "page_id": account.page_id},
    }
    template = bot.pairing_messages.get(account.id) or Template(DEFAULT_PAIRING_MESSAGE)
    try:
        text = template.render(context).strip()
    except Exception as err:  # a broken custom template must not lock people out
        logger.warning("account %s: pairingMessage failed to render: %s", account.label, err)
        text = ""
    return text or Template(DEFAULT_PAIRING_MESSAGE).render(context)
