"""The Redis store's timers role: each person's pending timers, fired once into their inbox.

A person's timers on an account are a hash in their slot (`PersonKeys.timers`: slot -> JSON
{id, due_at, body, session_key, session, member}). The global `timers` ZSET
(`Keys.timers`) lists every timer by due time, for firing and listing: a member is one
setting of one timer, JSON [timer id, person_id, slot], its id from the global counter
(`Keys.timer_ids`), so a timer set again is another member. A member whose id its person
no longer holds (cancelled, replaced, fired, or never kept) is stale: whoever reads it
skips it, and a firing removes it.

The global keys change next to each person's script, in the order `redis_index.py` gives:

- setting and cancelling (`change_timers`; a turn's finish keeps its timers in its own
  script, with its session and replies, `redis_inbox.py`): the new ids and members first;
  then the person's script (the cancelled and the replaced timers removed, the new ones
  kept); then the members of the timers it removed leave `timers`. A crash between leaves
  a stale member, never a timer without one.
- firing: the due members read, earliest first, each given an inbox event id and its
  person announced in the inbox index, as an accept's pre-step does; then one script per
  person: each timer still held with that id is removed and its body queued as the
  person's newest inbox event, leased at once as an accept would (`redis_lua.QUEUE_EVENT`);
  then the members leave `timers` and the inbox index is settled as after an accept
  (`redis_index.after_accept_index`). Hosts firing at once read the same members: only
  the script that finds the timer fires it. A crash before the person's script leaves the
  timer to fire at the next call; after it, a stale member the next firing removes.
- a member found stale may be a setting still on its way (its member written, its timer
  not yet): the firing raises the person's `timers_floor` (`redis_lua.py`) to its id, so
  that setting is refused (TIMERS_CLOSED) and made again with new ids, never kept with
  no member to fire it.

On a single server (not a Cluster) a person's script does its global step after itself
(`redis_index.INDEX_FUNCTIONS`): the same rules, one round trip fewer. Times are the
caller's: a member's score is its due time, compared with the caller's `now`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from runtime.store.base import (
    Fired,
    Lease,
    NewTimer,
    PendingTimer,
    TimerChanges,
)
from runtime.store.redis_connection import RedisConnection
from runtime.store.redis_index import INDEX_FUNCTIONS, IndexOps
from runtime.store.redis_keys import Keys, person_id, person_of
from runtime.store.redis_lua import (
    CHANGE_TIMERS,
    INBOX_CLOSED,
    QUEUE_EVENT,
    TIMERS_CLOSED,
    compose,
    registered,
)
from runtime.store.redis_rows import events_of, session_in_slot

Sender = tuple[str, str]

# KEYS[1]: the person's timers. ARGV: tag, account, changes JSON (`PersonTimers.arg`),
# global prefix ('' on a Cluster: there the caller removes the members after).
# -> TIMERS_CLOSED, or the members of the timers cancelled or replaced.
_CHANGE: Final = compose(
    CHANGE_TIMERS,
    INDEX_FUNCTIONS,
    """
local tag, account = ARGV[1], ARGV[2]
local changes = cjson.decode(ARGV[3])
if not timers_open(tag, account, changes) then return 'timers-closed' end
local gone = change_timers(tag, account, changes)
if ARGV[4] ~= '' then
  index_prefix = ARGV[4]
  timers_gone(gone, 1)
end
return gone
""",
)

# KEYS[1]: the person's timers. ARGV: tag, account, psid, inbox token, now, worker ('' for
# no lease), lease_until, person id, global prefix ('' on a Cluster: there the caller does
# the global step after), timers JSON ([[member, event id], ...], earliest first).
# -> INBOX_CLOSED, or {timers fired, the event leased or false, empty, holding, the event
#    ids of the members found stale}.
_FIRE: Final = compose(
    QUEUE_EVENT,
    INDEX_FUNCTIONS,
    """
local tag, account, psid, token, now, worker, lease_until =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if not inbox_open(tag, account, token) then return 'inbox-closed' end
local key = k_timers(tag, account)
local waiting = inbox_waiting(tag, account)
local fired, claimed, stale, members = 0, false, {}, {}
for _, t in ipairs(cjson.decode(ARGV[10])) do
  local member, event_id = t[1], t[2]
  local named = cjson.decode(member)
  local id, slot = named[1], named[3]
  table.insert(members, member)
  local text = redis.call('HGET', key, slot)
  local timer = text and cjson.decode(text)
  if timer and tonumber(timer.id) == tonumber(id) then
    redis.call('HDEL', key, slot)
    local event = queue_event(tag, account, psid, event_id, timer.body, now,
      timer.session_key, timer.session, worker, lease_until, waiting)
    if event then claimed = event end
    waiting = true
    fired = fired + 1
  else
    raise_floor(tag, account, 'timers_floor', id)
    table.insert(stale, event_id)
  end
end
local empty, holding = queue_settled(tag, account, token, worker)
if ARGV[9] ~= '' then
  index_prefix = ARGV[9]
  timers_gone(members, 1)
  local leased_until = ''
  if claimed then leased_until = lease_until end
  after_accept_index(ARGV[8], token, worker, leased_until, tostring(empty), holding, stale)
end
return {fired, claimed, empty, holding, stale}
""",
)


@dataclass(frozen=True, slots=True)
class GivenTimers:
    """The timer ids and global members the index gave the timers a person's script sets."""

    ids: tuple[int, ...] = ()
    members: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PersonTimers:
    """One person's share of a TimerChanges: the slots cancelled, then the timers set."""

    account_id: str
    psid: str
    cancelled: tuple[str, ...] = ()
    set: tuple[NewTimer, ...] = ()

    @property
    def person(self) -> str:
        return person_id(self.account_id, self.psid)

    def give(
        self, ops: IndexOps, *, replacing: GivenTimers | None = None
    ) -> Callable[[Sequence[Any]], GivenTimers]:
        """Add to `ops` the step before the person's script: ids and members for the timers
        to set (and, for a retry after TIMERS_CLOSED, `replacing`'s members removed: their
        ids are refused for good). What was given, from the results of `ops.run`."""
        if replacing is not None and replacing.members:
            ops.timers_gone(replacing.members)
        if not self.set:
            return lambda _: GivenTimers()
        at = ops.timers_set(self.person, [(timer.slot, timer.due_at) for timer in self.set])

        def given(results: Sequence[Any]) -> GivenTimers:
            flat = results[at]
            return GivenTimers(tuple(int(i) for i in flat[::2]), tuple(flat[1::2]))

        return given

    def arg(self, keys: Keys, given: GivenTimers) -> str:
        """The `changes` of the person's script (`redis_lua.CHANGE_TIMERS`), as JSON."""
        rows = []
        for timer, timer_id, member in zip(self.set, given.ids, given.members, strict=True):
            stored = {
                "id": str(timer_id),
                "due_at": repr(timer.due_at),
                "body": timer.body,
                "session_key": timer.session_key,
                "session": session_in_slot(keys, timer.session_key, timer.psid),
                "member": member,
            }
            rows.append([timer.slot, _json(stored), str(timer_id), member])
        return _json({"cancelled": list(self.cancelled), "set": rows})


def timers_by_person(changes: TimerChanges) -> dict[Sender, PersonTimers]:
    """`changes` split by person (account, psid), each person's in the order given."""
    cancelled: dict[Sender, list[str]] = {}
    setting: dict[Sender, list[NewTimer]] = {}
    for ref in changes.cancelled:
        cancelled.setdefault((ref.account_id, ref.psid), []).append(ref.slot)
    for timer in changes.set:
        setting.setdefault((timer.account_id, timer.psid), []).append(timer)
    return {
        sender: PersonTimers(
            sender[0],
            sender[1],
            tuple(cancelled.get(sender, ())),
            tuple(setting.get(sender, ())),
        )
        for sender in dict.fromkeys([*cancelled, *setting])
    }


async def give_again(
    redis: RedisConnection, keys: Keys, timers: PersonTimers, refused: GivenTimers, what: str
) -> GivenTimers:
    """New ids and members for timers whose script returned TIMERS_CLOSED."""
    ops = IndexOps()
    given = timers.give(ops, replacing=refused)
    return given(await ops.run(redis, keys, what))


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class _Due:
    """One person's due timer members, as the firing's global step gave them."""

    person: str
    token: int
    first_id: int  # the inbox event id of the first member; the others' follow
    members: tuple[str, ...]

    @classmethod
    def of(cls, entry: Sequence[Any]) -> _Due:
        person, token, first_id, *members = entry
        return cls(person, int(token), int(first_id), tuple(members))


@dataclass(slots=True)
class _Firing:
    """What one `fire_timers` call did so far."""

    fired: int = 0
    rows: list[Sequence[Any]] = field(default_factory=list)  # the events leased at once
    next_due: float | None = None


class RedisTimers:
    """`change_timers` ... `count_timers`, for `RedisStore`, on its `_redis`."""

    _redis: RedisConnection
    _keys: Keys

    async def change_timers(self, changes: TimerChanges) -> None:
        what = "change timers"
        people = timers_by_person(changes)
        if not people:
            self._redis.client  # noqa: B018 (a closed store says so)
            return
        ops = IndexOps()
        giving = {sender: timers.give(ops) for sender, timers in people.items()}
        results = await ops.run(self._redis, self._keys, what)
        gone = await asyncio.gather(
            *(
                self._change(timers, giving[sender](results), what)
                for sender, timers in people.items()
            )
        )
        if self._redis.cluster:  # on a single server each script did this itself
            members = [member for of_person in gone for member in of_person]
            if members:
                after = IndexOps()
                after.timers_gone(members)
                await after.run(self._redis, self._keys, what)

    async def _change(self, timers: PersonTimers, given: GivenTimers, what: str) -> list[str]:
        """The person's script; the members of the timers it removed."""
        keys = self._keys.person(timers.psid)
        while True:
            answer = await self._redis.call(
                what,
                registered(self._redis, _CHANGE),
                [keys.timers(timers.account_id)],
                [
                    keys.tag,
                    timers.account_id,
                    timers.arg(self._keys, given),
                    "" if self._redis.cluster else self._keys.global_prefix,
                ],
            )
            if answer != TIMERS_CLOSED:
                return list(answer)
            given = await give_again(self._redis, self._keys, timers, given, what)

    async def fire_timers(self, *, now: float, limit: int, lease: Lease | None = None) -> Fired:
        what = "fire timers"
        firing = _Firing()
        while True:
            asked = max(limit - firing.fired, 0)
            ops = IndexOps()
            at = ops.timers_due(now=now, count=asked, worker="" if lease is None else lease.worker)
            next_due, *entries = (await ops.run(self._redis, self._keys, what))[at]
            firing.next_due = None if next_due is None else float(next_due)
            due = [_Due.of(entry) for entry in entries]
            if not due:
                break
            await self._fire_due(due, now, lease, firing, what)
            if sum(len(d.members) for d in due) < asked or firing.fired >= limit:
                break  # none left due, or enough fired; else some were stale: more
        events = await events_of(self._redis, self._keys, firing.rows, what)
        claimed = tuple(sorted(events, key=lambda event: event.id))
        return Fired(fired=firing.fired, claimed=claimed, next_due=firing.next_due)

    async def _fire_due(
        self, due: Sequence[_Due], now: float, lease: Lease | None, firing: _Firing, what: str
    ) -> None:
        """Each person's script, then (on a Cluster) the global step after them all."""
        worker = "" if lease is None else lease.worker
        landed = await asyncio.gather(*(self._fire(one, now, lease, what) for one in due))
        after = IndexOps()
        for one, (token, answer) in zip(due, landed, strict=True):
            fired, event, empty, holding, stale = answer
            firing.fired += int(fired)
            if event is not None:
                firing.rows.append(event)
            if self._redis.cluster:  # on a single server the script did this itself
                after.after_accept(
                    one.person,
                    str(token),
                    worker,
                    leased_until=None if event is None or lease is None else lease.until,
                    empty=bool(empty),
                    holding=int(holding),
                    dropped=[int(event_id) for event_id in stale],
                )
                after.timers_gone(one.members)
        await after.run(self._redis, self._keys, what)

    async def _fire(
        self, due: _Due, now: float, lease: Lease | None, what: str
    ) -> tuple[int, Sequence[Any]]:
        """One person's firing script (announced again while the inbox's fence refuses it,
        as an accept's): the token it landed with, and its answer."""
        account_id, psid = person_of(due.person)
        keys = self._keys.person(psid)
        timers = _json([[member, str(due.first_id + n)] for n, member in enumerate(due.members)])
        token = due.token
        while True:
            answer = await self._redis.call(
                what,
                registered(self._redis, _FIRE),
                [keys.timers(account_id)],
                [
                    keys.tag,
                    account_id,
                    psid,
                    str(token),
                    repr(now),
                    "" if lease is None else lease.worker,
                    "" if lease is None else repr(lease.until),
                    due.person,
                    "" if self._redis.cluster else self._keys.global_prefix,
                    timers,
                ],
            )
            if answer != INBOX_CLOSED:
                return token, answer
            again = IndexOps()
            at = again.announce("inbox", due.person, due.first_id)
            token = int((await again.run(self._redis, self._keys, what))[at])

    async def list_timers(self, account_id: str | None = None) -> list[PendingTimer]:
        timers = await self._pending("list timers", account_id)
        return sorted(timers, key=lambda t: (t.due_at, t.account_id, t.psid, t.slot))

    async def count_timers(self) -> int:
        """The members of the global `timers` listing: one round trip, whatever their number
        (`/metrics` asks at every scrape; reading 100,000 timers to skip the stale ones held
        a worker's loop for 5 seconds). A stale member is left only by a crash between a
        setting's, cancelling's or firing's two steps, until its due time."""
        client = self._redis.client
        return int(await self._redis.run("count timers", client.zcard(self._keys.timers)))

    async def _pending(self, what: str, account_id: str | None) -> list[PendingTimer]:
        """The timers the global `timers` lists whose person still holds them (a stale
        member is skipped), of one account or all: two round trips."""
        client = self._redis.client
        listed: list[tuple[str, float]] = await self._redis.run(
            what, client.zrange(self._keys.timers, 0, -1, withscores=True)
        )
        named = []
        for member, due_at in listed:
            timer_id, person, slot = json.loads(member)
            account, psid = person_of(person)
            if account_id in (None, account):
                timer = PendingTimer(account_id=account, psid=psid, slot=slot, due_at=due_at)
                named.append((int(timer_id), timer))
        if not named:
            return []
        pipeline = client.pipeline(transaction=False)
        for _, timer in named:
            pipeline.hget(self._keys.person(timer.psid).timers(timer.account_id), timer.slot)
        held: list[str | None] = await self._redis.run(what, pipeline.execute())
        return [
            timer
            for (timer_id, timer), text in zip(named, held, strict=True)
            if text is not None and int(json.loads(text)["id"]) == timer_id
        ]
