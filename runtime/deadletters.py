"""`runtime outbox`: the replies waiting to go out, and the dead letters, listed and retried."""

from __future__ import annotations

import json
from collections.abc import Sequence

from runtime.config.model import Config
from runtime.errors import Error
from runtime.messenger.endpoints import MESSAGES
from runtime.pairing import UNBLOCK_COMMAND
from runtime.store.base import DeadLetter, Standing, Store
from runtime.store.factory import open_store
from runtime.tables import duration

_PREVIEW = 40


class UnknownDeadLetterError(Error):
    """`runtime outbox retry` named an id that is not a dead letter."""


class BlockedRecipientError(Error):
    """`runtime outbox retry` named a dead letter to someone blocked: nothing goes to them."""


async def list_outbox(config: Config, *, now: float) -> str:
    """How many replies wait, and a table of the dead letters."""
    store = await open_store(config.state)
    try:
        waiting = await store.count_outbound()
        dead = await store.list_dead_letters()
    finally:
        await store.close()
    lines = [f"{waiting} message{'s' if waiting != 1 else ''} waiting to be sent"]
    if not dead:
        lines.append("no dead letters")
        return "\n".join(lines)
    lines.append(f"{len(dead)} dead letter{'s' if len(dead) != 1 else ''}:")
    lines.append(format_dead_letters(dead, now=now))
    return "\n".join(lines)


async def retry_dead_letter(config: Config, dead_letter_id: int, *, now: float) -> str:
    """Put a dead letter back in the outbox; a running server sends it within a second.

    A dead letter to someone blocked (`runtime pair block`) stays where it is.
    """
    store = await open_store(config.state)
    try:
        await _refuse_if_blocked(store, dead_letter_id)
        if not await store.requeue_dead_letter(dead_letter_id, now=now):
            known = [letter.id for letter in await store.list_dead_letters()]
            hint = f"; dead letters: {', '.join(map(str, known))}" if known else "; there are none"
            raise UnknownDeadLetterError(f"no dead letter {dead_letter_id}{hint}")
    finally:
        await store.close()
    return (
        f"dead letter {dead_letter_id} is back in the outbox: a running server sends it within "
        "a second (or at its next start)"
    )


async def _refuse_if_blocked(store: Store, dead_letter_id: int) -> None:
    letter = next((d for d in await store.list_dead_letters() if d.id == dead_letter_id), None)
    if letter is None:
        return
    if await store.standing(letter.account_id, letter.psid) is not Standing.BLOCKED:
        return
    unblock = UNBLOCK_COMMAND.format(psid=letter.psid, account=letter.account_id)
    raise BlockedRecipientError(
        f"dead letter {dead_letter_id} is to {letter.psid}, who is blocked on account "
        f"'{letter.account_id}': nothing is sent to them; `{unblock}` first"
    )


def format_dead_letters(letters: Sequence[DeadLetter], *, now: float) -> str:
    header = ("ID", "ACCOUNT", "PSID", "FAILED", "TRIES", "MESSAGE", "ERROR")
    rows = [
        (
            str(letter.id),
            letter.account_id,
            letter.psid,
            f"{duration(now - letter.failed_at)} ago",
            str(letter.attempts),
            _preview(letter.body, letter.endpoint),
            letter.error,
        )
        for letter in letters
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]])
        for row in (header, *rows)
    )


def _preview(body: str, endpoint: str = MESSAGES) -> str:
    """A short, one-line view of a Send API body: its text, or what kind of message it is;
    for a thread-control call, which one (`[pass_thread_control]`)."""
    if endpoint != MESSAGES:
        return f"[{endpoint.rpartition('/')[2]}]"
    try:
        message = json.loads(body).get("message", {})
    except (ValueError, AttributeError):
        return "?"
    text = message.get("text") if isinstance(message, dict) else None
    if not isinstance(text, str):
        attachment = message.get("attachment", {}) if isinstance(message, dict) else {}
        payload = attachment.get("payload", {}) if isinstance(attachment, dict) else {}
        kind = payload.get("template_type") if isinstance(payload, dict) else None
        return f"[{kind or attachment.get('type', 'message')}]"
    one_line = " ".join(text.split())
    return json.dumps(one_line[:_PREVIEW] + ("…" if len(one_line) > _PREVIEW else ""))
