"""The rows the Redis store's scripts return, as the records of `base.py`.

An inbox event comes back as `{id, account, psid, body, received_at, session, session_key}`
(`redis_lua.TAKE_EVENT`), an outbox message as `MESSAGE_FIELDS` in order, a dead letter as
`DEAD_FIELDS`. Times are the caller's text, read back with float(); a message's `send_by`
is absent (None) when it has no 24-hour limit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from runtime.session import Session
from runtime.store.base import DeadLetter, InboundEvent, NewOutbound, OutboundMessage
from runtime.store.redis_connection import RedisConnection
from runtime.store.redis_keys import Keys, PersonKeys, person_of

MESSAGE_FIELDS: Final = (
    "id",
    "account",
    "psid",
    "body",
    "endpoint",
    "created_at",
    "attempts",
    "next_attempt_at",
    "last_error",
    "send_by",
)
DEAD_FIELDS: Final = (
    "id",
    "account",
    "psid",
    "body",
    "endpoint",
    "created_at",
    "failed_at",
    "attempts",
    "error",
)


def in_slot(keys: Keys, session_key: str, psid: str) -> bool:
    """Whether a session lives in its person's slot (the usual `...:messenger:dm:<psid>`),
    so their scripts read and write it with their events."""
    return keys.session_person(session_key).tag == keys.person(psid).tag


def session_in_slot(keys: Keys, session_key: str | None, psid: str) -> str:
    """The session's Redis key, when its person's scripts may read it with their events
    (`redis_lua.lease_event`); '' when not (`events_of` reads it then)."""
    if session_key is None or not in_slot(keys, session_key, psid):
        return ""
    return keys.session(session_key)


async def events_of(
    redis: RedisConnection, keys: Keys, rows: Sequence[Sequence[Any]], what: str
) -> list[InboundEvent]:
    """The events of these rows, each with its session. A session outside its person's
    slot (a key of another form) is read here: no other worker writes it while the event
    is leased."""
    events = []
    for row in rows:
        event_id, account_id, psid, body, received_at, text, session_key = row
        if text is None and session_key and not in_slot(keys, session_key, psid):
            text = await redis.run(what, redis.client.get(keys.session(session_key)))
        events.append(
            InboundEvent(
                id=int(event_id),
                account_id=account_id,
                psid=psid,
                body=body,
                received_at=float(received_at),
                session=None if text is None else Session.from_json(text),
            )
        )
    return events


def outbound_row(message_id: int, message: NewOutbound) -> list[str]:
    """A message as `redis_lua.ENQUEUE` takes it: [id, body, endpoint, send_by or '']."""
    send_by = "" if message.send_by is None else repr(message.send_by)
    return [str(message_id), message.body, message.endpoint, send_by]


def message_of(row: Sequence[Any]) -> OutboundMessage:
    """An outbox message from its fields, in the order of `MESSAGE_FIELDS`."""
    message_id, account_id, psid, body, endpoint, created_at, attempts, due, error, send_by = row
    return OutboundMessage(
        id=int(message_id),
        account_id=account_id,
        psid=psid,
        body=body,
        endpoint=endpoint,
        created_at=float(created_at),
        attempts=int(attempts),
        next_attempt_at=float(due),
        last_error=error,
        send_by=float(send_by) if send_by else None,
    )


def dead_letter_of(row: Sequence[Any]) -> DeadLetter:
    """A dead letter from its fields, in the order of `DEAD_FIELDS`."""
    dead_id, account_id, psid, body, endpoint, created_at, failed_at, attempts, error = row
    return DeadLetter(
        id=int(dead_id),
        account_id=account_id,
        psid=psid,
        body=body,
        endpoint=endpoint,
        created_at=float(created_at),
        failed_at=float(failed_at),
        attempts=int(attempts),
        error=error,
    )


async def count_present(
    redis: RedisConnection,
    keys: Keys,
    listing: str,
    key_of: Callable[[PersonKeys, int], str],
    what: str,
) -> int:
    """How many of the rows a global listing (id -> person) names are in their person's
    keys: an id whose row a crash left unwritten, or forgot without its listing, is not
    counted (one round trip to read the listing, one for every row at once)."""
    client = redis.client
    listed: dict[str, str] = await redis.run(what, client.hgetall(listing))
    if not listed:
        return 0
    pipeline = client.pipeline(transaction=False)
    for row_id, person in listed.items():
        pipeline.exists(key_of(keys.person(person_of(person)[1]), int(row_id)))
    found: list[int] = await redis.run(what, pipeline.execute())
    return sum(found)
