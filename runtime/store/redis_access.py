"""The Redis store's access role: the 24-hour window, approvals, blocks (pairing requests are
`redis_pairing.py`'s).

A person's last message time, approval and block on an account are keys of their slot
(`PersonKeys.last_inbound`, `approved`, `blocked`: the time as text), so `standing` is one
read, and approving a pairing request (its code used up, the approval, the confirmation
queued) or blocking (the block, the approval withdrawn, the requests and the replies waiting
dropped) is one script there: all of it or none. The outbox's global entries go around that
script in `redis_outbox.py`'s order: the confirmation is announced (its id, its index entry)
before the approval's script, its id withdrawn after a refused approval; a block's dropped
replies are forgotten by the global slot after the block's script.

The global `approved` and `blocked` ZSETs list them: an entry is written before the person's
key and removed after it, so nobody approved or blocked is ever missing from a list; an entry
left by a crash between the two, or by an approval that found its request gone, names a
person whose key says otherwise: listing skips it, and the next revoke or unblock of that
person removes it. (An approval racing a revoke of the same person can leave them approved
but unlisted: `standing` still reads their key, and `runtime pair approve` again lists them.)
"""

from __future__ import annotations

import json
from typing import Any, Final

from runtime.errors import StoreError
from runtime.store.base import (
    ApprovedSender,
    BlockedSender,
    NewOutbound,
    PairingRequest,
    Standing,
)
from runtime.store.redis_keys import person_id, person_of
from runtime.store.redis_lua import DROP_OUTBOX, ENQUEUE, OUTBOX_CLOSED, compose, registered
from runtime.store.redis_outbox import (
    Announced,
    announce_outbound,
    enqueue_announced,
    outbox_dropped,
    withdraw_outbound,
)
from runtime.store.redis_pairing import RedisPairing

# KEYS last_inbound; ARGV at. An older time never wins.
RECORD_INBOUND: Final = """
local kept = redis.call('GET', KEYS[1])
if not kept or tonumber(ARGV[1]) > tonumber(kept) then
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
"""

# KEYS pairings, approved; ARGV code, created_at, now, then the confirmation's: tag,
# account, psid, token ('' for none), messages JSON (`redis_lua.enqueue`'s). Uses up the
# request as it was read, while it is pending, approves its sender (the first approval's
# time stays) and queues the confirmation. Returns the request's `made`; nil with nothing
# changed; OUTBOX_CLOSED, nothing changed, when the confirmation must be announced again.
APPROVE_PAIRING: Final = compose(
    ENQUEUE,
    f"""
local code, created_at, now = ARGV[1], ARGV[2], ARGV[3]
local tag, account, psid, token = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if token ~= '' and not outbox_open(tag, account, token) then return '{OUTBOX_CLOSED}' end
local text = redis.call('HGET', KEYS[1], code)
if not text then return false end
local request = cjson.decode(text)
if tonumber(request.created_at) ~= tonumber(created_at)
    or tonumber(request.expires_at) <= tonumber(now) then
  return false
end
redis.call('HDEL', KEYS[1], code)
redis.call('SET', KEYS[2], now, 'NX')
if token ~= '' then enqueue(tag, account, psid, now, cjson.decode(ARGV[8]), false, false) end
return request.made
""",
)

# KEYS blocked, approved, pairings; ARGV at, tag, account. Returns {1 if newly blocked else
# 0, {code, made, ...} of the requests dropped, the outbox ids dropped, the workers freed}.
BLOCK: Final = compose(
    DROP_OUTBOX,
    """
local new = redis.call('SET', KEYS[1], ARGV[1], 'NX') and 1 or 0
redis.call('DEL', KEYS[2])
local dropped = {}
local requests = redis.call('HGETALL', KEYS[3])
for i = 1, #requests, 2 do
  table.insert(dropped, requests[i])
  table.insert(dropped, cjson.decode(requests[i + 1]).made)
end
redis.call('DEL', KEYS[3])
local ids, freed = drop_outbox(ARGV[2], ARGV[3])
return {new, dropped, ids, freed}
""",
)


class RedisAccess(RedisPairing):
    """`record_inbound` ... `list_blocked`, for `RedisStore`, on its `_redis`."""

    # -- the 24-hour window ------------------------------------------------------------------
    async def record_inbound(self, account_id: str, psid: str, at: float) -> None:
        await self._redis.call(
            "record an inbound time",
            registered(self._redis, RECORD_INBOUND),
            [self._keys.person(psid).last_inbound(account_id)],
            [repr(at)],
        )

    async def last_inbound(self, account_id: str, psid: str) -> float | None:
        key = self._keys.person(psid).last_inbound(account_id)
        at = await self._redis.run("read an inbound time", self._redis.client.get(key))
        return None if at is None else float(at)

    # -- approvals -----------------------------------------------------------------------------
    async def approve_pairing(
        self, request: PairingRequest, *, now: float, confirmation: NewOutbound | None
    ) -> bool:
        what = "approve a pairing request"
        if confirmation is not None and confirmation.psid != request.psid:
            raise StoreError(f"cannot {what}: its confirmation must go to the request's sender")
        found = await self.find_pairing(request.code)
        if found is None or found.expires_at <= now or _made(found) != _made(request):
            return False  # nothing announced, nothing listed, for an approval that cannot be
        await self._index("approved", request.account_id, request.psid, now)
        if confirmation is None:
            made = await self._approve(request, now=now, confirmation=None, announced=None)
        else:
            first = await announce_outbound(
                self._redis, self._keys, confirmation.account_id, confirmation.psid, 1
            )
            announced, made = await enqueue_announced(
                self._redis,
                self._keys,
                first,
                lambda again: self._approve(
                    request, now=now, confirmation=confirmation, announced=again
                ),
            )
            if made is None:  # its ids go; the index entry is dropped by the next claim
                await withdraw_outbound(self._redis, self._keys, announced.ids)
        if made is None:
            return False
        await self._unindex(request.code, str(made))
        return True

    async def _approve(
        self,
        request: PairingRequest,
        *,
        now: float,
        confirmation: NewOutbound | None,
        announced: Announced | None,
    ) -> Any:
        """The approval's script, with the confirmation `announced` (or none)."""
        person = self._keys.person(request.psid)
        tail: list[object] = [person.tag, "", "", "", "[]"]
        if confirmation is not None and announced is not None:
            message = [str(announced.ids[0]), confirmation.body, confirmation.endpoint]
            tail = [
                person.tag,
                confirmation.account_id,
                confirmation.psid,
                announced.token,
                json.dumps([message]),
            ]
        return await self._redis.call(
            "approve a pairing request",
            registered(self._redis, APPROVE_PAIRING),
            [person.pairings(request.account_id), person.approved(request.account_id)],
            [request.code, repr(request.created_at), repr(now), *tail],
        )

    async def approve_sender(self, account_id: str, psid: str, at: float) -> None:
        await self._index("approved", account_id, psid, at)
        key = self._keys.person(psid).approved(account_id)
        await self._redis.run("approve a sender", self._redis.client.set(key, repr(at), nx=True))

    async def revoke_sender(self, account_id: str, psid: str) -> bool:
        key = self._keys.person(psid).approved(account_id)
        revoked = await self._redis.run("revoke a sender", self._redis.client.delete(key))
        await self._unlist("approved", account_id, psid)
        return bool(revoked)

    async def list_approved(self, account_id: str | None = None) -> list[ApprovedSender]:
        found = await self._listed("approved", account_id)
        return sorted(
            (ApprovedSender(account_id=a, psid=p, approved_at=at) for a, p, at in found),
            key=lambda s: (s.approved_at, s.account_id, s.psid),
        )

    # -- standing and blocks -------------------------------------------------------------------
    async def standing(self, account_id: str, psid: str) -> Standing:
        person = self._keys.person(psid)
        blocked, approved = await self._redis.command(
            "read a sender's standing",
            "MGET",
            person.blocked(account_id),
            person.approved(account_id),
        )
        if blocked is not None:
            return Standing.BLOCKED
        return Standing.NONE if approved is None else Standing.APPROVED

    async def block_sender(self, account_id: str, psid: str, at: float) -> bool:
        person = self._keys.person(psid)
        await self._index("blocked", account_id, psid, at)
        new, dropped, ids, freed = await self._redis.call(
            "block a sender",
            registered(self._redis, BLOCK),
            [person.blocked(account_id), person.approved(account_id), person.pairings(account_id)],
            [repr(at), person.tag, account_id],
        )
        await self._unlist("approved", account_id, psid)
        for code, made in zip(dropped[::2], dropped[1::2], strict=True):
            await self._unindex(code, made)
        if ids or freed:
            await outbox_dropped(self._redis, self._keys, account_id, psid, ids, freed)
        return bool(new)

    async def unblock_sender(self, account_id: str, psid: str) -> bool:
        key = self._keys.person(psid).blocked(account_id)
        unblocked = await self._redis.run("unblock a sender", self._redis.client.delete(key))
        await self._unlist("blocked", account_id, psid)
        return bool(unblocked)

    async def list_blocked(self, account_id: str | None = None) -> list[BlockedSender]:
        found = await self._listed("blocked", account_id)
        return sorted(
            (BlockedSender(account_id=a, psid=p, blocked_at=at) for a, p, at in found),
            key=lambda s: (s.blocked_at, s.account_id, s.psid),
        )

    # -- the global lists ----------------------------------------------------------------------
    def _list_key(self, which: str) -> str:
        return self._keys.approved if which == "approved" else self._keys.blocked

    def _person_key(self, which: str, account_id: str, psid: str) -> str:
        person = self._keys.person(psid)
        return person.approved(account_id) if which == "approved" else person.blocked(account_id)

    async def _index(self, which: str, account_id: str, psid: str, at: float) -> None:
        """List a person as `which`, before their key says so."""
        member = {person_id(account_id, psid): at}
        await self._redis.run(
            f"list a sender as {which}",
            self._redis.client.zadd(self._list_key(which), member, nx=True),
        )

    async def _unlist(self, which: str, account_id: str, psid: str) -> None:
        """Take a person off the `which` list, after their key is gone."""
        await self._redis.run(
            f"take a sender off the {which} list",
            self._redis.client.zrem(self._list_key(which), person_id(account_id, psid)),
        )

    async def _listed(self, which: str, account_id: str | None) -> list[tuple[str, str, float]]:
        """(account_id, psid, time) of everyone the `which` list names whose key agrees."""
        what = f"list {which} senders"
        members = await self._redis.run(
            what, self._redis.client.zrange(self._list_key(which), 0, -1)
        )
        people = [
            (account, psid)
            for account, psid in map(person_of, members)
            if account_id in (None, account)
        ]
        keys = [self._person_key(which, account, psid) for account, psid in people]
        times = await self._redis.get_all(what, keys)
        return [
            (account, psid, float(at))
            for (account, psid), at in zip(people, times, strict=True)
            if at is not None
        ]


def _made(request: PairingRequest) -> tuple[str, str, float]:
    """Who made a request, and when: what tells it from a later one with its code."""
    return request.account_id, request.psid, request.created_at
