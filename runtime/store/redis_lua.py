"""Lua shared by the Redis store's scripts: key names, leases held, the outbox's writes.

A script is fragments (Lua `local function` definitions) followed by its body, put together
with `compose(...)`, which keeps each fragment once. Every fragment works on ONE person's
keys (one hash slot, `redis_keys.PersonKeys`): it builds their names from `tag`
(`PersonKeys.tag`, `<prefix>{<psid>}`), so pass the tag as an argument, and name in KEYS at
least one key of that person (redis-py routes a script by its first key; Redis Cluster
refuses a script whose keys are in two slots).

Values: times travel as the caller's text (`repr(float)`) and are stored as given; Lua only
compares them (`tonumber`), never writes a number it computed, since Lua prints a double
with 14 digits and would round a time. Ids and fence tokens are integers, exact as doubles.

The person's `queues` hash (`PersonKeys.queues(account)`) holds, per (account, psid):
- `inbox_floor`, `outbox_floor`: the fences of the global inbox and outbox indexes. An
  announcement (an index entry written before the person's change, `redis_index.py`)
  carries a token; a claim that finds the person's queue empty raises the floor to the
  token it read, then drops the index entry if no announcement came since. A script that
  lands work with a token at or below the floor must write nothing and return
  `OUTBOX_CLOSED` / `INBOX_CLOSED`: its caller announces again (a new token) and retries.
  So an entry is never dropped while work announced before it is still on its way.
- `timers_floor`: the same fence for timers (`redis_timers.py`): a firing that finds a
  global `timers` member whose timer the person does not hold raises it to that timer's
  id, so a setting still on its way with that id is refused (`TIMERS_CLOSED`) and set
  again with a new id (a new member) rather than kept with no member to fire it.
- `held:<worker>`: how many leases `worker` holds on the person's inbox events and outbox
  messages (run out or not), so a script knows when a worker holds nothing more of theirs
  and the global `held_by(worker)` entry can go.
"""

from __future__ import annotations

from typing import Any, Final
from weakref import WeakKeyDictionary

from runtime.store.redis_connection import RedisConnection

OUTBOX_CLOSED: Final = "outbox-closed"  # what a script returns when `outbox_open` is false
INBOX_CLOSED: Final = "inbox-closed"  # the same for the inbox
TIMERS_CLOSED: Final = "timers-closed"  # the same for timers (`timers_open`)


def compose(*parts: str) -> str:
    """One script from fragments and a body: each fragment once, in the order first given."""
    return "\n".join(dict.fromkeys(parts))


_REGISTERED: WeakKeyDictionary[Any, dict[str, Any]] = WeakKeyDictionary()


def registered(redis: RedisConnection, lua: str) -> Any:
    """`lua` registered with the connection's client, once per client and script."""
    client = redis.client
    scripts = _REGISTERED.setdefault(client, {})
    script = scripts.get(lua)
    if script is None:
        script = scripts[lua] = redis.script(lua)
    return script


# The names of redis_keys.PersonKeys, in Lua. Keep them equal: the contract tests read
# with one what the other wrote (sessions, events and messages counted, dead letters).
PERSON_KEYS: Final = """
local function k_inbox(tag, account) return tag .. ':inbox:' .. account end
local function k_event(tag, id) return tag .. ':event:' .. id end
local function k_outbox(tag, account) return tag .. ':outbox:' .. account end
local function k_message(tag, id) return tag .. ':message:' .. id end
local function k_queues(tag, account) return tag .. ':queues:' .. account end
local function k_session(tag, session_key) return tag .. ':session:' .. session_key end
local function k_dead(tag, id) return tag .. ':dead:' .. id end
local function k_seen(tag, message_id) return tag .. ':seen:' .. message_id end
local function k_last(tag, account) return tag .. ':last:' .. account end
local function k_timers(tag, account) return tag .. ':timers:' .. account end
"""

# hold(tag, account, worker): `worker` took a lease on a row of this person.
# unhold(tag, account, worker) -> true when `worker` now holds nothing of this person (on
#   this account): the caller then drops them from `held_by(worker)` after the script.
# holds(tag, account, worker) -> 1 when `worker` holds a lease on a row of theirs, else 0.
# freed_of(tag, account, workers) -> those of `workers` holding nothing of theirs now.
HOLDS: Final = compose(
    PERSON_KEYS,
    """
local function hold(tag, account, worker)
  redis.call('HINCRBY', k_queues(tag, account), 'held:' .. worker, 1)
end
local function unhold(tag, account, worker)
  local queues = k_queues(tag, account)
  local left = redis.call('HINCRBY', queues, 'held:' .. worker, -1)
  if left <= 0 then
    redis.call('HDEL', queues, 'held:' .. worker)
    return true
  end
  return false
end
local function holds(tag, account, worker)
  return redis.call('HEXISTS', k_queues(tag, account), 'held:' .. worker)
end
local function freed_of(tag, account, workers)
  local freed, seen = {}, {}
  for _, worker in ipairs(workers) do
    if not seen[worker] and holds(tag, account, worker) == 0 then
      table.insert(freed, worker)
    end
    seen[worker] = true
  end
  return freed
end
""",
)

# outbox_open(tag, account, token) -> false when a claim found this person's outbox empty
#   after `token` was announced: write nothing, return OUTBOX_CLOSED (the caller announces
#   again and retries). Call it before any write of the script.
# inbox_open(tag, account, token): the same for the inbox.
FENCES: Final = compose(
    PERSON_KEYS,
    """
local function queue_open(tag, account, field, token)
  local floor = redis.call('HGET', k_queues(tag, account), field)
  return floor == false or tonumber(token) > tonumber(floor)
end
local function outbox_open(tag, account, token)
  return queue_open(tag, account, 'outbox_floor', token)
end
local function inbox_open(tag, account, token)
  return queue_open(tag, account, 'inbox_floor', token)
end
local function raise_floor(tag, account, field, token)
  local queues = k_queues(tag, account)
  local floor = redis.call('HGET', queues, field)
  if floor == false or tonumber(token) > tonumber(floor) then
    redis.call('HSET', queues, field, token)
  end
end
""",
)

# inbox_head(tag, account, now) -> state, id, until
#   The person's oldest inbox event and whether a claim may take it: 'empty' (no event),
#   'busy' (it, or a later event of theirs, is leased until `until`, text), 'waiting'
#   (replies to them wait in the outbox) or 'free'. A later event can be leased: ids are
#   given before the events land, by scripts that may run in either order (two hosts'
#   accepts, an accept and a timer's firing), and the later one, landing first, was
#   leased at once.
# lease_event(tag, account, id, worker, lease_until) -> previous, event
#   Leases event `id` to `worker`, taking it over from `previous` (a worker whose lease ran
#   out, or false; see `freed_of`). `event`:
#   {id, account, psid, body, received_at, session JSON or false, session key or ''};
#   the session is read here when its key is in this person's slot (`session` field).
TAKE_EVENT: Final = compose(
    HOLDS,
    FENCES,
    """
local function inbox_head(tag, account, now)
  local first = redis.call('ZRANGE', k_inbox(tag, account), 0, 0)
  if #first == 0 then return 'empty', false, false end
  local id = first[1]
  local lease = redis.call('HMGET', k_event(tag, id), 'owner', 'until')
  if lease[1] and tonumber(lease[2]) > tonumber(now) then return 'busy', id, lease[2] end
  if redis.call('ZCARD', k_outbox(tag, account)) > 0 then return 'waiting', id, false end
  for _, later in ipairs(redis.call('ZRANGE', k_inbox(tag, account), 1, -1)) do
    local held = redis.call('HMGET', k_event(tag, later), 'owner', 'until')
    if held[1] and tonumber(held[2]) > tonumber(now) then return 'busy', id, held[2] end
  end
  return 'free', id, false
end
local function lease_event(tag, account, id, worker, lease_until)
  local key = k_event(tag, id)
  local previous = redis.call('HGET', key, 'owner')
  if previous ~= worker then
    if previous then unhold(tag, account, previous) end
    hold(tag, account, worker)
  end
  redis.call('HSET', key, 'owner', worker, 'until', lease_until)
  local e = redis.call('HMGET', key, 'id', 'account', 'psid', 'body', 'received_at',
    'session', 'session_key')
  local session = false
  if e[6] and e[6] ~= '' then session = redis.call('GET', e[6]) end
  return previous, {e[1], e[2], e[3], e[4], e[5], session, e[7] or ''}
end
""",
)

# inbox_waiting(tag, account) -> whether a new event of theirs waits behind others (an
#   event in their inbox, a reply in their outbox): only one that does not is leased at once.
# queue_event(tag, account, psid, id, body, now, session_key, session, worker, lease_until,
#   waiting) -> the event leased to `worker`, or false
#   Keeps event `id` (given by the global index script, which announced it first) as the
#   person's newest inbox event, received at `now`; leases it to `worker` ('' for none)
#   when it does not wait (`waiting`: `inbox_waiting` before the first event queued).
#   `session`: the session's Redis key when in this slot, or '' (`lease_event`).
# queue_settled(tag, account, token, worker) -> empty, holding
#   After queueing: 1 when their inbox is empty (its floor raised to `token`), else 0;
#   whether `worker` ('' for none) holds a lease of theirs (1 or 0). What
#   `redis_index.after_accept_index` takes.
# Call `inbox_open(tag, account, token)` first, before any write of the script.
QUEUE_EVENT: Final = compose(
    TAKE_EVENT,
    """
local function inbox_waiting(tag, account)
  return redis.call('ZCARD', k_inbox(tag, account)) > 0
    or redis.call('ZCARD', k_outbox(tag, account)) > 0
end
local function queue_event(tag, account, psid, id, body, now, session_key, session, worker,
                           lease_until, waiting)
  redis.call('HSET', k_event(tag, id), 'id', id, 'account', account, 'psid', psid,
    'body', body, 'received_at', now, 'session_key', session_key, 'session', session)
  redis.call('ZADD', k_inbox(tag, account), id, id)
  if worker == '' or waiting then return false end
  local _, event = lease_event(tag, account, id, worker, lease_until)
  return event
end
local function queue_settled(tag, account, token, worker)
  local empty = 0
  if redis.call('ZCARD', k_inbox(tag, account)) == 0 then
    raise_floor(tag, account, 'inbox_floor', token)
    empty = 1
  end
  local holding = 0
  if worker ~= '' then holding = holds(tag, account, worker) end
  return empty, holding
end
""",
)

# timers_open(tag, account, changes) -> false when a timer to set has an id at or below
#   the person's `timers_floor`: write nothing, return TIMERS_CLOSED (the caller gives the
#   timers new ids and retries). Call it before any write of the script.
# change_timers(tag, account, changes) -> the global members of the timers cancelled or
#   replaced, for the caller to remove from the global `timers` after the script.
#   `changes`: {cancelled = {slot, ...}, set = {{slot, timer JSON, id, member}, ...}}
#   (`redis_timers.PersonTimers.arg`): the cancelled removed, then the set kept.
CHANGE_TIMERS: Final = compose(
    FENCES,
    """
local function timers_open(tag, account, changes)
  for _, t in ipairs(changes.set) do
    if not queue_open(tag, account, 'timers_floor', t[3]) then return false end
  end
  return true
end
local function change_timers(tag, account, changes)
  local key = k_timers(tag, account)
  local gone = {}
  local function forget(slot)
    local old = redis.call('HGET', key, slot)
    if old then
      table.insert(gone, cjson.decode(old).member)
      redis.call('HDEL', key, slot)
    end
  end
  for _, slot in ipairs(changes.cancelled) do forget(slot) end
  for _, t in ipairs(changes.set) do
    forget(t[1])
    redis.call('HSET', key, t[1], t[2])
  end
  return gone
end
""",
)

# enqueue(tag, account, psid, now, messages, owner, lease_until)
#   Appends messages to the outbox of (account, psid), in the order given.
#   tag: PersonKeys.tag of psid. now: the caller's time, as text (created_at and
#   next_attempt_at). messages: a Lua array of {id, body, endpoint, send_by} (send_by: when
#   Meta's 24-hour window closes for it, text; '' or absent for no limit), ids given by
#   `redis_outbox.announce_outbound` (which wrote the global index entries first). owner,
#   lease_until: the worker leasing them (who sends them at once) and until when (text),
#   or false, false. Keys written (declare one of them in KEYS, in this person's slot):
#   PersonKeys.outbox(account), PersonKeys.message(id) per message, PersonKeys.queues.
#   Check `outbox_open(tag, account, token)` first, before any write of the script.
ENQUEUE: Final = compose(
    HOLDS,
    FENCES,
    """
local function enqueue(tag, account, psid, now, messages, owner, lease_until)
  local outbox = k_outbox(tag, account)
  for _, m in ipairs(messages) do
    local id = m[1]
    local key = k_message(tag, id)
    redis.call('HSET', key, 'id', id, 'account', account, 'psid', psid, 'body', m[2],
      'endpoint', m[3], 'created_at', now, 'attempts', 0, 'next_attempt_at', now)
    if m[4] and m[4] ~= '' then redis.call('HSET', key, 'send_by', m[4]) end
    if owner then
      redis.call('HSET', key, 'owner', owner, 'until', lease_until)
      hold(tag, account, owner)
    end
    redis.call('ZADD', outbox, id, id)
  end
end
""",
)

# drop_outbox(tag, account) -> ids, freed
#   Deletes every message in the outbox of (account, psid), leased or not (a block drops
#   what waits for a person, never sent). ids: the ids dropped (text), oldest first; freed:
#   the workers that held a lease on one of them and now hold nothing of this person.
#   Keys written: PersonKeys.outbox(account), PersonKeys.message(id), PersonKeys.queues.
#   After the script, the caller gives both to `redis_outbox.outbox_dropped`, which
#   forgets the global index entries (they are removed after the person's change).
DROP_OUTBOX: Final = compose(
    HOLDS,
    """
local function drop_outbox(tag, account)
  local outbox = k_outbox(tag, account)
  local ids = redis.call('ZRANGE', outbox, 0, -1)
  local freed = {}
  for _, id in ipairs(ids) do
    local key = k_message(tag, id)
    local owner = redis.call('HGET', key, 'owner')
    if owner and unhold(tag, account, owner) then
      table.insert(freed, owner)
    end
    redis.call('DEL', key)
  end
  redis.call('DEL', outbox)
  return ids, freed
end
""",
)
