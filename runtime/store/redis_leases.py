"""The Redis store's leases role: who holds which event and message, renewed and released.

A lease is the `owner` and `until` fields of the event's or message's hash, in its person's
slot, and a count per worker in the person's `queues` hash; `held_by(worker)` (the people
it holds a lease of) and `lease_owners` are the global listing, written before a lease is
taken and shrunk after a script says the worker holds nothing more of a person
(`redis_index.py`). Renewing and releasing are one script per person; a released person is
woken (what they hold back is offered at once) after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Final

from runtime.store.base import LostLeases
from runtime.store.redis_connection import RedisConnection
from runtime.store.redis_index import IndexOps
from runtime.store.redis_keys import Keys, person_of
from runtime.store.redis_lua import HOLDS, compose, registered

# KEYS[1]: the person's inbox. ARGV: tag, account, worker, until, how many event ids,
# the event ids, the message ids. -> {event ids lost, message ids lost}.
_RENEW: Final = compose(
    HOLDS,
    """
local tag, account, worker, new_until = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local events = tonumber(ARGV[5])
local lost_events, lost_messages = {}, {}
for i = 6, #ARGV do
  local id = ARGV[i]
  local key, lost = k_message(tag, id), lost_messages
  if i < 6 + events then key, lost = k_event(tag, id), lost_events end
  local lease = redis.call('HMGET', key, 'owner', 'until')
  if lease[1] ~= worker then
    table.insert(lost, id)
  elseif tonumber(lease[2]) < tonumber(new_until) then
    redis.call('HSET', key, 'until', new_until)
  end
end
return {lost_events, lost_messages}
""",
)

# KEYS[1]: the person's inbox. ARGV: tag, account, worker. -> how many leases it gave back.
_RELEASE: Final = compose(
    HOLDS,
    """
local tag, account, worker = ARGV[1], ARGV[2], ARGV[3]
local released = 0
local function release(ids, key_of)
  for _, id in ipairs(ids) do
    local key = key_of(tag, id)
    if redis.call('HGET', key, 'owner') == worker then
      redis.call('HDEL', key, 'owner', 'until')
      released = released + 1
    end
  end
end
release(redis.call('ZRANGE', k_inbox(tag, account), 0, -1), k_event)
release(redis.call('ZRANGE', k_outbox(tag, account), 0, -1), k_message)
redis.call('HDEL', k_queues(tag, account), 'held:' .. worker)
return released
""",
)

Sender = tuple[str, str]


class RedisLeases:
    """`lease_owners`, `renew_leases`, `release_leases`, for `RedisStore`, on its `_redis`."""

    _redis: RedisConnection
    _keys: Keys

    async def lease_owners(self) -> set[str]:
        client = self._redis.client
        owners: set[str] = await self._redis.run(
            "list lease owners", client.smembers(self._keys.lease_owners)
        )
        return set(owners)

    async def renew_leases(
        self,
        worker: str,
        *,
        inbound: Collection[int],
        outbound: Collection[int],
        until: float,
    ) -> LostLeases:
        what = f"renew the leases of worker {worker!r}"
        events, messages = list(inbound), list(outbound)
        if not events and not messages:
            self._redis.client  # noqa: B018 (a closed store says so)
            return LostLeases()
        ops = IndexOps()
        events_at = ops.locate("events", events)
        messages_at = ops.locate("messages", messages)
        results = await ops.run(self._redis, self._keys, what)
        lost_events: set[int] = set()
        lost_messages: set[int] = set()
        mine: dict[Sender, tuple[list[int], list[int]]] = {}
        for kind, (ids, lost, found) in enumerate(
            [
                (events, lost_events, results[events_at]),
                (messages, lost_messages, results[messages_at]),
            ]
        ):
            for row_id, (person, _) in zip(ids, found, strict=True):
                if person:
                    mine.setdefault(person_of(person), ([], []))[kind].append(row_id)
                else:
                    lost.add(row_id)

        async def renew(sender: Sender, held: tuple[list[int], list[int]]) -> list[list[str]]:
            account_id, psid = sender
            keys = self._keys.person(psid)
            lost: list[list[str]] = await self._redis.call(
                what,
                registered(self._redis, _RENEW),
                [keys.inbox(account_id)],
                [keys.tag, account_id, worker, repr(until), len(held[0]), *held[0], *held[1]],
            )
            return lost

        for lost_in, lost_out in await asyncio.gather(*(renew(s, h) for s, h in mine.items())):
            lost_events.update(int(event_id) for event_id in lost_in)
            lost_messages.update(int(message_id) for message_id in lost_out)
        return LostLeases(inbound=frozenset(lost_events), outbound=frozenset(lost_messages))

    async def release_leases(self, worker: str) -> int:
        what = f"release the leases of worker {worker!r}"
        client = self._redis.client
        people: set[str] = await self._redis.run(what, client.smembers(self._keys.held_by(worker)))

        async def release(person: str) -> int:
            account_id, psid = person_of(person)
            keys = self._keys.person(psid)
            released: int = await self._redis.call(
                what,
                registered(self._redis, _RELEASE),
                [keys.inbox(account_id)],
                [keys.tag, account_id, worker],
            )
            return released

        counts = await asyncio.gather(*(release(person) for person in people))
        after = IndexOps()
        for person in people:
            after.wake("inbox", person)
            after.wake("outbox", person)
        if people:
            after.free(worker, sorted(people))
        await after.run(self._redis, self._keys, what)
        return sum(counts)
