"""The Redis store's outbox role: each person's replies in order, retried, dead-lettered.

A person's outbox on an account is a ZSET of message ids (`PersonKeys.outbox`) and a hash a
message (`PersonKeys.message`: its fields, and `owner`/`until` while leased); a dead letter
is the message's hash renamed (`PersonKeys.dead_letter`), in the same slot. What changes
them is one script on the person's slot; the global keys (`messages` and `dead_letters`:
id -> person, the outbox index, `held_by`) change in one script on the global slot before
and after it, in the order `redis_index.py` gives:

- enqueueing: the ids, `messages` entries and the index announcement first, then the
  person's script (refused, nothing written, when a claim closed the announcement: then
  announced again); a crash between leaves `messages` entries of no message and an index
  entry that a claim drops;
- sending, dead-lettering: the person's script forgets the message (and, with `then`,
  leases the person's next event when their outbox is now empty), then `messages` forgets
  it and the person is woken (their next message, or their inbox now free);
- a dead letter is listed in `dead_letters` before the message becomes one, forgotten
  after it is requeued or found gone.

On a single server (not a Cluster) every key is on one server, so sending does the global
step after in its own script (`_COMPLETE` composes `redis_index.INDEX_FUNCTIONS`): the same
rules, one round trip fewer, and nothing in between for a crash.

A crash between the person's script and the global one after it leaves an id in `messages`
whose message is gone (or never came): `count_outbound` counts the messages themselves, a
renewal reports it lost; nothing is sent twice and nothing waits for it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from runtime.store.base import (
    RETRY_LEASE_GRACE,
    DeadLetter,
    InboundEvent,
    Lease,
    NewOutbound,
    OutboundMessage,
)
from runtime.store.redis_connection import RedisConnection
from runtime.store.redis_index import INDEX_FUNCTIONS, IndexOps, Looked, claim_people, new
from runtime.store.redis_keys import Keys, PersonKeys, person_id, person_of
from runtime.store.redis_lua import (
    ENQUEUE,
    FENCES,
    HOLDS,
    OUTBOX_CLOSED,
    TAKE_EVENT,
    compose,
    registered,
)
from runtime.store.redis_rows import (
    DEAD_FIELDS,
    MESSAGE_FIELDS,
    count_present,
    dead_letter_of,
    events_of,
    message_of,
    outbound_row,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Announced:
    """Outbox ids given to one person's messages, announced in the index with `token`."""

    account_id: str
    psid: str
    ids: tuple[int, ...]
    token: int


async def announce_outbound(
    redis: RedisConnection,
    keys: Keys,
    account_id: str,
    psid: str,
    count: int,
    *,
    worker: str | None = None,
    until: float | None = None,
    ids: Sequence[int] = (),
) -> Announced:
    """Before a person's script enqueues `count` messages (`redis_lua.ENQUEUE`): their ids,
    the `messages` entries and the outbox index entry, in one global script. `worker`: the
    worker that will hold them leased, `until` till when (claims leave the person alone
    till then). `ids`: announce these again (a retry after the script returned
    OUTBOX_CLOSED) instead of new ones.

    The script must check `outbox_open(tag, account, token)` before any write and return
    OUTBOX_CLOSED when it fails; `enqueue_announced` runs that loop.
    """
    ops = IndexOps()
    announced = announce_in(ops, account_id, psid, count, worker=worker, until=until, ids=ids)
    return announced(await ops.run(redis, keys, "keep outbound messages"))


def announce_in(
    ops: IndexOps,
    account_id: str,
    psid: str,
    count: int,
    *,
    worker: str | None = None,
    until: float | None = None,
    ids: Sequence[int] = (),
) -> Callable[[Sequence[Any]], Announced]:
    """`announce_outbound`'s operations added to `ops` (to share its round trip with
    others); what they announced, from the results of `ops.run`."""
    person = person_id(account_id, psid)
    first = ops.new_ids("outbox", count) if not ids else None
    named: list[int | str] = list(ids) if ids else [new(n) for n in range(count)]
    ops.rows("messages", person, named)
    token = ops.announce("outbox", person, named[0], leased_until=until)
    if worker is not None:
        ops.hold(worker, [person])

    def announced(results: Sequence[Any]) -> Announced:
        given = (
            tuple(ids) if first is None else tuple(range(results[first], results[first] + count))
        )
        return Announced(account_id, psid, given, int(results[token]))

    return announced


async def enqueue_announced(
    redis: RedisConnection,
    keys: Keys,
    announced: Announced,
    run: Callable[[Announced], Awaitable[T]],
    *,
    worker: str | None = None,
) -> tuple[Announced, T]:
    """Run a person's script that enqueues `announced` (`run(announced)`), announcing again
    while it returns OUTBOX_CLOSED (a claim closed the announcement meanwhile: rare).
    Returns the announcement that landed and the script's result."""
    while True:
        result = await run(announced)
        if result != OUTBOX_CLOSED:
            return announced, result
        announced = await announce_outbound(
            redis,
            keys,
            announced.account_id,
            announced.psid,
            len(announced.ids),
            worker=worker,
            ids=announced.ids,
        )


async def withdraw_outbound(redis: RedisConnection, keys: Keys, ids: Sequence[int]) -> None:
    """After a person's script declined to enqueue announced messages: forget their ids
    (the index entry stays; a claim finds the outbox empty and drops it)."""
    ops = IndexOps()
    ops.unrows("messages", ids)
    await ops.run(redis, keys, "forget outbound messages")


async def outbox_dropped(
    redis: RedisConnection,
    keys: Keys,
    account_id: str,
    psid: str,
    ids: Sequence[int | str],
    freed: Sequence[str],
) -> None:
    """After a person's script dropped their outbox (`redis_lua.DROP_OUTBOX`): forget the
    ids, free the workers that held nothing more of theirs, wake their inbox (no reply
    holds it back now)."""
    person = person_id(account_id, psid)
    ops = IndexOps()
    if ids:
        ops.unrows("messages", [int(message_id) for message_id in ids])
    for worker in freed:
        ops.free(worker, [person])
    ops.wake("inbox", person)
    await ops.run(redis, keys, "drop outbound messages")


def _lua_names(fields: Sequence[str]) -> str:
    """Field names as Lua string literals, comma-separated."""
    return ", ".join(f"'{field}'" for field in fields)


# KEYS[1]: the person's outbox. ARGV: tag, account, psid, now, token, messages JSON
# ([[id, body, endpoint, send_by], ...]: `redis_rows.outbound_row`).
_ENQUEUE: Final = compose(
    ENQUEUE,
    """
local tag, account, psid, now, token = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if not outbox_open(tag, account, token) then return 'outbox-closed' end
enqueue(tag, account, psid, now, cjson.decode(ARGV[6]), false, false)
return 'ok'
""",
)

# KEYS[1]: the person's outbox. ARGV: tag, account, token, worker, now, lease_until.
# -> {state, until, oldest id, holds, freed workers, message fields}: `redis_index.Looked`.
_CLAIM: Final = compose(
    HOLDS,
    FENCES,
    f"""
local tag, account, token, worker, now, lease_until =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local first = redis.call('ZRANGE', k_outbox(tag, account), 0, 0)
if #first == 0 then
  raise_floor(tag, account, 'outbox_floor', token)
  return {{'empty', false, false, holds(tag, account, worker), {{}}, false}}
end
local id = first[1]
local key = k_message(tag, id)
local m = redis.call('HMGET', key, 'owner', 'until', 'next_attempt_at')
if m[1] and tonumber(m[2]) > tonumber(now) then
  return {{'busy', m[2], id, holds(tag, account, worker), {{}}, false}}
end
if tonumber(m[3]) > tonumber(now) then
  return {{'later', m[3], id, holds(tag, account, worker), {{}}, false}}
end
local owners = {{}}
if m[1] ~= worker then
  if m[1] then
    unhold(tag, account, m[1])
    table.insert(owners, m[1])
  end
  hold(tag, account, worker)
end
redis.call('HSET', key, 'owner', worker, 'until', lease_until)
local row = redis.call('HMGET', key, {_lua_names(MESSAGE_FIELDS)})
return {{'claimed', lease_until, id, 1, freed_of(tag, account, owners), row}}
""",
)

# What follows a message's leaving the outbox (sent, or dead): `after_sent(tag, account,
# token, worker, then_now, then_until, owners)` -> {the person's next message id or
# false, freed workers, the event leased by `then` or false, whether `worker` holds any}.
_AFTER_SENT: Final = compose(
    TAKE_EVENT,
    """
local function after_sent(tag, account, token, worker, then_now, then_until, owners)
  local rest = redis.call('ZRANGE', k_outbox(tag, account), 0, 0)
  local event = false
  if #rest == 0 then
    raise_floor(tag, account, 'outbox_floor', token)
    if worker ~= '' then
      local state, id = inbox_head(tag, account, then_now)
      if state == 'free' then
        local previous
        previous, event = lease_event(tag, account, id, worker, then_until)
        if previous then table.insert(owners, previous) end
      end
    end
  end
  local holding = 0
  if worker ~= '' then holding = holds(tag, account, worker) end
  return {rest[1] or false, freed_of(tag, account, owners), event, holding}
end
""",
)

# KEYS[1]: the person's outbox. ARGV: tag, account, token, then_worker ('' for none),
# then_now, then_until, person id, global prefix, ids... -> after_sent's answer. With a
# global prefix (a single server, not a Cluster: `RedisConnection.cluster`), the script
# also does the global post-step (`redis_index.INDEX_FUNCTIONS`: the ids forgotten,
# `after_sent_index`), which is otherwise the caller's, in a script of its own.
_COMPLETE: Final = compose(
    _AFTER_SENT,
    INDEX_FUNCTIONS,
    """
local tag, account = ARGV[1], ARGV[2]
local owners = {}
for i = 9, #ARGV do
  local key = k_message(tag, ARGV[i])
  local owner = redis.call('HGET', key, 'owner')
  if owner then
    unhold(tag, account, owner)
    table.insert(owners, owner)
  end
  redis.call('DEL', key)
  redis.call('ZREM', k_outbox(tag, account), ARGV[i])
end
local answer = after_sent(tag, account, ARGV[3], ARGV[4], ARGV[5], ARGV[6], owners)
if ARGV[8] ~= '' then
  index_prefix = ARGV[8]
  for i = 9, #ARGV do redis.call('HDEL', g('messages'), ARGV[i]) end
  after_sent_index(ARGV[7], ARGV[3], ARGV[4], answer[1] or '', answer[4], answer[2])
end
return answer
""",
)

# KEYS[1]: the person's outbox. ARGV: tag, account, token, then_worker, then_now,
# then_until, id, now, error -> {'gone'}, or {'dead', after_sent's answer}.
_DEAD_LETTER: Final = compose(
    _AFTER_SENT,
    """
local tag, account, id, now, err = ARGV[1], ARGV[2], ARGV[7], ARGV[8], ARGV[9]
local key = k_message(tag, id)
if redis.call('EXISTS', key) == 0 then return {'gone'} end
local m = redis.call('HMGET', key, 'owner', 'attempts')
local owners = {}
if m[1] then
  unhold(tag, account, m[1])
  table.insert(owners, m[1])
end
redis.call('HDEL', key, 'owner', 'until', 'next_attempt_at', 'last_error')
redis.call('HSET', key, 'attempts', tonumber(m[2]) + 1, 'failed_at', now, 'error', err)
redis.call('RENAME', key, k_dead(tag, id))
redis.call('ZREM', k_outbox(tag, account), id)
return {'dead', after_sent(tag, account, ARGV[3], ARGV[4], ARGV[5], ARGV[6], owners)}
""",
)

# KEYS[1]: the person's outbox. ARGV: tag, id, at, error, grace_until -> 1, or 0 (gone).
_RETRY: Final = compose(
    HOLDS,
    """
local key = k_message(ARGV[1], ARGV[2])
if redis.call('EXISTS', key) == 0 then return 0 end
redis.call('HINCRBY', key, 'attempts', 1)
redis.call('HSET', key, 'next_attempt_at', ARGV[3], 'last_error', ARGV[4])
if redis.call('HEXISTS', key, 'owner') == 1 then
  redis.call('HSET', key, 'until', ARGV[5])
end
return 1
""",
)

# KEYS[1]: the person's outbox. ARGV: tag, account, token, dead id, new id, now ->
# 'ok', 'gone' or OUTBOX_CLOSED.
_REQUEUE: Final = compose(
    ENQUEUE,
    """
local tag, account, token, dead_id, new_id, now =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if not outbox_open(tag, account, token) then return 'outbox-closed' end
local key = k_dead(tag, dead_id)
if redis.call('EXISTS', key) == 0 then return 'gone' end
local d = redis.call('HMGET', key, 'psid', 'body', 'endpoint')
enqueue(tag, account, d[1], now, {{new_id, d[2], d[3]}}, false, false)
redis.call('DEL', key)
return 'ok'
""",
)

OUTBOX_GONE: Final = "gone"


class RedisOutbox:
    """`enqueue_outbound` ... `count_outbound`, for `RedisStore`, on its `_redis`."""

    _redis: RedisConnection
    _keys: Keys

    async def enqueue_outbound(self, messages: Sequence[NewOutbound], *, now: float) -> list[int]:
        if not messages:
            return []
        by_person: dict[tuple[str, str], list[int]] = {}
        for index, message in enumerate(messages):
            by_person.setdefault((message.account_id, message.psid), []).append(index)
        ops = IndexOps()
        first_at = ops.new_ids("outbox", len(messages))
        tokens: dict[tuple[str, str], int] = {}
        for (account_id, psid), indexes in by_person.items():
            person = person_id(account_id, psid)
            ops.rows("messages", person, [new(index) for index in indexes])
            tokens[(account_id, psid)] = ops.announce("outbox", person, new(indexes[0]))
        results = await ops.run(self._redis, self._keys, "keep outbound messages")
        first = int(results[first_at])
        ids = [first + index for index in range(len(messages))]

        async def land(sender: tuple[str, str], indexes: list[int]) -> None:
            announced = Announced(
                sender[0],
                sender[1],
                tuple(ids[index] for index in indexes),
                int(results[tokens[sender]]),
            )
            batch = [messages[index] for index in indexes]
            await enqueue_announced(
                self._redis,
                self._keys,
                announced,
                lambda a: self._enqueue_script(a, batch, now),
            )

        await asyncio.gather(*(land(sender, indexes) for sender, indexes in by_person.items()))
        return ids

    async def _enqueue_script(
        self, announced: Announced, messages: Sequence[NewOutbound], now: float
    ) -> Any:
        person = self._keys.person(announced.psid)
        rows = [
            outbound_row(message_id, message)
            for message_id, message in zip(announced.ids, messages, strict=True)
        ]
        return await self._redis.call(
            "keep outbound messages",
            registered(self._redis, _ENQUEUE),
            [person.outbox(announced.account_id)],
            [
                person.tag,
                announced.account_id,
                announced.psid,
                repr(now),
                announced.token,
                json.dumps(rows),
            ],
        )

    async def claim_outbound(
        self, worker: str, *, now: float, lease: float, limit: int
    ) -> list[OutboundMessage]:
        until = repr(now + lease)

        async def look(person: str, token: str) -> Looked:
            account_id, psid = person_of(person)
            keys = self._keys.person(psid)
            return Looked.of(
                await self._redis.call(
                    "claim outbound messages",
                    registered(self._redis, _CLAIM),
                    [keys.outbox(account_id)],
                    [keys.tag, account_id, token, worker, repr(now), until],
                )
            )

        taken = await claim_people(
            self._redis,
            self._keys,
            "outbox",
            worker,
            now=now,
            lease=lease,
            limit=max(limit, 0),
            look=look,
            what="claim outbound messages",
        )
        messages = [message_of(looked.row) for looked in taken if looked.row is not None]
        return sorted(messages, key=lambda message: message.id)

    async def complete_outbound(
        self, *message_ids: int, then: Lease | None = None
    ) -> list[InboundEvent]:
        if not message_ids:
            return []
        what = "complete outbound messages"
        people = await self._locate(message_ids, then, what)
        here = not self._redis.cluster  # the scripts do the global post-step themselves
        answers = await asyncio.gather(
            *(
                self._redis.call(
                    what,
                    registered(self._redis, _COMPLETE),
                    [self._keys.person(psid).outbox(account_id)],
                    [
                        self._keys.person(psid).tag,
                        account_id,
                        token,
                        *_then_args(then),
                        person_id(account_id, psid),
                        self._keys.global_prefix if here else "",
                        *[str(message_id) for message_id in ids],
                    ],
                )
                for (account_id, psid, token), ids in people.items()
            )
        )
        rows = [answer[2] for answer in answers if answer[2] is not None]
        if not here:
            after = IndexOps()
            after.unrows("messages", message_ids)
            self._after_sent(after, list(people), answers, then)
            await after.run(self._redis, self._keys, what)
        return await events_of(self._redis, self._keys, rows, what)

    async def _locate(
        self, message_ids: Sequence[int], then: Lease | None, what: str, *, dead: bool = False
    ) -> dict[tuple[str, str, str], list[int]]:
        """The people of these messages (account, psid, outbox token) and their ids, held
        for `then`'s worker (and listed as dead letters, with `dead`), before their
        scripts."""
        ops = IndexOps()
        at = ops.locate(
            "messages",
            message_ids,
            queue="outbox",
            hold=None if then is None else then.worker,
            copy_to="dead_letters" if dead else None,
        )
        found = (await ops.run(self._redis, self._keys, what))[at]
        people: dict[tuple[str, str, str], list[int]] = {}
        for message_id, (person, token) in zip(message_ids, found, strict=True):
            if person:
                account_id, psid = person_of(person)
                people.setdefault((account_id, psid, token), []).append(message_id)
        return people

    def _after_sent(
        self,
        after: IndexOps,
        people: Sequence[tuple[str, str, str]],
        answers: Sequence[Sequence[Any]],
        then: Lease | None,
    ) -> list[Sequence[Any]]:
        """The global changes after messages left these people's outboxes; the events
        `then` leased."""
        rows = []
        for (account_id, psid, token), answer in zip(people, answers, strict=True):
            next_id, freed, event, holding = answer
            worker = "" if then is None else then.worker
            after.after_sent(person_id(account_id, psid), token, worker, next_id, holding, freed)
            if event is not None:
                rows.append(event)
        return rows

    async def retry_outbound(self, message_id: int, *, at: float, error: str) -> None:
        what = "schedule an outbound retry"
        for account_id, psid, _ in await self._locate([message_id], None, what):
            keys = self._keys.person(psid)
            await self._redis.call(
                what,
                registered(self._redis, _RETRY),
                [keys.outbox(account_id)],
                [keys.tag, str(message_id), repr(at), error, repr(at + RETRY_LEASE_GRACE)],
            )
            # its lease may now end sooner than the person was parked for: look again
            after = IndexOps()
            after.wake("outbox", person_id(account_id, psid))
            await after.run(self._redis, self._keys, what)

    async def dead_letter_outbound(
        self, message_id: int, *, now: float, error: str, then: Lease | None = None
    ) -> list[InboundEvent]:
        what = "dead-letter an outbound message"
        people = await self._locate([message_id], then, what, dead=True)
        if not people:
            return []
        [(account_id, psid, token)] = people
        keys = self._keys.person(psid)
        answer = await self._redis.call(
            what,
            registered(self._redis, _DEAD_LETTER),
            [keys.outbox(account_id)],
            [keys.tag, account_id, token, *_then_args(then), str(message_id), repr(now), error],
        )
        after = IndexOps()
        after.unrows("messages", [message_id])
        rows: list[Sequence[Any]] = []
        if answer[0] == OUTBOX_GONE:
            after.unrows("dead_letters", [message_id])
            if then is not None:
                after.free(then.worker, [person_id(account_id, psid)])
        else:
            rows = self._after_sent(after, [(account_id, psid, token)], [answer[1]], then)
        await after.run(self._redis, self._keys, what)
        return await events_of(self._redis, self._keys, rows, what)

    async def list_dead_letters(self) -> list[DeadLetter]:
        what = "list dead letters"
        client = self._redis.client
        listed: dict[str, str] = await self._redis.run(
            what, client.hgetall(self._keys.dead_letters)
        )
        if not listed:
            return []
        pipeline = client.pipeline(transaction=False)
        for dead_id, person in listed.items():
            _, psid = person_of(person)
            pipeline.hmget(self._keys.person(psid).dead_letter(int(dead_id)), list(DEAD_FIELDS))
        rows = await self._redis.run(what, pipeline.execute())
        letters = [dead_letter_of(row) for row in rows if row[0] is not None]
        return sorted(letters, key=lambda dead: (dead.failed_at, dead.id))

    async def requeue_dead_letter(self, dead_letter_id: int, *, now: float) -> bool:
        what = "requeue a dead letter"
        ops = IndexOps()
        at = ops.locate("dead_letters", [dead_letter_id])
        [(person, _)] = (await ops.run(self._redis, self._keys, what))[at]
        if not person:
            return False
        account_id, psid = person_of(person)
        keys = self._keys.person(psid)
        announced = await announce_outbound(self._redis, self._keys, account_id, psid, 1)

        async def run(announced: Announced) -> Any:
            return await self._redis.call(
                what,
                registered(self._redis, _REQUEUE),
                [keys.outbox(account_id)],
                [
                    keys.tag,
                    account_id,
                    announced.token,
                    str(dead_letter_id),
                    str(announced.ids[0]),
                    repr(now),
                ],
            )

        announced, result = await enqueue_announced(self._redis, self._keys, announced, run)
        after = IndexOps()
        after.unrows("dead_letters", [dead_letter_id])
        if result == OUTBOX_GONE:
            after.unrows("messages", announced.ids)
        await after.run(self._redis, self._keys, what)
        return bool(result != OUTBOX_GONE)

    async def count_outbound(self) -> int:
        return await count_present(
            self._redis,
            self._keys,
            self._keys.messages,
            PersonKeys.message,
            "count outbound messages",
        )


def _then_args(then: Lease | None) -> list[str]:
    """The then_worker, then_now, then_until arguments of the scripts."""
    if then is None:
        return ["", "0", "0"]
    return [then.worker, repr(then.now), repr(then.until)]
