"""The Redis store's inbox role: webhook events kept once, each person's processed in order.

A person's inbox on an account is a ZSET of event ids (`PersonKeys.inbox`) and a hash an
event (`PersonKeys.event`: its fields, the session key, `owner`/`until` while leased).
Message ids seen are a key each in the person's slot (`PersonKeys.seen`: the last sighting,
in the caller's time; Redis forgets it a while after the dedupe ttl), so deduplicating,
keeping, leasing and the 24-hour window are one script. Message ids belong to one sender,
so a person's slot is where a redelivery is found. The session of the usual key
(`...:messenger:dm:<psid>`) is in the same slot: claimed and finished with the event.

The global keys change next to each script, in the order `redis_index.py` gives:

- accepting: the ids (in order within a call, and across the calls of one process), the
  `events` entries and the inbox announcement first; then each person's script (refused,
  nothing written, when a claim closed the announcement: announced again); then the ids
  of the redeliveries are forgotten and a person leased at once is parked until the lease
  ends. A crash between leaves `events` entries of no event (`count_inbound` counts the
  events themselves) and an entry a claim drops.
- finishing: the session's listing, the replies' ids and outbox announcement, the new
  timers' index entries first (`redis_timers.py`); then the person's script (the session,
  the replies leased to the worker, the timers set and cancelled, the event gone, or
  nothing when the event is no longer the worker's); then the event's id is forgotten,
  the person woken when no reply holds their next event back, and the index entries of
  the timers removed leave. A crash between leaves the person parked until the lease's
  end at most, and stale timer entries a firing skips and cleans.
- completing, releasing: the person's script, then the id forgotten, the person woken.

On a single server (not a Cluster) a turn's script does its global step after itself
(`_FINISH` composes `redis_index.INDEX_FUNCTIONS`): the same rules, one round trip fewer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Final

from runtime.errors import StoreError
from runtime.session import Session
from runtime.store.base import (
    NO_TIMER_CHANGES,
    Accepted,
    InboundEvent,
    Lease,
    NewInbound,
    NewOutbound,
    TimerChanges,
)
from runtime.store.redis_connection import RedisConnection
from runtime.store.redis_index import INDEX_FUNCTIONS, IndexOps, Looked, claim_people, new
from runtime.store.redis_keys import Keys, PersonKeys, person_id, person_of
from runtime.store.redis_lua import (
    CHANGE_TIMERS,
    ENQUEUE,
    INBOX_CLOSED,
    OUTBOX_CLOSED,
    QUEUE_EVENT,
    TAKE_EVENT,
    TIMERS_CLOSED,
    compose,
    registered,
)
from runtime.store.redis_outbox import (
    Announced,
    announce_in,
    announce_outbound,
)
from runtime.store.redis_rows import (
    count_present,
    events_of,
    in_slot,
    outbound_row,
    session_in_slot,
)
from runtime.store.redis_timers import GivenTimers, give_again, timers_by_person

# A person whose next event waits for their replies is looked at again after this long,
# should the worker sending them die before it wakes them (sent replies wake them at once).
WAITING_RECHECK: Final = 60.0
# Redis forgets a message id this long after the caller's dedupe ttl ran out: a caller's
# clock a little behind Redis's never finds an id gone before its time.
SEEN_MARGIN: Final = 60.0

# KEYS[1]: the person's inbox. ARGV: tag, account, psid, now, dedupe ttl, token, worker
# ('' for no lease), lease_until, events JSON ([[id, message id or '', body, at or '',
# session key or '', the session's Redis key when in this slot or ''], ...]), margin,
# person id, global prefix ('' on a Cluster: there the caller does the global step after).
# With a global prefix (a single server) the script does it itself
# (`redis_index.after_accept_index`): one round trip fewer.
# -> INBOX_CLOSED, or {kept ids, the event leased or false, 1 when the inbox is empty,
#    whether the worker holds a lease of theirs}.
_ACCEPT: Final = compose(
    QUEUE_EVENT,
    INDEX_FUNCTIONS,
    """
local tag, account, psid, now, ttl, token, worker, lease_until =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
if not inbox_open(tag, account, token) then return 'inbox-closed' end
local waiting = inbox_waiting(tag, account)
local cutoff = tonumber(now) - tonumber(ttl)
local kept, claimed, latest = {}, false, false
for _, e in ipairs(cjson.decode(ARGV[9])) do
  local id, message_id = e[1], e[2]
  local keep = true
  if message_id ~= '' then
    local key = k_seen(tag, message_id)
    local seen = redis.call('GET', key)
    local last = now
    if seen and tonumber(seen) >= cutoff then
      keep = false
      if tonumber(seen) > tonumber(now) then last = seen end
    end
    local keep_ms = (tonumber(last) - tonumber(now) + tonumber(ttl) + tonumber(ARGV[10])) * 1000
    redis.call('SET', key, last, 'PX', math.max(1, math.floor(keep_ms)))
  end
  if keep then
    local event = queue_event(tag, account, psid, id, e[3], now, e[5], e[6], worker,
      lease_until, waiting)
    if event then claimed = event end
    table.insert(kept, id)
    waiting = true
    if e[4] ~= '' and (not latest or tonumber(e[4]) > tonumber(latest)) then latest = e[4] end
  end
end
if latest then
  local last = redis.call('GET', k_last(tag, account))
  if not last or tonumber(latest) > tonumber(last) then
    redis.call('SET', k_last(tag, account), latest)
  end
end
local empty, holding = queue_settled(tag, account, token, worker)
if ARGV[12] ~= '' then
  index_prefix = ARGV[12]
  local dropped, given = {}, {}
  for _, id in ipairs(kept) do given[id] = true end
  for _, e in ipairs(cjson.decode(ARGV[9])) do
    if not given[e[1]] then table.insert(dropped, e[1]) end
  end
  local leased_until = ''
  if claimed then leased_until = lease_until end
  after_accept_index(ARGV[11], token, worker, leased_until, tostring(empty), holding, dropped)
end
return {kept, claimed, empty, holding}
""",
)

# KEYS[1]: the person's inbox. ARGV: tag, account, token, worker, now, lease_until.
# -> {state, until, oldest id, holds, freed workers, event}: `redis_index.Looked`.
_CLAIM: Final = compose(
    TAKE_EVENT,
    """
local tag, account, token, worker, now, lease_until =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local state, id, busy_until = inbox_head(tag, account, now)
if state == 'empty' then
  raise_floor(tag, account, 'inbox_floor', token)
  return {'empty', false, false, holds(tag, account, worker), {}, false}
end
if state ~= 'free' then
  return {state, busy_until, id, holds(tag, account, worker), {}, false}
end
local previous, event = lease_event(tag, account, id, worker, lease_until)
local owners = {}
if previous then table.insert(owners, previous) end
return {'claimed', lease_until, id, 1, freed_of(tag, account, owners), event}
""",
)

# KEYS[1]: the person's inbox. ARGV: tag, account, psid, event id, worker, now,
# lease_until, outbox token, inbox token, the session's Redis key ('' for none), the
# session JSON, replies JSON (`redis_rows.outbound_row`s), person id, global prefix, the
# timer changes JSON (`redis_timers.PersonTimers.arg`, '' for none).
# -> 'not-yours', OUTBOX_CLOSED, TIMERS_CLOSED, or {'done', their next event id or false,
#    holds, the members of the timers it cancelled or replaced}.
# With a global prefix (a single server), the script does the global step after
# (`redis_index.after_finish_index`, the timers' members removed) itself.
_FINISH: Final = compose(
    ENQUEUE,
    TAKE_EVENT,
    CHANGE_TIMERS,
    INDEX_FUNCTIONS,
    """
local tag, account, psid, id, worker, now, lease_until =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local key = k_event(tag, id)
local replies = cjson.decode(ARGV[12])
local changes = false
if ARGV[15] ~= '' then changes = cjson.decode(ARGV[15]) end
local function after(done, oldest, holding, gone)
  if ARGV[14] == '' then return end
  index_prefix = ARGV[14]
  local ids, has = {}, '0'
  for _, r in ipairs(replies) do table.insert(ids, r[1]); has = '1' end
  after_finish_index(ARGV[13], ARGV[9], worker, id, done, oldest, has, holding, ids)
  timers_gone(gone, 1)
end
if redis.call('HGET', key, 'owner') ~= worker then
  local unkept = {}  -- the members given the timers of a turn kept nowhere
  if changes then
    for _, t in ipairs(changes.set) do table.insert(unkept, t[4]) end
  end
  after('0', '', 1, unkept)
  return 'not-yours'
end
if #replies > 0 and not outbox_open(tag, account, ARGV[8]) then return 'outbox-closed' end
if changes and not timers_open(tag, account, changes) then return 'timers-closed' end
if ARGV[10] ~= '' then redis.call('SET', ARGV[10], ARGV[11]) end
enqueue(tag, account, psid, now, replies, worker, lease_until)
local gone = {}
if changes then gone = change_timers(tag, account, changes) end
redis.call('DEL', key)
redis.call('ZREM', k_inbox(tag, account), id)
unhold(tag, account, worker)
local rest = redis.call('ZRANGE', k_inbox(tag, account), 0, 0)
if #rest == 0 then raise_floor(tag, account, 'inbox_floor', ARGV[9]) end
local holding = holds(tag, account, worker)
after('1', rest[1] or '', holding, gone)
return {'done', rest[1] or false, holding, gone}
""",
)

# KEYS[1]: the person's inbox. ARGV: tag, account, event id, inbox token, forget (1: the
# event is done, 0: only its lease is given back).
# -> {their next event id or false, freed workers}.
_LET_GO: Final = compose(
    TAKE_EVENT,
    """
local tag, account, id = ARGV[1], ARGV[2], ARGV[3]
local key = k_event(tag, id)
local owner = redis.call('HGET', key, 'owner')
local owners = {}
if owner then
  unhold(tag, account, owner)
  table.insert(owners, owner)
end
if ARGV[5] == '1' then
  redis.call('DEL', key)
  redis.call('ZREM', k_inbox(tag, account), id)
elseif redis.call('EXISTS', key) == 1 then
  redis.call('HDEL', key, 'owner', 'until')
end
local rest = redis.call('ZRANGE', k_inbox(tag, account), 0, 0)
if #rest == 0 then raise_floor(tag, account, 'inbox_floor', ARGV[4]) end
return {rest[1] or false, freed_of(tag, account, owners)}
""",
)

_NOT_YOURS: Final = "not-yours"
Sender = tuple[str, str]


class AcceptOrder:
    """The order of this process's `accept_inbound` calls: a sender's events land in their
    slot in the order of their ids (so of two POSTs carrying one message id, the first
    keeps it), while other senders land at once. The ids are given by the index script in
    the order the calls are made (`IndexOps.run_in_order`), and each call takes its turn
    here in that same order, with no await between the two: no lock is held across a round
    trip, so accepts are not one at a time.
    """

    def __init__(self) -> None:
        self._last: dict[Sender, asyncio.Future[None]] = {}

    def queue(self, sender: Sender) -> tuple[asyncio.Future[None] | None, asyncio.Future[None]]:
        """Right after the call's ids were asked for: what its landing for `sender` waits
        for, and its own turn, to be done when it landed (`done`)."""
        before = self._last.get(sender)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._last[sender] = mine
        return before, mine

    def done(self, sender: Sender, mine: asyncio.Future[None]) -> None:
        if not mine.done():
            mine.set_result(None)
        if self._last.get(sender) is mine:
            del self._last[sender]


class RedisInbox:
    """`accept_inbound` ... `count_inbound`, for `RedisStore`, on its `_redis`."""

    _redis: RedisConnection
    _keys: Keys
    _accept_order: AcceptOrder

    async def accept_inbound(
        self,
        events: Sequence[NewInbound],
        *,
        now: float,
        dedupe_ttl: float,
        lease: Lease | None = None,
    ) -> Accepted:
        what = "accept inbound events"
        if not events:
            self._redis.client  # noqa: B018 (a closed store says so)
            return Accepted(ids=())
        by_sender: dict[Sender, list[int]] = {}
        for index, event in enumerate(events):
            by_sender.setdefault((event.account_id, event.psid), []).append(index)
        ops = IndexOps()
        first_at = ops.new_ids("inbox", len(events))
        token_at: dict[Sender, int] = {}
        for (account_id, psid), indexes in by_sender.items():
            person = person_id(account_id, psid)
            ops.rows("events", person, [new(index) for index in indexes])
            token_at[(account_id, psid)] = ops.announce("inbox", person, new(indexes[0]))
        if lease is not None:
            ops.hold(lease.worker, [person_id(*sender) for sender in by_sender])
        order = self._accept_order
        given = ops.run_in_order(self._redis, self._keys, what)  # ids in the order of calls
        turns = {sender: order.queue(sender) for sender in by_sender}  # the same order

        async def land(sender: Sender, indexes: list[int]) -> tuple[int, list[Any]]:
            before, mine = turns[sender]
            try:
                if before is not None:
                    await asyncio.wait([before])  # its outcome is its caller's
                return await land_now(sender, indexes)
            finally:
                order.done(sender, mine)

        async def land_now(sender: Sender, indexes: list[int]) -> tuple[int, list[Any]]:
            token = int(results[token_at[sender]])
            batch = [(first + index, events[index]) for index in indexes]
            while True:
                answer = await self._accept_script(sender, batch, token, now, dedupe_ttl, lease)
                if answer != INBOX_CLOSED:
                    return token, answer
                again = IndexOps()
                at = again.announce("inbox", person_id(*sender), first + indexes[0])
                token = int((await again.run(self._redis, self._keys, what))[at])

        try:
            results = await given
            first = int(results[first_at])
            answers = await asyncio.gather(*(land(s, ids) for s, ids in by_sender.items()))
        finally:  # a landing cancelled (or failed) before it began holds no one up
            for sender, (_, mine) in turns.items():
                order.done(sender, mine)
        kept: set[int] = set()
        claimed: list[Sequence[Any]] = []
        after = IndexOps()  # on a Cluster; on a single server each script did its share
        for (sender, indexes), (token, answer) in zip(by_sender.items(), answers, strict=True):
            kept_ids, event, empty, holding = answer
            kept.update(int(event_id) for event_id in kept_ids)
            if event is not None and lease is not None:
                claimed.append(event)
            if self._redis.cluster:
                after.after_accept(
                    person_id(*sender),
                    str(token),
                    "" if lease is None else lease.worker,
                    leased_until=None if event is None or lease is None else lease.until,
                    empty=bool(empty),
                    holding=holding,
                    dropped=[first + i for i in indexes if first + i not in kept],
                )
        await after.run(self._redis, self._keys, what)
        ids = [first + index for index in range(len(events))]
        leased = await events_of(self._redis, self._keys, claimed, what)
        return Accepted(
            ids=tuple(event_id for event_id in ids if event_id in kept),
            claimed=tuple(sorted(leased, key=lambda event: event.id)),
        )

    async def _accept_script(
        self,
        sender: Sender,
        batch: Sequence[tuple[int, NewInbound]],
        token: int,
        now: float,
        dedupe_ttl: float,
        lease: Lease | None,
    ) -> Any:
        account_id, psid = sender
        keys = self._keys.person(psid)
        rows = [
            [
                str(event_id),
                event.message_id or "",
                event.body,
                "" if event.at is None else repr(event.at),
                event.session_key or "",
                session_in_slot(self._keys, event.session_key, psid),
            ]
            for event_id, event in batch
        ]
        return await self._redis.call(
            "accept inbound events",
            registered(self._redis, _ACCEPT),
            [keys.inbox(account_id)],
            [
                keys.tag,
                account_id,
                psid,
                repr(now),
                repr(dedupe_ttl),
                token,
                "" if lease is None else lease.worker,
                "" if lease is None else repr(lease.until),
                json.dumps(rows),
                repr(SEEN_MARGIN),
                person_id(account_id, psid),
                "" if self._redis.cluster else self._keys.global_prefix,
            ],
        )

    async def claim_inbound(
        self, worker: str, *, now: float, lease: float, limit: int
    ) -> list[InboundEvent]:
        what = "claim inbound events"
        until = repr(now + lease)
        recheck = repr(now + WAITING_RECHECK)

        async def look(person: str, token: str) -> Looked:
            account_id, psid = person_of(person)
            keys = self._keys.person(psid)
            looked = Looked.of(
                await self._redis.call(
                    what,
                    registered(self._redis, _CLAIM),
                    [keys.inbox(account_id)],
                    [keys.tag, account_id, token, worker, repr(now), until],
                )
            )
            return replace(looked, until=recheck) if looked.state == "waiting" else looked

        taken = await claim_people(
            self._redis,
            self._keys,
            "inbox",
            worker,
            now=now,
            lease=lease,
            limit=max(limit, 0),
            look=look,
            what=what,
        )
        rows = [looked.row for looked in taken if looked.row is not None]
        events = await events_of(self._redis, self._keys, rows, what)
        return sorted(events, key=lambda event: event.id)

    async def complete_inbound(self, event_id: int) -> None:
        await self._let_go(event_id, forget=True, what="complete an inbound event")

    async def release_inbound(self, event_id: int) -> None:
        await self._let_go(event_id, forget=False, what="release an inbound event")

    async def _let_go(self, event_id: int, *, forget: bool, what: str) -> None:
        ops = IndexOps()
        at = ops.locate("events", [event_id], queue="inbox")
        [(person, token)] = (await ops.run(self._redis, self._keys, what))[at]
        if not person:
            return
        account_id, psid = person_of(person)
        keys = self._keys.person(psid)
        oldest, freed = await self._redis.call(
            what,
            registered(self._redis, _LET_GO),
            [keys.inbox(account_id)],
            [keys.tag, account_id, str(event_id), token, "1" if forget else "0"],
        )
        after = IndexOps()
        if forget:
            after.unrows("events", [event_id])
        if oldest is None:
            after.drop("inbox", person, token)
        else:
            after.wake("inbox", person, int(oldest))
        for worker in freed:
            after.free(worker, [person])
        await after.run(self._redis, self._keys, what)

    async def finish_inbound(
        self,
        event_id: int,
        *,
        session: Session | None,
        outbound: Sequence[NewOutbound],
        now: float,
        worker: str,
        lease: float,
        timers: TimerChanges = NO_TIMER_CHANGES,
    ) -> list[int] | None:
        what = "finish an inbound event"
        senders = {(message.account_id, message.psid) for message in outbound}
        if len(senders) > 1:
            raise StoreError(
                f"cannot {what}: a turn's replies go to its sender, these go to {len(senders)}"
            )
        timers_of = timers_by_person(timers)
        if len(timers_of) > 1:
            raise StoreError(
                f"cannot {what}: a turn's timers are its sender's, these are {len(timers_of)} "
                "people's"
            )
        own_timers = next(iter(timers_of.values()), None)
        ops = IndexOps()
        at = ops.locate("events", [event_id], queue="inbox")
        if session is not None:
            ops.session(session.key, session.updated_at)
        announcing = None
        if outbound:  # their sender is the event's (checked below): announced at once
            [(sender_account, sender_psid)] = senders
            announcing = announce_in(
                ops, sender_account, sender_psid, len(outbound), worker=worker, until=now + lease
            )
        giving = None if own_timers is None else own_timers.give(ops)
        results = await ops.run(self._redis, self._keys, what)
        [(person, inbox_token)] = results[at]
        announced = Announced("", "", (), 0) if announcing is None else announcing(results)
        given = GivenTimers() if giving is None else giving(results)
        if not person or not {*senders, *timers_of} <= {person_of(person)}:
            withdraw = IndexOps()  # the index entry stays: a claim finds the outbox empty
            if announced.ids:
                withdraw.unrows("messages", announced.ids)
            if given.members:
                withdraw.timers_gone(given.members)
            await withdraw.run(self._redis, self._keys, what)
            if not person:
                return None
            raise StoreError(
                f"cannot {what}: a turn's replies and timers are its sender's, "
                f"{person_of(person)[1]}"
            )
        account_id, psid = person_of(person)
        session_key = ""
        if session is not None:
            if in_slot(self._keys, session.key, psid):
                session_key = self._keys.session(session.key)
            else:  # a session of another form: not in the person's slot, saved first
                await self._redis.run(
                    what, self._redis.client.set(self._keys.session(session.key), session.to_json())
                )
        keys = self._keys.person(psid)
        while True:
            replies = [
                outbound_row(message_id, message)
                for message_id, message in zip(announced.ids, outbound, strict=True)
            ]
            answer = await self._redis.call(
                what,
                registered(self._redis, _FINISH),
                [keys.inbox(account_id)],
                [
                    keys.tag,
                    account_id,
                    psid,
                    str(event_id),
                    worker,
                    repr(now),
                    repr(now + lease),
                    announced.token,
                    inbox_token,
                    session_key,
                    "" if session is None else session.to_json(),
                    json.dumps(replies),
                    person,
                    "" if self._redis.cluster else self._keys.global_prefix,
                    "" if own_timers is None else own_timers.arg(self._keys, given),
                ],
            )
            if answer == OUTBOX_CLOSED:
                announced = await announce_outbound(
                    self._redis,
                    self._keys,
                    account_id,
                    psid,
                    len(outbound),
                    worker=worker,
                    until=now + lease,
                    ids=announced.ids,
                )
            elif answer == TIMERS_CLOSED and own_timers is not None:
                given = await give_again(self._redis, self._keys, own_timers, given, what)
            else:
                break
        done = answer != _NOT_YOURS
        if self._redis.cluster:  # on a single server the script did this itself
            after = IndexOps()
            oldest, holding, gone = answer[1:] if done else (None, 1, given.members)
            after.after_finish(
                person,
                inbox_token,
                worker,
                event_id,
                done=done,
                oldest=oldest,
                replies=announced.ids,
                holding=holding,
            )
            if gone:
                after.timers_gone(gone)
            await after.run(self._redis, self._keys, what)
        return list(announced.ids) if done else None

    async def count_inbound(self) -> int:
        return await count_present(
            self._redis, self._keys, self._keys.events, PersonKeys.event, "count inbound events"
        )
