"""The owner's side of pairing (`runtime pair`): list, approve, deny and revoke, on the store.

These work while a server runs, on the same store: the worker reads approvals (and blocks,
`runtime/blocks.py`) at every message, so a change counts from the person's next message
on, with no restart. The
confirmation sent on approval goes through the durable outbox, which a running server polls
(and a starting one drains), so this module never calls the Graph API itself. It is the
account's `approvedMessage` (else APPROVED_MESSAGE) in the person's locale, as the profile
cache holds it (the server looked it up for their pairing reply), and carries
APPROVAL_METADATA, which the server's log line recognizes it by whatever its text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from runtime.access import (
    CODE_ALPHABET,
    CODE_LENGTH,
    MAX_PENDING,
    PAIRING_TTL,
    render_account_text,
)
from runtime.compiler import compile_account_texts
from runtime.config.accounts import normalize_psid
from runtime.config.model import APPROVED_MESSAGE_KEY, Account, Config, DmPolicy
from runtime.dialog.messages import TextMessage
from runtime.errors import PairingError
from runtime.messenger.payloads import MessagingType, message_request
from runtime.messenger.proactive import UnknownAccountError
from runtime.people import cached_locale
from runtime.store.base import ApprovedSender, NewOutbound, PairingRequest, Store
from runtime.tables import ago, duration, table
from runtime.window import WINDOW_SECONDS

APPROVED_MESSAGE: Final = "You're approved! Say hi to start."  # without an approvedMessage
# the confirmation's `message.metadata`: Meta gives it back in the message echo, and the
# server's "approval seen" line knows the confirmation by it (its text is the owner's)
APPROVAL_METADATA: Final = "runtime:approved"
LIST_COMMAND: Final = "runtime pair list messenger"
BLOCK_COMMAND: Final = "runtime pair block messenger {psid} --account {account}"
UNBLOCK_COMMAND: Final = "runtime pair unblock messenger {psid} --account {account}"


class PairAction(StrEnum):
    LIST = "list"
    APPROVE = "approve"
    DENY = "deny"
    REVOKE = "revoke"
    BLOCK = "block"
    UNBLOCK = "unblock"


@dataclass(frozen=True, slots=True, kw_only=True)
class Approval:
    """An approved request, and what became of the confirmation message."""

    request: PairingRequest
    confirmation_queued: bool
    outcome: str  # one sentence on the confirmation (queued, or why not)
    note: str | None = None  # something the owner should know (the policy, say)


def normalize_code(text: str) -> str:
    """A code as typed -> as issued: `"abcd efgh"` and `"ABCD-EFGH"` are `"ABCDEFGH"`."""
    return "".join(char for char in text.upper() if not char.isspace() and char != "-")


async def list_requests(
    store: Store, config: Config, *, account_id: str | None, now: float
) -> list[PairingRequest]:
    """Pending requests, oldest first, of one configured account or of every account."""
    if account_id is not None:
        check_account(config, account_id)
    return await store.list_pairings(account_id, now=now)


async def list_approved(
    store: Store, config: Config, *, account_id: str | None
) -> list[ApprovedSender]:
    if account_id is not None:
        check_account(config, account_id)
    return await store.list_approved(account_id)


async def approve(store: Store, config: Config, code: str, *, now: float) -> Approval:
    """Approve the sender of a pending code on its account; queue the confirmation.

    Raises PairingError for an unknown, used or expired code. The code is used up, the
    sender approved and the confirmation queued in one store transaction, so a crash or a
    store failure leaves either all of it done or the code still pending, to approve again.
    The confirmation goes out as `messaging_type: UPDATE` only inside the 24-hour window of
    the person's last message (they just wrote, in the usual case).
    """
    request = await _pending(store, code, now=now)
    account = config.accounts.get(request.account_id)
    confirmation, outcome, note = await _confirmation(store, config, account, request, now=now)
    if not await store.approve_pairing(request, now=now, confirmation=confirmation):
        raise PairingError(
            f"pairing code {request.code} was used or expired a moment ago, while approving; "
            f"`{LIST_COMMAND}` shows the pending ones"
        )
    return Approval(
        request=request, confirmation_queued=confirmation is not None, outcome=outcome, note=note
    )


async def _confirmation(
    store: Store, config: Config, account: Account | None, request: PairingRequest, *, now: float
) -> tuple[NewOutbound | None, str, str | None]:
    """The confirmation to queue with an approval (or None), the sentence on it, and a note."""
    if account is None:
        outcome = f"no confirmation sent: account '{request.account_id}' is not in the config"
        return None, outcome, None
    if account.dm_policy is not DmPolicy.PAIRING:
        note = (
            f"account {account.label} has dmPolicy {account.dm_policy}, under which approvals "
            "do not count; "
            + (
                "add the PSID to allowFrom to let them in"
                if account.dm_policy is DmPolicy.ALLOWLIST
                else "they count again under dmPolicy pairing"
            )
        )
        return None, "no confirmation sent", note
    last = await store.last_inbound(account.id, request.psid)
    if last is None or now - last > WINDOW_SECONDS:
        when = "have not written to this page" if last is None else f"last wrote {ago(now - last)}"
        outcome = (
            f"no confirmation sent: they {when}, outside Messenger's 24-hour window; "
            "their next message reaches the bot"
        )
        return None, outcome, None
    text = await _confirmation_text(store, config, account, request.psid, now=now)
    body = message_request(
        request.psid, TextMessage(text=text), messaging_type=MessagingType.UPDATE
    )
    body["message"]["metadata"] = APPROVAL_METADATA
    message = NewOutbound(account_id=account.id, psid=request.psid, body=json.dumps(body))
    outcome = (
        f'confirmation queued ("{text}"): a running server sends it within '
        "seconds, else the next `runtime serve` does"
    )
    return message, outcome, None


async def _confirmation_text(
    store: Store, config: Config, account: Account, psid: str, *, now: float
) -> str:
    """The account's approvedMessage (else APPROVED_MESSAGE) in the person's cached locale."""
    approved, _ = compile_account_texts(config, APPROVED_MESSAGE_KEY)  # validate reports those
    message = approved.by_account.get(account.id)
    locale = None
    if message is not None and len(message.locales) > 1:
        locale = await cached_locale(store, account, psid, now=now)
    return render_account_text(
        account,
        APPROVED_MESSAGE_KEY,
        message,
        default=APPROVED_MESSAGE,
        context={"psid": psid},
        locale=locale,
    )


async def deny(store: Store, code: str, *, now: float, block: bool = False) -> PairingRequest:
    """Drop a pending request. The person is not told; a later message gets a new code.

    With `block`, the sender is blocked on the request's account instead, in one store
    transaction that drops their requests too, so they get nothing more, not even a code.
    An expired code (kept a day) still names whom to block.
    """
    if block:
        request = await _known(store, code)
        await store.block_sender(request.account_id, request.psid, now)
        return request
    request = await _pending(store, code, now=now, verb="deny")
    if await store.take_pairing(request.code) is None:
        raise PairingError(
            f"pairing code {request.code} was used a moment ago, while denying; there is "
            "nothing to deny"
        )
    return request


async def revoke(store: Store, config: Config, psid: str, *, account_id: str | None) -> str:
    """Withdraw an approval; return the account id it was on.

    Without `account_id`, the one account where the PSID is approved (PSIDs are page-scoped,
    so that is the usual case). Raises PairingError if it is not approved there.
    """
    psid = normalize_psid(psid)
    if account_id is None:
        approved = [s.account_id for s in await store.list_approved() if s.psid == psid]
        account_id = the_one_account(psid, approved, state="approved")
    if not await store.revoke_sender(account_id, psid):
        raise PairingError(
            f"{psid} is not an approved sender of account '{account_id}'; "
            f"`{LIST_COMMAND} --approved` shows who is"
        )
    return account_id


def the_one_account(psid: str, accounts: Iterable[str], *, state: str) -> str:
    """The account where `psid` is `state` (approved, blocked), when `--account` is left out:
    PSIDs are page-scoped, so one is the usual case; PairingError for none or several."""
    found = sorted(set(accounts))
    if not found:
        raise PairingError(
            f"{psid} is not {state} on any account; `{LIST_COMMAND} --{state}` shows who is"
        )
    if len(found) > 1:
        raise PairingError(
            f"{psid} is {state} on several accounts ({', '.join(found)}); name one with --account"
        )
    return found[0]


async def _pending(
    store: Store, typed: str, *, now: float, verb: str = "approve"
) -> PairingRequest:
    """The pending request of a code as typed; PairingError for an unknown or expired one.

    An expired code is used up by the attempt (a code is used once), and the error says when
    and why it expired.
    """
    request = await _known(store, typed)
    code = request.code
    if request.expires_at <= now:
        await store.take_pairing(code)
        why = ""
        if request.expires_at < request.created_at + PAIRING_TTL:
            why = (
                f", pushed out when more than {MAX_PENDING} requests were pending on account "
                f"'{request.account_id}' (the oldest expires first)"
            )
        todo = "ask them to write again for a new code"
        if verb == "deny":
            block = BLOCK_COMMAND.format(psid=request.psid, account=request.account_id)
            todo = f"there is nothing to deny; to keep them from getting a new code: `{block}`"
        raise PairingError(
            f"pairing code {code} of {request.psid} expired {ago(now - request.expires_at)}"
            f"{why}; {todo}"
        )
    return request


async def _known(store: Store, typed: str) -> PairingRequest:
    """The request of a code as typed, pending or expired; PairingError for an unknown one."""
    code = normalize_code(typed)
    request = await store.find_pairing(code) if code else None
    if request is None:
        shape = ""
        if len(code) != CODE_LENGTH or any(char not in CODE_ALPHABET for char in code):
            shape = f" (a code is {CODE_LENGTH} characters of A-Z and 2-9, without I, L and O)"
        raise PairingError(
            f"no pending pairing request has the code {code or repr(typed)}{shape}; codes are "
            f"used once; `{LIST_COMMAND}` shows the pending ones"
        )
    return request


def check_account(config: Config, account_id: str) -> None:
    if account_id not in config.accounts:
        raise UnknownAccountError(
            f"no account '{account_id}' in the config; it has: "
            f"{', '.join(config.accounts) or 'none'}"
        )


# -- output ----------------------------------------------------------------------------------
def format_requests(requests: Sequence[PairingRequest], *, now: float) -> str:
    """The `runtime pair list` table, one request a line, oldest first."""
    if not requests:
        return "no pending pairing requests"
    rows = [
        (
            request.code,
            request.account_id,
            request.psid,
            duration(now - request.created_at),
            duration(request.expires_at - now),
        )
        for request in requests
    ]
    return table(("CODE", "ACCOUNT", "PSID", "AGE", "EXPIRES IN"), rows)


def format_approved(senders: Sequence[ApprovedSender], *, now: float) -> str:
    if not senders:
        return "no approved senders"
    rows = [
        (sender.account_id, sender.psid, duration(now - sender.approved_at) + " ago")
        for sender in senders
    ]
    return table(("ACCOUNT", "PSID", "APPROVED"), rows)


def format_approval(approval: Approval) -> str:
    request = approval.request
    lines = [
        f"approved {request.psid} on account '{request.account_id}' (code {request.code})",
        approval.outcome,
    ]
    if approval.note is not None:
        lines.append(f"note: {approval.note}")
    return "\n".join(lines)


def format_denial(request: PairingRequest, *, blocked: bool) -> str:
    where = {"psid": request.psid, "account": request.account_id}
    denied = (
        f"denied pairing code {request.code} of {request.psid} on account '{request.account_id}'"
    )
    if blocked:
        return (
            f"{denied} and blocked them: they get nothing from the bot, not even a new code, "
            f"until `{UNBLOCK_COMMAND.format(**where)}`"
        )
    return (
        f"{denied}; they are not told, and they will get a new code if they write again; "
        f"use --block to stop that (now: `{BLOCK_COMMAND.format(**where)}`)"
    )


def format_revoke(config: Config, psid: str, account_id: str) -> str:
    lines = [f"revoked {psid} on account '{account_id}': back to pairing, like a stranger"]
    account = config.accounts.get(account_id)
    if account is not None and psid in account.allow_from:
        lines.append(f"note: {psid} is in allowFrom of account {account.label}, which still admits")
    return "\n".join(lines)
