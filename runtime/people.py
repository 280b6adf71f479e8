"""UserProfiles: the person's profile fields for a turn (`user.first_name`...), fetched from the
User Profile API (`GET /{psid}?fields=...`) at most once a person per TTL, and never at the
cost of a reply.

A lookup looks in three places, nearest first:

1. this process's memory (a bounded LRU), so a person's later messages cost no store read
   and no Graph call;
2. the store's cache (kind `user_profile`, key `<account id>:<psid>`), so a restart or
   another worker process does not ask Meta again;
3. the Graph API (each phase of the call, connect or read, capped at 2 seconds).

It never raises and never makes a reply wait more than 2 seconds: then the reply goes
without the fields and the lookup goes on; until it ends, the person's next messages do not
wait for it, and what it finds serves them (a server overloaded for a moment costs one
message the name, not ten minutes of messages).

When Meta has nothing to say (an answer of `{}`, error 2018218 for a person who signed up
with a phone number), the fields are undefined (templates write `user.first_name or
'there'`) and that answer is kept for the account's `userProfileTtl`, as a name would be.
When the lookup fails (a Graph error, a timeout of the call), the fields are undefined too
and the failure is kept for RETRY_AFTER_FAILURE (10 minutes): the person's next messages do
not wait again, and a passing outage or a permission granted meanwhile heals soon. Each
outcome is logged once a person, when it is looked up (INFO for no profile, WARNING for a
failure), never with the token.

`profile_pic` is a URL Meta says "will expire" (no TTL documented): it is never written to
the store, and kept in memory for PROFILE_PIC_SECONDS (an hour) at most; a bot that uses it
asks again after that.

Two messages of one person looked up at once share one Graph call.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Final

from runtime.config.model import Account
from runtime.dialog.user_fields import PROFILE_FIELDS
from runtime.errors import GraphAPIError, StoreError
from runtime.messenger.graph import GraphClient
from runtime.store.base import Store

logger = logging.getLogger("runtime.people")

CACHE_KIND: Final = "user_profile"
LOOKUP_SECONDS: Final = 2.0  # the most a reply waits for the person's profile
GIVE_UP_SECONDS: Final = 10.0  # a lookup still running then is dropped (a store that hangs)
RETRY_AFTER_FAILURE: Final = 600.0  # seconds a failed lookup is kept before asking again
PROFILE_PIC_SECONDS: Final = 3600.0  # the most a profile_pic URL is kept (in memory only)
MEMORY_ENTRIES: Final = 10_000  # people remembered by one process
NO_PROFILE: Final = 2018218  # "No profile available for this user" (phone-number accounts)
_PROFILE_PIC: Final = "profile_pic"


@dataclass(frozen=True, slots=True)
class _Known:
    """What is known of one person: the fields Meta gave for `asked`, until `expires_at`."""

    fields: Mapping[str, object]
    asked: frozenset[str]
    expires_at: float

    def answers(self, wanted: Collection[str], now: float) -> bool:
        return self.expires_at > now and self.asked.issuperset(wanted)

    def to_json(self) -> str:
        return json.dumps(
            {"fields": dict(self.fields), "asked": sorted(self.asked), "until": self.expires_at}
        )

    @classmethod
    def from_json(cls, text: str) -> _Known | None:
        try:
            data = json.loads(text)
            fields, asked, until = data["fields"], data["asked"], float(data["until"])
        except (ValueError, TypeError, KeyError):
            return None  # not ours, or from another version: look it up again
        if not isinstance(fields, dict) or not isinstance(asked, list):
            return None
        return cls(MappingProxyType(_profile(fields)), frozenset(map(str, asked)), until)


class UserProfiles:
    """The profile fields of people, for the worker's turns; one per server process."""

    def __init__(
        self,
        store: Store,
        client: GraphClient,
        *,
        capacity: int = MEMORY_ENTRIES,
        within: float = LOOKUP_SECONDS,
    ) -> None:
        self._store = store
        self._client = client
        self._capacity = capacity
        self._within = within
        self._memory: OrderedDict[str, _Known] = OrderedDict()
        self._pending: dict[str, asyncio.Task[_Known]] = {}

    async def fields(
        self, account: Account, psid: str, wanted: Collection[str], *, now: float
    ) -> Mapping[str, object]:
        """The fields of `wanted` Meta gives for this person; those it does not, or all of
        them when the lookup fails or takes 2 seconds, are missing. Never raises."""
        wanted = frozenset(wanted).intersection(PROFILE_FIELDS)
        if not wanted:
            return {}
        key = f"{account.id}:{psid}"
        known = self._recall(key, wanted, now)
        if known is not None:
            return known.fields
        task = self._pending.get(key)
        if task is None:
            task = asyncio.create_task(
                self._look_up(account, psid, key, wanted, now), name=f"profile-{psid}"
            )
            self._pending[key] = task
            task.add_done_callback(lambda _: self._pending.pop(key, None))
        try:
            # shielded: a turn that stops waiting (2 s, or cancelled) leaves the lookup running
            known = await asyncio.wait_for(asyncio.shield(task), self._within)
        except TimeoutError:
            self._late(account, psid, key, wanted, now)
            return {}
        return known.fields

    async def close(self) -> None:
        """Stop the lookups still running (the server stops): nothing they find is kept."""
        tasks = list(self._pending.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _late(
        self, account: Account, psid: str, key: str, wanted: frozenset[str], now: float
    ) -> None:
        """The reply goes on without the profile; the lookup goes on too, and until it ends
        the person's next messages do not wait for it."""
        logger.warning(
            "account %s: the profile of %s was not known within %.0f s; this reply goes "
            "without its user.* fields, and the next ones wait no more",
            account.label,
            psid,
            self._within,
        )
        if key in self._pending:  # what it finds replaces this, whenever it ends
            self._remember(key, _Known(MappingProxyType({}), wanted, now + RETRY_AFTER_FAILURE))

    def _recall(self, key: str, wanted: Collection[str], now: float) -> _Known | None:
        known = self._memory.get(key)
        if known is None or not known.answers(wanted, now):
            return None
        self._memory.move_to_end(key)
        return known

    def _remember(self, key: str, known: _Known) -> None:
        self._memory[key] = known
        self._memory.move_to_end(key)
        while len(self._memory) > self._capacity:
            self._memory.popitem(last=False)

    async def _look_up(
        self, account: Account, psid: str, key: str, wanted: frozenset[str], now: float
    ) -> _Known:
        """The store's entry, else Meta's answer (kept in the store); remembered here."""
        try:
            async with asyncio.timeout(GIVE_UP_SECONDS):
                known = await self._stored(key, wanted, now)
                if known is None:
                    fields, ttl = await self._fetch(account, psid, wanted)
                    known = _Known(MappingProxyType(fields), wanted, now + ttl)
                    await self._keep(key, known, now)
        except TimeoutError:
            logger.warning(
                "account %s: looking up the profile of %s took over %.0f s: given up; its "
                "user.* fields are undefined, and asked again in %.0f minutes",
                account.label,
                psid,
                GIVE_UP_SECONDS,
                RETRY_AFTER_FAILURE / 60,
            )
            known = _Known(MappingProxyType({}), wanted, now + RETRY_AFTER_FAILURE)
        except Exception:  # a bug here must not cost the reply: the turn goes on without
            logger.exception("account %s: looking up the profile of %s failed", account.label, psid)
            known = _Known(MappingProxyType({}), wanted, now + RETRY_AFTER_FAILURE)
        if _PROFILE_PIC in known.fields:  # the URL expires: kept an hour at most
            known = replace(known, expires_at=min(known.expires_at, now + PROFILE_PIC_SECONDS))
        self._remember(key, known)
        return known

    async def _stored(self, key: str, wanted: frozenset[str], now: float) -> _Known | None:
        try:
            text = await self._store.cache_get(CACHE_KIND, key, now=now)
        except StoreError as err:
            logger.warning("cannot read the profile cache (asking Meta instead): %s", err)
            return None
        known = None if text is None else _Known.from_json(text)
        return known if known is not None and known.answers(wanted, now) else None

    async def _fetch(
        self, account: Account, psid: str, wanted: frozenset[str]
    ) -> tuple[dict[str, object], float]:
        """Meta's answer, and how long to keep it (seconds)."""
        asked = ",".join(sorted(wanted))
        try:
            answer = await self._client.get(account, psid, {"fields": asked}, within=self._within)
        except GraphAPIError as err:
            if NO_PROFILE in (err.code, err.subcode):
                _log_no_profile(account, psid, "Meta has no profile for them (error 2018218)")
                return {}, account.user_profile_ttl
            logger.warning(
                "account %s: cannot read the profile of %s (%s); its user.* fields are "
                "undefined, and asked again in %.0f minutes",
                account.label,
                psid,
                err,
                RETRY_AFTER_FAILURE / 60,
            )
            return {}, RETRY_AFTER_FAILURE
        fields = _profile(answer)
        if not fields:
            _log_no_profile(account, psid, f"Meta answered no field of {asked}")
        return fields, account.user_profile_ttl

    async def _keep(self, key: str, known: _Known, now: float) -> None:
        """Put what is known in the store, but for profile_pic (its URL expires)."""
        if _PROFILE_PIC in known.fields:
            fields = {k: v for k, v in known.fields.items() if k != _PROFILE_PIC}
            known = replace(known, fields=fields, asked=known.asked - {_PROFILE_PIC})
        ttl = known.expires_at - now
        try:
            await self._store.cache_put(CACHE_KIND, key, known.to_json(), now=now, ttl=ttl)
        except StoreError as err:
            logger.warning("cannot keep a profile in the store (kept in memory): %s", err)


def _profile(answer: Mapping[str, object]) -> dict[str, object]:
    """The profile fields of an answer (Meta adds `id`), values of JSON's simple types."""
    return {
        field: value
        for field, value in answer.items()
        if field in PROFILE_FIELDS and isinstance(value, str | int | float)
    }


def _log_no_profile(account: Account, psid: str, why: str) -> None:
    logger.info(
        "account %s: no profile for %s: %s; its user.* fields are undefined",
        account.label,
        psid,
        why,
    )
