"""The Redis store's pairing requests: each in its person's slot, found by code in the global one.

A request lives in `PersonKeys.pairings(account)` (code -> JSON), so approving it or blocking
its sender is one script on that person's slot. What crosses people is in the global slot:
`pairing_codes` (code -> whose slot, when made, `made`: the order of requests made at once)
and `pairing_expiry` (code -> expires_at). Those two decide, in one global script, whether a
code is free (no pending request has it) and which requests of an account are pending; the
pending ones are few (`max_pending` an account), so counting them reads no person's keys.

Order, so that a crash between two commands never leaves two pending requests with one code:

- create: the global entry first (the code reserved, atomically with the check that it is
  free), then the request in its person's slot, then the account's oldest pending ones expire
  (each in its person's slot first, then its global expiry), then the requests expired for a
  day go (the person's copy first, then the entry). A crash leaves at worst an entry whose
  request was never written (its code unusable until it expires, and it counts as pending
  until then), or one request too many on the account until the next create;
- a request's expiry only moves earlier, in its person's slot first: so the global expiry is
  never earlier than the request's, and a code the global slot calls free is free;
- take, approve, block: the person's request goes first, its entry after (`_unindex`, which
  removes it only if it is still that request's: `made` matches). An entry left behind names
  a request that is gone: find and take answer None, listing skips it, it is forgotten a day
  after it expires.

Times are stored as text (`repr`) and compared in Lua, never rewritten by it: a float that
goes through Lua's number formatting loses digits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from runtime.store.base import KEEP_EXPIRED_PAIRINGS, PairingRequest
from runtime.store.redis_caches import EXPIRY_MARGIN
from runtime.store.redis_connection import RedisConnection
from runtime.store.redis_keys import Keys
from runtime.store.redis_lua import registered

PURGE_BATCH: Final = 100  # requests expired a day, forgotten by each create
EVICT_ROUNDS: Final = 4  # an account's excess is looked at again after an entry was stale

# -- the global slot: KEYS pairing_codes, pairing_expiry (, pairing_ids) ---------------------

# ARGV code, account, psid, created_at, expires_at, now, purge_until, purge_batch.
# Reserves the code unless a pending request has it. Returns {"taken"} or
# {"made", made, the entry it replaced or "", code, entry, ...: those expired a day}.
RESERVE: Final = """
local codes, expiry = KEYS[1], KEYS[2]
local code = ARGV[1]
local old = redis.call('HGET', codes, code)
local expires = redis.call('ZSCORE', expiry, code)
if old and expires and tonumber(expires) > tonumber(ARGV[6]) then
  return {'taken'}
end
local made = tostring(redis.call('INCR', KEYS[3]))
local entry = cjson.encode({account_id = ARGV[2], psid = ARGV[3], created_at = ARGV[4],
                            made = made})
redis.call('HSET', codes, code, entry)
redis.call('ZADD', expiry, ARGV[5], code)
local out = {'made', made, old or ''}
local purge = redis.call('ZRANGEBYSCORE', expiry, '-inf', ARGV[7], 'LIMIT', 0, ARGV[8])
for _, gone in ipairs(purge) do
  table.insert(out, gone)
  table.insert(out, redis.call('HGET', codes, gone) or '')
end
return out
"""

# ARGV account, now, room, codes to leave out... Returns code, entry, ...: the account's
# oldest pending requests beyond `room`, oldest first (by created_at, then made).
EXCESS: Final = """
local skip = {}
for i = 4, #ARGV do skip[ARGV[i]] = true end
local mine = {}
for _, code in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[2], '+inf')) do
  local entry = redis.call('HGET', KEYS[1], code)
  if entry and not skip[code] then
    local found = cjson.decode(entry)
    if found.account_id == ARGV[1] then
      table.insert(mine, {tonumber(found.created_at), tonumber(found.made), code, entry})
    end
  end
end
table.sort(mine, function(a, b)
  if a[1] ~= b[1] then return a[1] < b[1] end
  return a[2] < b[2]
end)
local out = {}
for i = 1, math.min(#mine - tonumber(ARGV[3]), #mine) do
  table.insert(out, mine[i][3])
  table.insert(out, mine[i][4])
end
return out
"""

# ARGV code, made, now: the entry's expiry moves to `now`, if it is still that request's.
EXPIRED: Final = """
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry or cjson.decode(entry).made ~= ARGV[2] then return 0 end
local expires = redis.call('ZSCORE', KEYS[2], ARGV[1])
if expires and tonumber(expires) > tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
end
return 1
"""

# ARGV code, made: the entry goes, if it is still that request's.
UNINDEX: Final = """
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry or cjson.decode(entry).made ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""

# ARGV now. Returns code, entry, ...: every request the index calls pending.
PENDING: Final = """
local out = {}
for _, code in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '+inf')) do
  local entry = redis.call('HGET', KEYS[1], code)
  if entry then
    table.insert(out, code)
    table.insert(out, entry)
  end
end
return out
"""

# -- a person's slot: KEYS pairings(account) -------------------------------------------------

# ARGV code, request JSON, milliseconds to keep the hash (only frees memory).
WRITE: Final = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
"""

# The request of ARGV[1] whose `made` is ARGV[2], decoded, or nil (a Lua function to prepend).
FIND_MADE: Final = """
local function find_made(key, code, made)
  local text = redis.call('HGET', key, code)
  if not text then return nil end
  local request = cjson.decode(text)
  if request.made ~= made then return nil end
  return request
end
"""

# ARGV code, made, field, value, bound: set the field to `value` when it is above `bound`
# (an expiry moved earlier), or always when no bound is given. Returns 1 if the request is
# there.
UPDATE: Final = (
    FIND_MADE
    + """
local request = find_made(KEYS[1], ARGV[1], ARGV[2])
if not request then return 0 end
if ARGV[5] == '' or tonumber(request[ARGV[3]]) > tonumber(ARGV[5]) then
  request[ARGV[3]] = ARGV[4]
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(request))
end
return 1
"""
)

# ARGV code, made, until: the request goes if it expired by `until`. Returns 1 unless it is
# there and kept (gone already counts: its entry may go too).
DROP_EXPIRED: Final = (
    FIND_MADE
    + """
local request = find_made(KEYS[1], ARGV[1], ARGV[2])
if not request then return 1 end
if tonumber(request.expires_at) > tonumber(ARGV[3]) then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
"""
)

# ARGV code, made: removes the request and returns its JSON (nil if not there).
TAKE: Final = (
    FIND_MADE
    + """
local request = find_made(KEYS[1], ARGV[1], ARGV[2])
if not request then return nil end
local text = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
return text
"""
)


@dataclass(frozen=True, slots=True)
class Entry:
    """A code's global entry: whose slot its request is in, and which request (`made`)."""

    account_id: str
    psid: str
    created_at: float
    made: str

    @classmethod
    def parse(cls, text: str) -> Entry:
        found = json.loads(text)
        return cls(
            str(found["account_id"]),
            str(found["psid"]),
            float(found["created_at"]),
            str(found["made"]),
        )


def request_json(request: PairingRequest, made: str) -> str:
    """A request as its person's slot keeps it: its times as exact text, and `made`."""
    return json.dumps(
        {
            "code": request.code,
            "account_id": request.account_id,
            "psid": request.psid,
            "created_at": repr(request.created_at),
            "expires_at": repr(request.expires_at),
            "last_sent_at": repr(request.last_sent_at),
            "made": made,
        }
    )


def parse_request(text: str) -> tuple[PairingRequest, int]:
    """A request back from `request_json`, with its `made` (to order requests made at once)."""
    found = json.loads(text)
    request = PairingRequest(
        code=str(found["code"]),
        account_id=str(found["account_id"]),
        psid=str(found["psid"]),
        created_at=float(found["created_at"]),
        expires_at=float(found["expires_at"]),
        last_sent_at=float(found["last_sent_at"]),
    )
    return request, int(found["made"])


def pairs(flat: list[str]) -> list[tuple[str, str]]:
    """[a, b, c, d] -> [(a, b), (c, d)]: how the scripts return code and entry."""
    return list(zip(flat[::2], flat[1::2], strict=True))


class RedisPairing:
    """`pending_pairing` ... `take_pairing`, for `RedisStore`, on its `_redis`."""

    _redis: RedisConnection
    _keys: Keys

    async def pending_pairing(
        self, account_id: str, psid: str, *, now: float
    ) -> PairingRequest | None:
        key = self._keys.person(psid).pairings(account_id)
        texts = await self._redis.run("read a pairing request", self._redis.client.hvals(key))
        mine = [parse_request(text) for text in texts]
        pending = [(request, made) for request, made in mine if request.expires_at > now]
        if not pending:
            return None
        # the newest; of two made at once, the later made
        return max(pending, key=lambda found: (found[0].created_at, found[1]))[0]

    async def create_pairing(
        self, request: PairingRequest, *, now: float, max_pending: int
    ) -> PairingRequest | None:
        what = "create a pairing request"
        keys = self._keys
        reserved = await self._redis.call(
            what,
            registered(self._redis, RESERVE),
            [keys.pairing_codes, keys.pairing_expiry, keys.pairing_ids],
            [
                request.code,
                request.account_id,
                request.psid,
                repr(request.created_at),
                repr(request.expires_at),
                repr(now),
                repr(now - KEEP_EXPIRED_PAIRINGS),
                PURGE_BATCH,
            ],
        )
        if reserved[0] == "taken":
            return None
        made, replaced, purge = reserved[1], reserved[2], pairs(reserved[3:])
        if replaced:  # an expired request had the code: it goes (its entry is replaced)
            await self._drop_expired(request.code, Entry.parse(replaced), until=now)
        kept_for = request.expires_at - now + KEEP_EXPIRED_PAIRINGS + EXPIRY_MARGIN
        await self._redis.call(
            what,
            registered(self._redis, WRITE),
            [keys.person(request.psid).pairings(request.account_id)],
            [request.code, request_json(request, made), max(1, int(kept_for * 1000))],
        )
        await self._expire_excess(request, now=now, room=max_pending - 1)
        until = now - KEEP_EXPIRED_PAIRINGS
        for code, entry in purge:
            if not entry:
                continue
            found = Entry.parse(entry)
            if await self._drop_expired(code, found, until=until):
                await self._unindex(code, found.made)
        return request

    async def mark_pairing_sent(self, code: str, at: float) -> None:
        entry = await self._entry("mark a pairing code sent", code)
        if entry is not None:
            await self._update(
                "mark a pairing code sent", code, entry, "last_sent_at", repr(at), bound=""
            )

    async def list_pairings(
        self, account_id: str | None = None, *, now: float
    ) -> list[PairingRequest]:
        what = "list pairing requests"
        listed = await self._redis.call(
            what,
            registered(self._redis, PENDING),
            [self._keys.pairing_codes, self._keys.pairing_expiry],
            [repr(now)],
        )
        entries = [(code, Entry.parse(entry)) for code, entry in pairs(listed)]
        wanted = [(code, e) for code, e in entries if account_id in (None, e.account_id)]
        pipeline = self._redis.client.pipeline(transaction=False)
        for code, entry in wanted:
            pipeline.hget(self._keys.person(entry.psid).pairings(entry.account_id), code)
        texts: list[str | None] = await self._redis.run(what, pipeline.execute()) if wanted else []
        found = [
            (request, made)
            for text, (_, entry) in zip(texts, wanted, strict=True)
            if text is not None
            for request, made in [parse_request(text)]
            if str(made) == entry.made and request.expires_at > now
        ]
        found.sort(key=lambda pair: (pair[0].created_at, pair[1]))
        return [request for request, _ in found]

    async def find_pairing(self, code: str) -> PairingRequest | None:
        what = "read a pairing request"
        entry = await self._entry(what, code)
        if entry is None:
            return None
        key = self._keys.person(entry.psid).pairings(entry.account_id)
        text = await self._redis.run(what, self._redis.client.hget(key, code))
        if text is None:
            return None
        request, made = parse_request(text)
        return request if str(made) == entry.made else None

    async def take_pairing(self, code: str) -> PairingRequest | None:
        what = "take a pairing request"
        entry = await self._entry(what, code)
        if entry is None:
            return None
        text = await self._redis.call(
            what,
            registered(self._redis, TAKE),
            [self._keys.person(entry.psid).pairings(entry.account_id)],
            [code, entry.made],
        )
        if text is None:
            return None
        await self._unindex(code, entry.made)
        return parse_request(text)[0]

    # -- helpers -----------------------------------------------------------------------------
    async def _entry(self, what: str, code: str) -> Entry | None:
        text = await self._redis.run(what, self._redis.client.hget(self._keys.pairing_codes, code))
        return None if text is None else Entry.parse(text)

    async def _unindex(self, code: str, made: str) -> None:
        """Forget a code's entry, after its request is gone (if it is still that request's)."""
        await self._redis.call(
            "forget a pairing code",
            registered(self._redis, UNINDEX),
            [self._keys.pairing_codes, self._keys.pairing_expiry],
            [code, made],
        )

    async def _update(
        self, what: str, code: str, entry: Entry, field: str, value: str, *, bound: str
    ) -> bool:
        updated = await self._redis.call(
            what,
            registered(self._redis, UPDATE),
            [self._keys.person(entry.psid).pairings(entry.account_id)],
            [code, entry.made, field, value, bound],
        )
        return bool(updated)

    async def _drop_expired(self, code: str, entry: Entry, *, until: float) -> bool:
        """Remove a request that expired by `until`; True unless it is there and kept."""
        dropped = await self._redis.call(
            "forget an expired pairing request",
            registered(self._redis, DROP_EXPIRED),
            [self._keys.person(entry.psid).pairings(entry.account_id)],
            [code, entry.made, repr(until)],
        )
        return bool(dropped)

    async def _expire_excess(self, request: PairingRequest, *, now: float, room: int) -> None:
        """The account's oldest pending requests beyond `room` (besides `request`) expire now:
        each in its person's slot, then in the global expiry. An entry whose request is not
        there (never written, or gone) is left out and the excess looked at again."""
        what = "make room for a pairing request"
        skip = [request.code]
        for _ in range(EVICT_ROUNDS):
            excess = await self._redis.call(
                what,
                registered(self._redis, EXCESS),
                [self._keys.pairing_codes, self._keys.pairing_expiry],
                [request.account_id, repr(now), room, *skip],
            )
            if not excess:
                return
            for code, text in pairs(excess):
                entry = Entry.parse(text)
                if await self._update(what, code, entry, "expires_at", repr(now), bound=repr(now)):
                    await self._redis.call(
                        what,
                        registered(self._redis, EXPIRED),
                        [self._keys.pairing_codes, self._keys.pairing_expiry],
                        [code, entry.made, repr(now)],
                    )
                else:
                    skip.append(code)
