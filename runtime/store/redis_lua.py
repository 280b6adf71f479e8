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
- `held:<worker>`: how many leases `worker` holds on the person's inbox events and outbox
  messages (run out or not), so a script knows when a worker holds nothing more of theirs
  and the global `held_by(worker)` entry can go.
"""

from __future__ import annotations

from typing import Final

OUTBOX_CLOSED: Final = "outbox-closed"  # what a script returns when `outbox_open` is false
INBOX_CLOSED: Final = "inbox-closed"  # the same for the inbox


def compose(*parts: str) -> str:
    """One script from fragments and a body: each fragment once, in the order first given."""
    return "\n".join(dict.fromkeys(parts))


# The names of redis_keys.PersonKeys, in Lua (keep them equal: tests/store compares them).
PERSON_KEYS: Final = """
local function k_inbox(tag, account) return tag .. ':inbox:' .. account end
local function k_event(tag, id) return tag .. ':event:' .. id end
local function k_outbox(tag, account) return tag .. ':outbox:' .. account end
local function k_message(tag, id) return tag .. ':message:' .. id end
local function k_queues(tag, account) return tag .. ':queues:' .. account end
local function k_session(tag, session_key) return tag .. ':session:' .. session_key end
"""

# hold(tag, account, worker): `worker` took a lease on a row of this person.
# unhold(tag, account, worker) -> true when `worker` now holds nothing of this person (on
#   this account): the caller then drops them from `held_by(worker)` after the script.
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
""",
)

# enqueue(tag, account, psid, now, messages, owner, lease_until)
#   Appends messages to the outbox of (account, psid), in the order given.
#   tag: PersonKeys.tag of psid. now: the caller's time, as text (created_at and
#   next_attempt_at). messages: a Lua array of {id, body, endpoint}, ids already given by
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
