"""The Redis store's keys: one person's in one hash slot, the store's own in another.

Redis Cluster runs a script only on keys of one hash slot, and a hash tag (the part of a key
between the first `{` and the next `}`) decides the slot. So:

- everything about one person (their session, last message time, standing, pairing
  requests, seen message ids, inbox events, outbox messages, timers) is tagged by their PSID,
  `<prefix>{<psid>}:...`, and each script that changes it (a turn's finish, a block, an
  approval with its confirmation) runs on that one slot, atomically;
- what lists or finds across people (the ids, who has work waiting, lease owners, sessions
  by time, pairing codes, dead letters) is tagged `{global}`, `<prefix>{global}:...`, and
  is updated next to the person's script, in an order that never loses work (the role
  modules say which);
- cache entries stand alone (`<prefix>cache:<kind>:<key>`), each expiring on its own.

A session key is `agent:<agent>:messenger:dm:<psid>` (`runtime/session.py`): its person is
the part after `:messenger:dm:`, so it lands in the slot of their events. `prefix` (default
`runtime:`) lets several bots share one Redis; it holds no `{` or `}` (the config refuses
them), which would put every key in one slot.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from runtime.config.model import DEFAULT_REDIS_PREFIX

DEFAULT_PREFIX: Final = DEFAULT_REDIS_PREFIX  # the config's default, named once there
_SESSION_PERSON: Final = ":messenger:dm:"


def person_id(account_id: str, psid: str) -> str:
    """One person of one account as a single string (a member of the global sets)."""
    return json.dumps([account_id, psid], separators=(",", ":"))


def person_of(member: str | bytes) -> tuple[str, str]:
    """(account_id, psid) back from `person_id`."""
    account_id, psid = json.loads(member)
    return str(account_id), str(psid)


@dataclass(frozen=True, slots=True)
class PersonKeys:
    """The keys of one person (one PSID, of any account): all in one hash slot."""

    tag: str  # `<prefix>{<psid>}`

    def session(self, session_key: str) -> str:
        return f"{self.tag}:session:{session_key}"

    def last_inbound(self, account_id: str) -> str:
        """Their latest message time on the account, as text (an older time never wins)."""
        return f"{self.tag}:last:{account_id}"

    def approved(self, account_id: str) -> str:
        """When the owner approved them on the account, as text (the first time stays)."""
        return f"{self.tag}:approved:{account_id}"

    def blocked(self, account_id: str) -> str:
        """When the owner blocked them on the account, as text (the first time stays)."""
        return f"{self.tag}:blocked:{account_id}"

    def pairings(self, account_id: str) -> str:
        """HASH code -> request JSON (its times as text, and `made`, the order it was made
        in): this person's pairing requests on the account, pending and expired."""
        return f"{self.tag}:pairings:{account_id}"

    def seen(self, message_id: str) -> str:
        """A message id seen (dedupe), expiring with the dedupe ttl."""
        return f"{self.tag}:seen:{message_id}"

    def inbox(self, account_id: str) -> str:
        """ZSET of their inbox event ids (score: the id), oldest first."""
        return f"{self.tag}:inbox:{account_id}"

    def event(self, event_id: int) -> str:
        """HASH of one inbox event."""
        return f"{self.tag}:event:{event_id}"

    def outbox(self, account_id: str) -> str:
        """ZSET of their outbox message ids (score: the id), oldest first."""
        return f"{self.tag}:outbox:{account_id}"

    def message(self, message_id: int) -> str:
        """HASH of one outbox message (`owner`, `until`: its lease, when leased)."""
        return f"{self.tag}:message:{message_id}"

    def dead_letter(self, dead_letter_id: int) -> str:
        """HASH of one dead letter: the message's fields, `failed_at`, `error`."""
        return f"{self.tag}:dead:{dead_letter_id}"

    def timers(self, account_id: str) -> str:
        """HASH slot -> timer JSON {id, due_at, body, session_key, session, member}: their
        pending timers on the account (`redis_timers.py`)."""
        return f"{self.tag}:timers:{account_id}"

    def queues(self, account_id: str) -> str:
        """HASH of their queues' state on the account: the index fences (`inbox_floor`,
        `outbox_floor`, `timers_floor`) and the leases each worker holds on their rows
        (`held:<worker>`), as `redis_lua.py` says."""
        return f"{self.tag}:queues:{account_id}"


@dataclass(frozen=True, slots=True)
class Keys:
    """Every key of one store, under its prefix."""

    prefix: str = DEFAULT_PREFIX

    def person(self, psid: str) -> PersonKeys:
        return PersonKeys(f"{self.prefix}{{{psid}}}")

    def session_person(self, session_key: str) -> PersonKeys:
        """The person a session key belongs to (its whole text, if not in the usual form)."""
        _, found, psid = session_key.partition(_SESSION_PERSON)
        return self.person(psid if found and psid else session_key)

    def session(self, session_key: str) -> str:
        return self.session_person(session_key).session(session_key)

    def cache(self, kind: str, key: str) -> str:
        return f"{self.prefix}cache:{kind}:{key}"

    # -- the store's own keys: one slot ------------------------------------------------------
    @property
    def global_prefix(self) -> str:
        """What every global key starts with (the index script builds names from it)."""
        return f"{self.prefix}{{global}}:"

    def _global(self, name: str) -> str:
        return f"{self.global_prefix}{name}"

    @property
    def inbox_ids(self) -> str:
        """Counter: the last inbox event id given (ids are never reused)."""
        return self._global("ids:inbox")

    @property
    def outbox_ids(self) -> str:
        """Counter: the last outbox message id given (dead letters keep theirs)."""
        return self._global("ids:outbox")

    @property
    def events(self) -> str:
        """HASH event id -> person_id: whose slot an inbox event is in (written before the
        event, removed after it; `count_inbound` counts those whose event is there)."""
        return self._global("events")

    @property
    def messages(self) -> str:
        """HASH message id -> person_id: whose slot an outbox message is in (written before
        the message, removed after it; `count_outbound` counts those whose message is
        there)."""
        return self._global("messages")

    @property
    def inbox_index(self) -> IndexKeys:
        """The people with inbox events, for claims (`redis_index.py`)."""
        return IndexKeys(self._global("inbox"))

    @property
    def outbox_index(self) -> IndexKeys:
        """The people with outbox messages, for claims (`redis_index.py`)."""
        return IndexKeys(self._global("outbox"))

    @property
    def index_tokens(self) -> str:
        """Counter: the last fence token an index announcement got (`redis_index.py`)."""
        return self._global("ids:token")

    @property
    def lease_owners(self) -> str:
        """SET of workers holding a lease: those whose `held_by` set is not empty."""
        return self._global("lease-owners")

    def held_by(self, worker: str) -> str:
        """SET of person_ids whose rows `worker` holds a lease on (run out or not): added
        before the lease is taken, removed after the worker holds nothing of theirs."""
        return self._global(f"held:{worker}")

    @property
    def sessions(self) -> str:
        """ZSET session key -> updated_at (listing, least recently updated first)."""
        return self._global("sessions")

    @property
    def pairing_codes(self) -> str:
        """HASH code -> JSON {account_id, psid, created_at, made}: whose slot a pairing
        request is in, and its place in the order requests were made."""
        return self._global("pairing-codes")

    @property
    def pairing_expiry(self) -> str:
        """ZSET code -> expires_at, over `pairing_codes`: the pending ones (for counting and
        listing), the ones expired a day (to forget)."""
        return self._global("pairing-expiry")

    @property
    def pairing_ids(self) -> str:
        """Counter: the last `made` given (of requests made at the same time, the order)."""
        return self._global("ids:pairing")

    @property
    def approved(self) -> str:
        """ZSET person_id -> approved_at: who is approved, to list (an entry is written before
        the person's key and removed after it: `redis_access.py`)."""
        return self._global("approved")

    @property
    def blocked(self) -> str:
        """ZSET person_id -> blocked_at: who is blocked, to list (an entry is written before
        the person's key and removed after it: `redis_access.py`)."""
        return self._global("blocked")

    @property
    def timers(self) -> str:
        """ZSET member -> due_at over every person's timers, for firing and listing. A member
        is JSON [timer id, person_id, slot]: one setting of one timer (set again, it is
        another member). Written before the person's timer, removed after it is gone; a
        member whose timer id the person no longer holds is stale (`redis_timers.py`)."""
        return self._global("timers")

    @property
    def timer_ids(self) -> str:
        """Counter: the last timer id given (ids are never reused)."""
        return self._global("ids:timer")

    @property
    def dead_letters(self) -> str:
        """HASH dead letter id -> person_id: whose slot a dead letter is in (written before
        it, removed after it; an id whose letter is gone is skipped)."""
        return self._global("dead-letters")


@dataclass(frozen=True, slots=True)
class IndexKeys:
    """The global index of the people with work in one queue (inbox or outbox), for claims;
    `redis_index.py` says how it is kept."""

    name: str  # `<prefix>{global}:<queue>`

    @property
    def ready(self) -> str:
        """ZSET person_id -> their oldest row's id: people a claim looks at, oldest first."""
        return f"{self.name}:ready"

    @property
    def parked(self) -> str:
        """ZSET person_id -> a time: people not to look at before then (busy, not due)."""
        return f"{self.name}:parked"

    @property
    def order(self) -> str:
        """HASH person_id -> their oldest row's id as last known (a parked person's place)."""
        return f"{self.name}:order"

    @property
    def marks(self) -> str:
        """HASH person_id -> the fence token of the person's last announcement."""
        return f"{self.name}:marks"
