"""The owner's blocks (`runtime pair block|unblock`, `list --blocked`): who gets nothing, ever.

A block is per account, like an approval, and wins over every dmPolicy and over `allowFrom`
(`runtime/access.py`): the person's events are accepted and dropped, and nothing is sent to
them (the replies already waiting for them are dropped with the block) until they are
unblocked. A block withdraws an approval, so unblocking makes them a stranger again. The
worker reads blocks at every message: a block counts from the next one, with no restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runtime.config.accounts import normalize_psid
from runtime.config.model import Account, Config, DmPolicy
from runtime.errors import PairingError
from runtime.pairing import LIST_COMMAND, UNBLOCK_COMMAND, check_account, the_one_account
from runtime.store.base import BlockedSender, Standing, Store
from runtime.tables import duration, table


@dataclass(frozen=True, slots=True, kw_only=True)
class Block:
    account_id: str
    psid: str
    newly: bool  # False: they were blocked already
    was_approved: bool


async def block(
    store: Store, config: Config, psid: str, *, account_id: str | None, now: float
) -> Block:
    """Block a PSID on an account: `account_id`, else the config's only account, else the
    one account the PSID wrote to (PSIDs are page-scoped). Raises PairingError when that is
    not one account, UnknownAccountError for an account the config does not have.
    """
    psid = normalize_psid(psid)
    if account_id is None:
        account_id = await _account_written_to(store, config, psid)
    check_account(config, account_id)
    before = await store.standing(account_id, psid)
    newly = await store.block_sender(account_id, psid, now)
    return Block(
        account_id=account_id,
        psid=psid,
        newly=newly,
        was_approved=before is Standing.APPROVED,
    )


async def unblock(store: Store, config: Config, psid: str, *, account_id: str | None) -> str:
    """Lift a block; return the account id it was on.

    Without `account_id`, the one account where the PSID is blocked. Raises PairingError if
    it is not blocked there.
    """
    psid = normalize_psid(psid)
    if account_id is None:
        blocked = [s.account_id for s in await store.list_blocked() if s.psid == psid]
        account_id = the_one_account(psid, blocked, state="blocked")
    if not await store.unblock_sender(account_id, psid):
        raise PairingError(
            f"{psid} is not blocked on account '{account_id}'; "
            f"`{LIST_COMMAND} --blocked` shows who is"
        )
    return account_id


async def list_blocked(
    store: Store, config: Config, *, account_id: str | None
) -> list[BlockedSender]:
    if account_id is not None:
        check_account(config, account_id)
    return await store.list_blocked(account_id)


async def _account_written_to(store: Store, config: Config, psid: str) -> str:
    if len(config.accounts) == 1:
        return next(iter(config.accounts))
    wrote = [
        account_id
        for account_id in config.accounts
        if await store.last_inbound(account_id, psid) is not None
    ]
    if len(wrote) == 1:
        return wrote[0]
    if not wrote:
        raise PairingError(
            f"{psid} has not written to any account; name the one to block them on with "
            f"--account (this config has: {', '.join(config.accounts)})"
        )
    raise PairingError(
        f"{psid} wrote to several accounts ({', '.join(wrote)}); name one with --account"
    )


# -- output ----------------------------------------------------------------------------------
def format_block(config: Config, blocked: Block) -> str:
    where = f"{blocked.psid} on account '{blocked.account_id}'"
    unblock_command = UNBLOCK_COMMAND.format(psid=blocked.psid, account=blocked.account_id)
    if blocked.newly:
        lines = [
            f"blocked {where}: they get nothing from the bot (no reply, no pairing code, no "
            f"sender action) until `{unblock_command}`"
        ]
    else:
        lines = [f"{where} was blocked already; it stays so until `{unblock_command}`"]
    if blocked.was_approved:
        lines.append("their approval is withdrawn: once unblocked, they are a stranger again")
    account = config.accounts.get(blocked.account_id)
    if account is not None and blocked.psid in account.allow_from:
        lines.append(
            f"note: {blocked.psid} is in allowFrom of account {account.label}; the block wins "
            "while it lasts (take them out of allowFrom too, for good)"
        )
    return "\n".join(lines)


def format_unblock(config: Config, psid: str, account_id: str) -> str:
    line = f"unblocked {psid} on account '{account_id}'"
    account = config.accounts.get(account_id)
    if account is None:
        return line
    return f"{line}: {_next_message(account, psid)}"


def _next_message(account: Account, psid: str) -> str:
    """What the person's next message meets now that the block is gone."""
    policy = account.dm_policy
    if policy is DmPolicy.DISABLED:
        return "dmPolicy disabled still ignores everyone"
    if policy is DmPolicy.OPEN or psid in account.allow_from:
        return "their next message reaches the bot"
    if policy is DmPolicy.ALLOWLIST:
        return "dmPolicy allowlist still ignores them (they are not in allowFrom)"
    return "a stranger again: their next message gets a pairing code"


def format_blocked(senders: Sequence[BlockedSender], *, now: float) -> str:
    if not senders:
        return "no blocked senders"
    rows = [
        (sender.account_id, sender.psid, duration(now - sender.blocked_at) + " ago")
        for sender in senders
    ]
    return table(("ACCOUNT", "PSID", "BLOCKED"), rows)
