"""UserProfiles: the person's profile fields for a turn (`user.first_name`...), fetched from the
User Profile API (`GET /{psid}?fields=...`) at most once a person per TTL, and never at the
cost of a reply.

A lookup looks in three places, nearest first:

1. this process's memory (a bounded LRU), so a person's later messages cost no store read
   and no Graph call;
2. the store's cache (kind `user_profile`, key `<account id>:<psid>`), so a restart or
   another worker process does not ask Meta again (and `runtime pair approve` finds the
   person's locale there: `cached_locale`);
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

`locale` and `timezone` need permissions of their own (`pages_user_locale`,
`pages_user_timezone`), and a request naming one the app lacks fails whole (Meta's "(#100)
Insufficient permission to access user profile", subcode 2018247), which would cost the
name too. Then the lookup asks again without them; when that succeeds, they are dropped
from the account's lookups for RETRY_AFTER_FAILURE (the next ones do not fail first), and
one WARNING per account and process names the permission and where the page grants it.

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
from runtime.locales import normalize_locale
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
# "(#100) Insufficient permission to access user profile.": a field asked needs a permission
INSUFFICIENT_PERMISSION: Final = 2018247
# the fields behind a permission of their own (FACTS-2026 §2), and that permission
PERMISSION_OF: Final = MappingProxyType(
    {"locale": "pages_user_locale", "timezone": "pages_user_timezone"}
)
GRANT_WHERE: Final = "Page Settings > Advanced Messaging > Info About People"
_PERMISSION_CODES: Final = frozenset({10, *range(200, 300)})  # Graph's permission errors
_PROFILE_PIC: Final = "profile_pic"
_LOCALE: Final = "locale"


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
        # by account id: the fields Meta refused it (PERMISSION_OF), and until when
        self._withheld: dict[str, tuple[frozenset[str], float]] = {}
        self._warned: set[str] = set()  # accounts told about a missing permission

    async def fields(
        self, account: Account, psid: str, wanted: Collection[str], *, now: float
    ) -> Mapping[str, object]:
        """The fields of `wanted` Meta gives for this person; those it does not, or all of
        them when the lookup fails or takes 2 seconds, are missing. Never raises."""
        wanted = self._askable(account, frozenset(wanted).intersection(PROFILE_FIELDS), now)
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

    def _askable(self, account: Account, wanted: frozenset[str], now: float) -> frozenset[str]:
        """`wanted` but the fields Meta refused the account lately (a missing permission)."""
        withheld = self._withheld.get(account.id)
        if withheld is None:
            return wanted
        fields, until = withheld
        if until <= now:  # asked again: a permission granted meanwhile counts
            del self._withheld[account.id]
            return wanted
        return wanted - fields

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
                    fields, asked, ttl = await self._fetch(account, psid, wanted, now)
                    known = _Known(MappingProxyType(fields), asked, now + ttl)
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
        self, account: Account, psid: str, wanted: frozenset[str], now: float
    ) -> tuple[dict[str, object], frozenset[str], float]:
        """Meta's answer, the fields it answers for, and how long to keep it (seconds)."""
        try:
            answer = await self._ask(account, psid, wanted)
        except GraphAPIError as err:
            guarded = wanted.intersection(PERMISSION_OF)
            if not guarded or not _refuses_permission(err):
                return {}, wanted, _failed(account, psid, err)
            try:  # the name must not be lost to a permission only the locale needs
                answer = await self._ask(account, psid, wanted - guarded)
            except GraphAPIError as again:  # not those fields, then: the person, or the app
                return {}, wanted, _failed(account, psid, again)
            self._withhold(account, guarded, err, now)
            wanted -= guarded
        fields = _profile(answer)
        if wanted and not fields:
            _log_no_profile(account, psid, f"Meta answered no field of {','.join(sorted(wanted))}")
        return fields, wanted, account.user_profile_ttl

    async def _ask(
        self, account: Account, psid: str, fields: frozenset[str]
    ) -> Mapping[str, object]:
        """`GET /{psid}?fields=...`; with no field, `id` alone (it tells whether the person
        may be looked up at all)."""
        asked = ",".join(sorted(fields)) or "id"
        return await self._client.get(account, psid, {"fields": asked}, within=self._within)

    def _withhold(
        self, account: Account, fields: frozenset[str], err: GraphAPIError, now: float
    ) -> None:
        """Ask the account's people without `fields` for a while; say why, once."""
        self._withheld[account.id] = (fields, now + RETRY_AFTER_FAILURE)
        if account.id in self._warned:
            return
        self._warned.add(account.id)
        names = sorted(fields)
        logger.warning(
            "account %s: Meta refuses the profile's %s (%s): the app lacks the %s permission "
            "for this page; grant it in %s. Until then user.%s is undefined (texts by locale "
            "go out in the default language), the other fields are asked without it, and it "
            "is asked again every %.0f minutes",
            account.label,
            " and ".join(names),
            err.meta_message or err,
            " and ".join(PERMISSION_OF[name] for name in names),
            GRANT_WHERE,
            " and user.".join(names),
            RETRY_AFTER_FAILURE / 60,
        )

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


async def cached_locale(store: Store, account: Account, psid: str, *, now: float) -> str | None:
    """The person's locale as the store's profile cache holds it (`fr_FR`), or None: not
    looked up, expired, or Meta gave none. Never asks Meta: for `runtime pair approve`,
    which runs beside the server (whose pairing reply looked the locale up)."""
    text = await store.cache_get(CACHE_KIND, f"{account.id}:{psid}", now=now)
    known = None if text is None else _Known.from_json(text)
    if known is None or not known.answers((_LOCALE,), now):
        return None
    return normalize_locale(known.fields.get(_LOCALE))


def _profile(answer: Mapping[str, object]) -> dict[str, object]:
    """The profile fields of an answer (Meta adds `id`), values of JSON's simple types."""
    return {
        field: value
        for field, value in answer.items()
        if field in PROFILE_FIELDS and isinstance(value, str | int | float)
    }


def _refuses_permission(err: GraphAPIError) -> bool:
    """Whether Meta refused the lookup for a permission the app lacks."""
    return err.subcode == INSUFFICIENT_PERMISSION or err.code in _PERMISSION_CODES


def _failed(account: Account, psid: str, err: GraphAPIError) -> float:
    """Log a failed lookup; how long its outcome (no fields) is kept, in seconds."""
    if NO_PROFILE in (err.code, err.subcode):
        _log_no_profile(account, psid, "Meta has no profile for them (error 2018218)")
        return account.user_profile_ttl
    logger.warning(
        "account %s: cannot read the profile of %s (%s); its user.* fields are "
        "undefined, and asked again in %.0f minutes",
        account.label,
        psid,
        err,
        RETRY_AFTER_FAILURE / 60,
    )
    return RETRY_AFTER_FAILURE


def _log_no_profile(account: Account, psid: str, why: str) -> None:
    logger.info(
        "account %s: no profile for %s: %s; its user.* fields are undefined",
        account.label,
        psid,
        why,
    )
