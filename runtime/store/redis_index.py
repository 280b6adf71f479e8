"""The Redis store's global indexes: who has work waiting, whose slot a row is in, who holds
leases. One script on the `{global}` slot changes them, next to each person's script.

A claim must find people with work without scanning every person, and a person's script
cannot touch a global key (Redis Cluster: one slot a script). So each queue (inbox, outbox)
has an index (`redis_keys.IndexKeys`): `ready` (people to look at, by their oldest row's
id), `parked` (people not to look at before a time: their oldest row leased, not due, or
held back by their replies) and a fence token per person (`marks`). The rules:

- An entry is written BEFORE the person's change that needs it (`announce`: new events or
  messages) and dropped AFTER: a crash between the two leaves an extra entry, which a claim
  finds empty and drops, never a person with work and no entry.
- Whoever frees a person's work (a finished turn, a sent reply, a released lease) `wake`s
  them after its script: back to `ready`. A crash between leaves them parked until the
  time they were parked to, which is never later than their lease's end or a minute
  (`redis_inbox.WAITING_RECHECK`), when a claim looks again.
- A claim `select`s the oldest ready people (each reserved, parked until the end of the
  lease it would give, so concurrent claims take different people), runs each one's
  script, then `settle`s them: parked until their lease's end or their row's due time, or
  dropped when their queue is empty. `settle` does nothing when the person was announced
  or woken since `select` (their token changed): the newer word wins.
- Dropping an entry races with work announced before the claim looked but not yet in the
  person's keys. The person's script of the claim raises their floor (`redis_lua.FENCES`)
  to the token `select` read; work announced with a token at or below it is refused by its
  own script, whose caller announces again (a new entry) and retries.

Rows by id (`events`, `messages`, `dead_letters`: id -> person) and the `timers` index
(`redis_timers.py`) follow the same order: written before the row, removed after it.
`held_by(worker)` and `lease_owners` are written before a lease is taken and shrink after
a script reports that the worker holds nothing more of a person; should the same worker
take a new lease of that person at that very moment, the entry may go early, and that
lease then only comes back when it runs out (`release_leases` does not see it): nothing
is lost.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from runtime.store.redis_connection import RedisConnection
from runtime.store.redis_keys import Keys
from runtime.store.redis_lua import registered

Queue = Literal["inbox", "outbox"]
Rows = Literal["events", "messages", "dead_letters"]

PROMOTE_AT_MOST: Final = 1000  # parked people a claim moves back to `ready` at once

# The index's rules, as Lua functions on the global slot: `run_ops(ops)` runs a list of
# operations in order and returns each one's result. `INDEX_OPS` runs them as a script of
# their own (a pre-step and a post-step are one round trip each); on a single server
# (not a Cluster) a person's script may compose them and run its post-step itself
# (`redis_outbox._COMPLETE`), setting `index_prefix` first.
INDEX_FUNCTIONS: Final = """
local index_prefix = ''  -- set by the script's body: key names are built at call time
local function g(name) return index_prefix .. name end
local function ix(queue)
  local base = g(queue)
  return {ready = base .. ':ready', parked = base .. ':parked', order = base .. ':order',
          marks = base .. ':marks'}
end

-- `leased_until` ('' for none): the work is leased to its announcer until then, so a person not
-- indexed yet is parked till then (nobody could claim it sooner) rather than ready, where
-- every claim would look at them meanwhile; one indexed already stays as ready as they were
local function announce(x, p, order, leased_until)
  local known = redis.call('HGET', x.order, p)
  local new = not known
  if new or tonumber(order) < tonumber(known) then
    redis.call('HSET', x.order, p, order)
    known = order
  end
  local token = redis.call('INCR', g('ids:token'))
  redis.call('HSET', x.marks, p, token)
  if new and leased_until ~= '' then
    redis.call('ZADD', x.parked, leased_until, p)
  else
    redis.call('ZADD', x.ready, known, p)
    redis.call('ZREM', x.parked, p)
  end
  return token
end

local function wake(x, p, order)
  if redis.call('HEXISTS', x.marks, p) == 0 then return false end
  if order ~= '' then redis.call('HSET', x.order, p, order) end
  local token = redis.call('INCR', g('ids:token'))
  redis.call('HSET', x.marks, p, token)
  redis.call('ZADD', x.ready, redis.call('HGET', x.order, p) or 0, p)
  redis.call('ZREM', x.parked, p)
  return token
end

local function hold_index(worker, people)
  redis.call('SADD', g('lease-owners'), worker)
  for _, p in ipairs(people) do redis.call('SADD', g('held:' .. worker), p) end
end

local function select(x, now, reserve_until, count, promote, worker)
  local due = redis.call('ZRANGEBYSCORE', x.parked, '-inf', now, 'LIMIT', 0, promote)
  for _, p in ipairs(due) do
    redis.call('ZREM', x.parked, p)
    redis.call('ZADD', x.ready, redis.call('HGET', x.order, p) or 0, p)
  end
  local out = {}
  if count <= 0 then return out end
  for _, p in ipairs(redis.call('ZRANGE', x.ready, 0, count - 1)) do
    redis.call('ZREM', x.ready, p)
    redis.call('ZADD', x.parked, reserve_until, p)
    table.insert(out, p)
    table.insert(out, redis.call('HGET', x.marks, p) or '0')
    hold_index(worker, {p})
  end
  return out
end

local function settle(x, p, token, how, value, order)
  if redis.call('HGET', x.marks, p) ~= token then return false end
  redis.call('ZREM', x.ready, p)
  if how == 'drop' then
    redis.call('ZREM', x.parked, p)
    redis.call('HDEL', x.order, p)
    redis.call('HDEL', x.marks, p)
  else
    redis.call('ZADD', x.parked, value, p)
    if order ~= '' then redis.call('HSET', x.order, p, order) end
  end
  return true
end

local function free(worker, people)
  local held = g('held:' .. worker)
  for _, p in ipairs(people) do redis.call('SREM', held, p) end
  if redis.call('SCARD', held) == 0 then redis.call('SREM', g('lease-owners'), worker) end
end

-- After an accept's script (`redis_inbox._ACCEPT`), for one sender: `leased_until` when it
-- leased their event to `worker` ('' when not), `empty` ('1' when their inbox is empty),
-- `holding` whether `worker` (or '') holds a lease of theirs, `dropped` the ids it gave
-- events it did not keep (redeliveries).
local function after_accept_index(p, token, worker, leased_until, empty, holding, dropped)
  if leased_until ~= '' then
    settle(ix('inbox'), p, token, 'park', leased_until, '')
  elseif empty == '1' then
    settle(ix('inbox'), p, token, 'drop', '', '')
  end
  if worker ~= '' and tonumber(holding) == 0 then free(worker, {p}) end
  for _, id in ipairs(dropped) do redis.call('HDEL', g('events'), id) end
end

-- After a turn's script (`redis_inbox._FINISH`): `done` ('1' when the event was the
-- worker's and is gone, '0' when not: its announced replies' ids are forgotten), `oldest`
-- their next event ('' for none), `replies` ('1' when the turn had replies: they wake the
-- inbox once sent), `holding` whether `worker` still holds a lease of theirs.
local function after_finish_index(p, token, worker, event_id, done, oldest, replies, holding,
                                  reply_ids)
  if done ~= '1' then
    for _, id in ipairs(reply_ids) do redis.call('HDEL', g('messages'), id) end
    return
  end
  redis.call('HDEL', g('events'), event_id)
  if oldest == '' then
    settle(ix('inbox'), p, token, 'drop', '', '')
  elseif replies ~= '1' then
    wake(ix('inbox'), p, oldest)
  end
  if tonumber(holding) == 0 then free(worker, {p}) end
end

-- After a person's outbox lost messages (sent, dead): `next_id` their next message ('' for
-- none), `freed` the workers holding nothing of theirs now, `holding` whether `worker`
-- (`then`'s, or '') still holds a lease of theirs.
local function after_sent_index(p, token, worker, next_id, holding, freed)
  if next_id == '' then
    settle(ix('outbox'), p, token, 'drop', '', '')
    wake(ix('inbox'), p, '')
  else
    wake(ix('outbox'), p, next_id)
  end
  for _, w in ipairs(freed) do free(w, {p}) end
  if worker ~= '' and tonumber(holding) == 0 then free(worker, {p}) end
end

-- Timers (`redis_timers.py`): `timers`, a ZSET member -> due_at over every person's timers,
-- a member cjson [timer id, person, slot]. `timers_set(op, from)`: for op[from] (a person)
-- and the (slot, due_at) pairs after it, new timer ids and their members, written before the
-- person's script keeps the timers -> {id, member, id, member, ...}.
local function timers_set(op, from)
  local out = {}
  for j = from + 1, #op, 2 do
    local id = redis.call('INCR', g('ids:timer'))
    local member = cjson.encode({tostring(id), op[from], op[j]})
    redis.call('ZADD', g('timers'), op[j + 1], member)
    table.insert(out, id)
    table.insert(out, member)
  end
  return out
end

-- members[from..] leave `timers` (after the person's script removed their timers)
local function timers_gone(members, from)
  for j = from, #members do redis.call('ZREM', g('timers'), members[j]) end
end

-- Up to `count` timer members due by `now`, earliest first, each given an inbox event id
-- (listed in `events`) and its person announced in the inbox index (held by `worker`,
-- unless ''), as an accept's pre-step does; a person's ids follow each other, in the order
-- of their members. -> {the due time of the member after them or false,
-- {person, token, first id, member, ...}, ...}
local function timers_due(now, count, worker)
  local due = redis.call('ZRANGEBYSCORE', g('timers'), '-inf', now, 'LIMIT', 0, count)
  local next_one = redis.call('ZRANGE', g('timers'), #due, #due, 'WITHSCORES')
  local out, people, of = {next_one[2] or false}, {}, {}
  for _, member in ipairs(due) do
    local p = cjson.decode(member)[2]
    if not of[p] then
      of[p] = {}
      table.insert(people, p)
    end
    table.insert(of[p], member)
  end
  if #due == 0 then return out end
  local id = redis.call('INCRBY', g('ids:inbox'), #due) - #due + 1
  for _, p in ipairs(people) do
    local entry = {p, false, id}
    for _, member in ipairs(of[p]) do
      redis.call('HSET', g('events'), id, p)
      table.insert(entry, member)
      id = id + 1
    end
    entry[2] = announce(ix('inbox'), p, entry[3], '')
    if worker ~= '' then hold_index(worker, {p}) end
    table.insert(out, entry)
  end
  return out
end

-- '#n' names the n-th id after the first the last 'ids' operation gave
local first = 0
local function v(text)
  if string.sub(text, 1, 1) == '#' then return first + tonumber(string.sub(text, 2)) end
  return text
end

local function run_ops(ops)
local results = {}
for i, op in ipairs(ops) do
  local name, result = op[1], false
  if name == 'ids' then
    first = redis.call('INCRBY', g('ids:' .. op[2]), op[3]) - op[3] + 1
    result = first
  elseif name == 'rows' then
    for j = 4, #op do redis.call('HSET', g(op[2]), v(op[j]), op[3]) end
  elseif name == 'unrows' then
    for j = 3, #op do redis.call('HDEL', g(op[2]), op[j]) end
  elseif name == 'locate' then
    local found = {}
    for j = 6, #op do
      local p = redis.call('HGET', g(op[2]), op[j]) or ''
      local token = '0'
      if p ~= '' then
        if op[3] ~= '' then token = redis.call('HGET', ix(op[3]).marks, p) or '0' end
        if op[4] ~= '' then hold_index(op[4], {p}) end
        if op[5] ~= '' then redis.call('HSET', g(op[5]), op[j], p) end
      end
      table.insert(found, {p, token})
    end
    result = found
  elseif name == 'announce' then
    result = announce(ix(op[2]), op[3], v(op[4]), op[5])
  elseif name == 'wake' then
    result = wake(ix(op[2]), op[3], op[4])
  elseif name == 'mark' then
    result = redis.call('HGET', ix(op[2]).marks, op[3]) or '0'
  elseif name == 'select' then
    result = select(ix(op[2]), op[3], op[4], tonumber(op[5]), tonumber(op[6]), op[7])
  elseif name == 'settle' then
    result = settle(ix(op[2]), op[3], op[4], op[5], op[6], op[7])
  elseif name == 'hold' then
    hold_index(op[2], {unpack(op, 3)})
  elseif name == 'free' then
    free(op[2], {unpack(op, 3)})
  elseif name == 'after_accept' then
    after_accept_index(op[2], op[3], op[4], op[5], op[6], op[7], {unpack(op, 8)})
  elseif name == 'after_finish' then
    after_finish_index(op[2], op[3], op[4], op[5], op[6], op[7], op[8], op[9], {unpack(op, 10)})
  elseif name == 'after_sent' then
    after_sent_index(op[2], op[3], op[4], op[5], op[6], {unpack(op, 7)})
  elseif name == 'timers_set' then
    result = timers_set(op, 2)
  elseif name == 'timers_gone' then
    timers_gone(op, 2)
  elseif name == 'timers_due' then
    result = timers_due(op[2], tonumber(op[3]), op[4])
  elseif name == 'session' then
    redis.call('ZADD', g('sessions'), op[3], op[2])
  end
  results[i] = result
end
return results
end
"""

# One script runs a list of operations on the global slot. ARGV: the global prefix, the
# operations JSON.
INDEX_OPS: Final = (
    INDEX_FUNCTIONS
    + """
index_prefix = ARGV[1]
return run_ops(cjson.decode(ARGV[2]))
"""
)


class IndexOps:
    """Operations on the global slot, gathered, then run as one script (`run`).

    Each method adds one operation and returns its place in the results `run` gives.
    Times are the caller's text (`repr(float)`); ids and tokens are integers.
    """

    def __init__(self) -> None:
        self._ops: list[list[str]] = []

    def __bool__(self) -> bool:
        return bool(self._ops)

    def _add(self, *op: object) -> int:
        self._ops.append([str(part) for part in op])
        return len(self._ops) - 1

    def new_ids(self, queue: Queue, count: int) -> int:
        """`count` new ids of the queue's counter; the result is the first. The operations
        after it name them `new(n)`: the n-th after the first."""
        return self._add("ids", queue, count)

    def rows(self, rows: Rows, person: str, ids: Sequence[int | str]) -> int:
        """Say whose slot these rows are in (before the rows are written)."""
        return self._add("rows", _ROW_KEYS[rows], person, *ids)

    def unrows(self, rows: Rows, ids: Sequence[int]) -> int:
        """Forget whose slot these rows were in (after the rows are gone)."""
        return self._add("unrows", _ROW_KEYS[rows], *ids)

    def locate(
        self,
        rows: Rows,
        ids: Sequence[int],
        *,
        queue: Queue | None = None,
        hold: str | None = None,
        copy_to: Rows | None = None,
    ) -> int:
        """Whose slot each row is in: [[person_id, token], ...], '' for an unknown id; the
        token is the person's in `queue`'s index ('0' without). With `hold`, that worker
        is about to lease rows of theirs; with `copy_to`, the rows are said to be in that
        slot in the other hash too (a message about to be a dead letter)."""
        copy = "" if copy_to is None else _ROW_KEYS[copy_to]
        return self._add("locate", _ROW_KEYS[rows], queue or "", hold or "", copy, *ids)

    def announce(
        self, queue: Queue, person: str, oldest: int | str, *, leased_until: float | None = None
    ) -> int:
        """Work of `person` is on its way, its oldest row `oldest`: their fence token. With
        `leased_until`, the work will be leased to its announcer till then: a person not
        indexed yet is looked at then, not at every claim before."""
        until = "" if leased_until is None else repr(leased_until)
        return self._add("announce", queue, person, oldest, until)

    def wake(self, queue: Queue, person: str, oldest: int | None = None) -> int:
        """The person's work may be claimable now: look at them at the next claim."""
        return self._add("wake", queue, person, "" if oldest is None else oldest)

    def mark(self, queue: Queue, person: str) -> int:
        """The person's fence token as it is now ('0' when not indexed)."""
        return self._add("mark", queue, person)

    def select(
        self, queue: Queue, worker: str, *, now: float, reserve_until: float, count: int
    ) -> int:
        """The `count` oldest ready people, reserved for `worker` (held by it, parked until
        `reserve_until`): [person, token, person, token, ...]."""
        return self._add(
            "select", queue, repr(now), repr(reserve_until), count, PROMOTE_AT_MOST, worker
        )

    def park(
        self, queue: Queue, person: str, token: str, until: str, oldest: int | None = None
    ) -> int:
        """Look at `person` again at `until` (text), unless they were announced or woken
        since `token` was read."""
        return self._add("settle", queue, person, token, "park", until, oldest or "")

    def drop(self, queue: Queue, person: str, token: str) -> int:
        """Forget `person` (their queue is empty and their floor at `token`), unless they
        were announced or woken since."""
        return self._add("settle", queue, person, token, "drop", "", "")

    def hold(self, worker: str, people: Sequence[str]) -> int:
        """`worker` is about to take leases on rows of these people."""
        return self._add("hold", worker, *people)

    def free(self, worker: str, people: Sequence[str]) -> int:
        """`worker` holds nothing more of these people."""
        return self._add("free", worker, *people)

    def after_accept(
        self,
        person: str,
        token: str,
        worker: str,
        *,
        leased_until: float | None,
        empty: bool,
        holding: int,
        dropped: Sequence[int],
    ) -> int:
        """After an accept's script, for one sender: their inbox entry parked till the lease
        it took ends (`leased_until`), or dropped when their inbox is `empty`; `worker`
        freed when it holds nothing of theirs; the ids of events not kept forgotten."""
        until = "" if leased_until is None else repr(leased_until)
        return self._add(
            "after_accept", person, token, worker, until, int(empty), holding, *dropped
        )

    def after_finish(
        self,
        person: str,
        token: str,
        worker: str,
        event_id: int,
        *,
        done: bool,
        oldest: int | str | None,
        replies: Sequence[int],
        holding: int,
    ) -> int:
        """After a turn's script: the event's id forgotten, their inbox dropped or woken
        (not while replies hold it back), `worker` freed; or, when the event was not the
        worker's (`done` false), the ids of its announced replies forgotten."""
        return self._add(
            "after_finish",
            person,
            token,
            worker,
            event_id,
            int(done),
            "" if oldest is None else oldest,
            int(bool(replies)),
            holding,
            *replies,
        )

    def after_sent(
        self,
        person: str,
        token: str,
        worker: str,
        next_id: int | str | None,
        holding: int,
        freed: Sequence[str],
    ) -> int:
        """After messages left `person`'s outbox (their script's answer: `next_id`, their
        next message; `freed`; whether `worker`, `then`'s or '', still `holding` a lease):
        their outbox dropped and inbox woken, or their outbox woken; workers freed."""
        return self._add(
            "after_sent", person, token, worker, "" if next_id is None else next_id, holding, *freed
        )

    def timers_set(self, person: str, timers: Sequence[tuple[str, float]]) -> int:
        """New timer ids and global `timers` members for `person`'s timers ((slot, due_at)
        pairs), before their script keeps them: [id, member, id, member, ...]."""
        return self._add(
            "timers_set", person, *(part for slot, due in timers for part in (slot, repr(due)))
        )

    def timers_gone(self, members: Sequence[str]) -> int:
        """These members leave the global `timers` (after their timers did, or never came)."""
        return self._add("timers_gone", *members)

    def timers_due(self, *, now: float, count: int, worker: str) -> int:
        """Up to `count` timer members due by `now`, earliest first, each given an inbox
        event id and its person announced (held by `worker` unless ''): [the due time of the
        member after them or None, [person, token, first id, member, ...], ...]."""
        return self._add("timers_due", repr(now), count, worker)

    def session(self, key: str, updated_at: float) -> int:
        """List a session (before it is written: `redis_sessions.py`)."""
        return self._add("session", key, repr(updated_at))

    async def run(self, redis: RedisConnection, keys: Keys, what: str) -> list[Any]:
        """Run the operations gathered, as one script on the global slot; their results."""
        if not self._ops:
            return []
        results: list[Any] = await redis.call(what, *self._script(redis, keys))
        return results

    def run_in_order(self, redis: RedisConnection, keys: Keys, what: str) -> Awaitable[list[Any]]:
        """`run`, its place among the in-order calls taken now (`RedisConnection.call_in_order`):
        of two such calls, the first made runs first."""
        if not self._ops:
            return _nothing()
        return redis.call_in_order(what, *self._script(redis, keys))

    def _script(self, redis: RedisConnection, keys: Keys) -> tuple[Any, list[str], list[str]]:
        anchor = keys.index_tokens  # routes the script to the global slot
        args = [keys.global_prefix, json.dumps(self._ops)]
        return registered(redis, INDEX_OPS), [anchor], args


async def _nothing() -> list[Any]:
    return []


def new(n: int) -> str:
    """The n-th id after the first the last `IndexOps.new_ids` gave, in a later operation."""
    return f"#{n}"


_ROW_KEYS: Final[dict[str, str]] = {
    "events": "events",
    "messages": "messages",
    "dead_letters": "dead-letters",
}


@dataclass(frozen=True, slots=True)
class Looked:
    """What a claim's script found in one person's queue (their oldest row).

    `state`: 'claimed' (`row` leased to the claiming worker), 'busy' (leased to another),
    'later' (not due), 'waiting' (held back by their replies) or 'empty'. `until`: when to
    look at them again (text; None when empty). `oldest`: their oldest row's id. `freed`:
    workers that hold nothing of theirs any more. `holds`: whether the claiming worker
    holds a lease of theirs now.
    """

    state: str
    until: str | None
    oldest: int | None
    freed: Sequence[str]
    holds: bool
    row: Sequence[Any] | None = None

    @classmethod
    def of(cls, answer: Sequence[Any]) -> Looked:
        """From a claim script's answer: {state, until, oldest id, holds, freed, row}."""
        state, until, oldest, holding, freed, row = answer
        return cls(
            state=state,
            until=until,
            oldest=None if oldest is None else int(oldest),
            freed=freed,
            holds=bool(holding),
            row=row,
        )


Look = Callable[[str, str], Awaitable[Looked]]  # (person_id, token) -> what its script found


async def claim_people(
    redis: RedisConnection,
    keys: Keys,
    queue: Queue,
    worker: str,
    *,
    now: float,
    lease: float,
    limit: int,
    look: Look,
    what: str,
) -> list[Looked]:
    """Up to `limit` people's oldest rows for `worker`, oldest first: the oldest ready
    people are reserved, each person's script (`look`) takes their row or says why not,
    and the index is settled after (module docstring). Stops when no one is ready."""
    taken: list[Looked] = []
    while len(taken) < limit:
        ops = IndexOps()
        at = ops.select(queue, worker, now=now, reserve_until=now + lease, count=limit - len(taken))
        picked: list[str] = (await ops.run(redis, keys, what))[at]
        if not picked:
            break
        people = list(zip(picked[::2], picked[1::2], strict=True))
        found = await asyncio.gather(*(look(person, token) for person, token in people))
        after = IndexOps()
        for (person, token), looked in zip(people, found, strict=True):
            if looked.until is None:
                after.drop(queue, person, token)
            else:
                after.park(queue, person, token, looked.until, looked.oldest)
            for freed in looked.freed:
                after.free(freed, [person])
            if not looked.holds:
                after.free(worker, [person])
        await after.run(redis, keys, what)
        taken.extend(looked for looked in found if looked.state == "claimed")
    return taken
