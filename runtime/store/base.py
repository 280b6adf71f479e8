"""The interfaces every state store implements, one per role, and the records they hold.

Everything the runtime must remember between requests, across restarts and across worker
processes goes through `Store`, the union of the roles:

- `SessionStore`: what the bot remembers of each conversation;
- `AccessStore`: each person's last inbound time (the 24-hour window), pairing requests,
  approved and blocked senders;
- `Inbox`: the durable inbox of accepted webhook events (deduplicated by message id), each
  person's processed one at a time, in order;
- `Outbox`: the durable outbox of Graph API calls to make, each person's in order, and the
  dead letters;
- `Leases`: which worker holds which inbox event and outbox message, renewed and released;
- `Caches`: values worth keeping a while (profiles, attachment ids);
- `Timers`: each person's pending timers, by due time, turned into inbox events when they
  fall due (`runtime/timers.py`).

The roles meet in a few calls that must be one transaction: a turn's finish (the session,
its replies, its timers, the event), a timer falling due (the timer, its inbox event), an
approval (the code, the approval, the confirmation), a block
(the approval, the requests, the replies waiting). Each backend keeps them atomic its own
way (a transaction; one Lua script on one person's keys); the contract tests of each role,
in `tests/store/`, run against every backend.

Times are Unix seconds (float) passed in by the caller, never read from the clock inside a
store, so tests and the engine decide what "now" is. Every caller uses the same dedupe ttl.
A call cancelled while its transaction runs may still complete it; a lease taken that way
runs out and is offered again.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from runtime.messenger.endpoints import MESSAGES
from runtime.session import Session

# Durations every store keeps to: part of the contract, not of one backend.
RETRY_LEASE_GRACE = 60.0  # a retried message stays its worker's this long past its retry time
KEEP_EXPIRED_PAIRINGS = 86_400.0  # expired requests stay a day so `take_pairing` can say so


@dataclass(frozen=True, slots=True, kw_only=True)
class PairingRequest:
    """A stranger's request to talk to the bot, approved with its `code`."""

    code: str
    account_id: str
    psid: str
    created_at: float
    expires_at: float
    last_sent_at: float  # when the code was last sent to the person (resent at most hourly)


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovedSender:
    account_id: str
    psid: str
    approved_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockedSender:
    account_id: str
    psid: str
    blocked_at: float


class Standing(StrEnum):
    """What the owner decided about a sender on one account (`runtime pair`)."""

    NONE = "none"  # nothing: a stranger, or someone the config's allowFrom alone admits
    APPROVED = "approved"
    BLOCKED = "blocked"  # wins over an approval and over every dmPolicy


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredSession:
    """A session as `runtime sessions` reads it, beside its person's latest message time.

    `last_inbound` is None when nobody with that PSID ever wrote to the account through the
    webhook: a session `runtime chat` made.
    """

    session: Session
    last_inbound: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewInbound:
    """A webhook event to keep: `body` is its JSON; `message_id` (when it has one) dedupes it.

    `at` is when the person sent it (Unix seconds); when given, it is recorded as their last
    inbound time (the 24-hour window) in the same transaction.
    """

    account_id: str
    psid: str
    body: str
    message_id: str | None = None
    at: float | None = None
    session_key: str | None = None  # the sender's session, read with the event when claimed


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundEvent:
    """An event claimed from the inbox, with the sender's session as the claim found it.

    The session is read in the claim's transaction: a sender's events are processed one at a
    time, so nothing else writes it until this event is finished.
    """

    id: int
    account_id: str
    psid: str
    body: str
    received_at: float
    session: Session | None = None


@dataclass(frozen=True, slots=True)
class Lease:
    """A claim taken at `now`: `worker` alone may process what it claims, until `until`."""

    worker: str
    now: float
    until: float


@dataclass(frozen=True, slots=True)
class Accepted:
    """What `accept_inbound` kept (`ids`), and of it what it leased at once (`claimed`)."""

    ids: tuple[int, ...]
    claimed: tuple[InboundEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class LostLeases:
    """The rows `renew_leases` could not renew: done, or claimed by another worker since the
    lease ran out. Whoever held them in memory must drop them."""

    inbound: frozenset[int] = frozenset()
    outbound: frozenset[int] = frozenset()


def first_sightings(events: Sequence[NewInbound], unseen: set[str]) -> list[NewInbound]:
    """The events of a POST to keep: those without a message id, and the first with each id
    in `unseen` (the ids the dedupe had not seen: any other is a redelivery, and a second
    event with one id in the same POST is a repeat).
    """
    left = set(unseen)
    kept = []
    for event in events:
        if event.message_id is not None:
            if event.message_id not in left:
                continue
            left.discard(event.message_id)
        kept.append(event)
    return kept


@dataclass(frozen=True, slots=True, kw_only=True)
class NewOutbound:
    """A Graph API call to make for a person: `body` is its JSON, without the access token;
    `endpoint` is where it goes (`runtime/messenger/endpoints.py`): a message or a sender
    action by default, or a thread-control call that must leave in order with them.

    `send_by` is when Meta's 24-hour window closes for it (Unix seconds): from then on the
    sender does not try it, it becomes a dead letter saying so. None: no such limit.
    """

    account_id: str
    psid: str
    body: str
    endpoint: str = MESSAGES
    send_by: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboundMessage:
    id: int
    account_id: str
    psid: str
    body: str
    endpoint: str = MESSAGES
    created_at: float
    attempts: int
    next_attempt_at: float
    last_error: str | None
    send_by: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    """An outbound message the Graph API refused for good, kept for `runtime outbox`."""

    id: int
    account_id: str
    psid: str
    body: str
    created_at: float
    failed_at: float
    attempts: int
    error: str
    endpoint: str = MESSAGES


@dataclass(frozen=True, slots=True, kw_only=True)
class NewTimer:
    """A timer to keep for a person: when it falls due (`due_at`), `body` (an Envelope of
    kind `timer`) becomes their inbox event, as if accepted then, its session read with it
    by `session_key`. A person has one timer per `slot`: a new one replaces the old."""

    account_id: str
    psid: str
    slot: str
    due_at: float
    body: str
    session_key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerRef:
    """One person's timer, by slot: what a turn cancels."""

    account_id: str
    psid: str
    slot: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerChanges:
    """What a turn does to its person's timers: `cancelled` are removed, then `set` kept."""

    set: tuple[NewTimer, ...] = ()
    cancelled: tuple[TimerRef, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.set or self.cancelled)


NO_TIMER_CHANGES = TimerChanges()


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingTimer:
    """A timer the store keeps, as `runtime timers` (and `list_timers`) show it."""

    account_id: str
    psid: str
    slot: str
    due_at: float


@dataclass(frozen=True, slots=True)
class Fired:
    """What `fire_timers` did: how many timers became inbox events (`fired`), of those the
    events it leased at once (`claimed`), and when the earliest timer left falls due
    (`next_due`, None when none is left)."""

    fired: int
    claimed: tuple[InboundEvent, ...] = ()
    next_due: float | None = None


class SessionStore(Protocol):
    """What the bot remembers of each conversation, by session key."""

    async def load_session(self, key: str) -> Session | None: ...

    async def save_session(self, session: Session) -> None: ...

    async def delete_session(self, key: str) -> bool:
        """Forget a session; True if there was one."""

    async def list_sessions(self, account_id: str | None = None) -> list[StoredSession]:
        """Every session, of one account or of all, least recently updated first."""


class AccessStore(Protocol):
    """Who may talk to the bot: the 24-hour window, pairing, approvals and blocks."""

    # -- the 24-hour window ------------------------------------------------------------------
    async def record_inbound(self, account_id: str, psid: str, at: float) -> None:
        """Remember the time of a user's latest message (an older `at` never wins)."""

    async def last_inbound(self, account_id: str, psid: str) -> float | None: ...

    # -- pairing, approvals, blocks ---------------------------------------------------------
    async def pending_pairing(
        self, account_id: str, psid: str, *, now: float
    ) -> PairingRequest | None:
        """The unexpired request of this sender on this account, if any."""

    async def create_pairing(
        self, request: PairingRequest, *, now: float, max_pending: int
    ) -> PairingRequest | None:
        """Store a new request and return it; None if its code is taken by a pending one.

        Expired requests no longer count (they are kept a day, so `take_pairing` can still
        say "expired", and their codes are free again); if the account has `max_pending`
        unexpired requests, the oldest ones expire at `now` to make room (so their
        `expires_at` comes before `created_at` plus the usual lifetime).
        """

    async def mark_pairing_sent(self, code: str, at: float) -> None: ...

    async def list_pairings(
        self, account_id: str | None = None, *, now: float
    ) -> list[PairingRequest]:
        """Unexpired requests, oldest first, of one account or of all."""

    async def find_pairing(self, code: str) -> PairingRequest | None:
        """The request with this code, expired or not, left in place."""

    async def take_pairing(self, code: str) -> PairingRequest | None:
        """Remove the request with this code and return it, expired or not (codes are used once)."""

    async def approve_pairing(
        self, request: PairingRequest, *, now: float, confirmation: NewOutbound | None
    ) -> bool:
        """Approve the sender of a pending request, in one transaction: the code is used up,
        the sender approved and `confirmation` (when given) queued in the outbox, or none of
        it happens. False, with nothing changed, when `request` is no longer pending (its code
        was used, or it expired, since it was read).
        """

    async def approve_sender(self, account_id: str, psid: str, at: float) -> None: ...

    async def revoke_sender(self, account_id: str, psid: str) -> bool:
        """Withdraw an approval; True if the sender was approved."""

    async def list_approved(self, account_id: str | None = None) -> list[ApprovedSender]: ...

    async def standing(self, account_id: str, psid: str) -> Standing:
        """Blocked, approved or neither on this account, in one read (blocked wins)."""

    async def block_sender(self, account_id: str, psid: str, at: float) -> bool:
        """Block a sender on an account, in one transaction: their approval is withdrawn,
        their pairing requests dropped, and the messages waiting for them in the outbox
        dropped (never sent). True if they were not blocked already (the first block's
        time stays).
        """

    async def unblock_sender(self, account_id: str, psid: str) -> bool:
        """Lift a block (back to a stranger: not approved); True if the sender was blocked."""

    async def list_blocked(self, account_id: str | None = None) -> list[BlockedSender]: ...


class Inbox(Protocol):
    """Accepted webhook events, kept until processed: each person's one at a time, in order."""

    async def accept_inbound(
        self,
        events: Sequence[NewInbound],
        *,
        now: float,
        dedupe_ttl: float,
        lease: Lease | None = None,
    ) -> Accepted:
        """Keep a POST's events in one transaction; return the ids of those kept.

        An event whose `message_id` was seen within `dedupe_ttl` is dropped (a redelivery),
        so accepting and deduplicating are one write. With `lease`, the kept events that a
        claim would offer at once (a sender's first, when nothing else of theirs waits in the
        inbox or the outbox) are leased in the same transaction and returned in `claimed`,
        with their sessions: the worker that accepted them processes them without a claim.
        """

    async def claim_inbound(
        self, worker: str, *, now: float, lease: float, limit: int
    ) -> list[InboundEvent]:
        """Lease up to `limit` events for `worker`, at most one per (account, psid).

        Only a sender's oldest unfinished event is offered, and none while another of that
        sender's events is leased or while replies to that sender wait in the outbox, so
        each user's messages are processed in order, one at a time, and their replies leave
        in order, whichever worker or host claims them. A lease that runs out is offered
        again. Each event comes with its sender's session (`InboundEvent.session`).
        """

    async def complete_inbound(self, event_id: int) -> None: ...

    async def finish_inbound(
        self,
        event_id: int,
        *,
        session: Session | None,
        outbound: Sequence[NewOutbound],
        now: float,
        worker: str,
        lease: float,
        timers: TimerChanges = NO_TIMER_CHANGES,
    ) -> list[int] | None:
        """Close a processed event in one transaction: save the session (if given), keep its
        replies in the outbox leased to `worker` (who sends them now), apply its `timers`
        changes, forget the event.

        Either all of it happens or none: a crash leaves the event to be processed again,
        never a saved session without its replies. Returns the outbox ids, in order; None,
        with nothing written, when the event is no longer `worker`'s (its lease ran out and
        another worker claimed it, or finished it): that worker's turn is the one kept.
        """

    async def release_inbound(self, event_id: int) -> None:
        """Give a claimed event back unprocessed (graceful shutdown)."""

    async def count_inbound(self) -> int:
        """Events accepted and not yet completed."""


class Outbox(Protocol):
    """Graph API calls to make, each person's in order; the dead letters."""

    async def enqueue_outbound(self, messages: Sequence[NewOutbound], *, now: float) -> list[int]:
        """Keep messages to send, in one transaction, in the order given."""

    async def claim_outbound(
        self, worker: str, *, now: float, lease: float, limit: int
    ) -> list[OutboundMessage]:
        """Lease due messages, at most one per (account, psid): each user's oldest unsent one."""

    async def complete_outbound(
        self, *message_ids: int, then: Lease | None = None
    ) -> list[InboundEvent]:
        """The Graph API accepted them: forget them (one transaction for all).

        With `then`, each person whose replies have now all left and whose next event waits
        gets that event leased by `then`, in the same transaction, and returned with their
        session: the worker that sent the replies takes the person's next message at once.
        """

    async def retry_outbound(self, message_id: int, *, at: float, error: str) -> None:
        """A temporary failure: count the attempt and offer it again at `at`.

        A leased message stays leased to the same worker until a grace period after `at`,
        since that worker retries it from memory; if the worker dies, others take it then.
        """

    async def dead_letter_outbound(
        self, message_id: int, *, now: float, error: str, then: Lease | None = None
    ) -> list[InboundEvent]:
        """A permanent failure: move it to the dead letters (`then`: as `complete_outbound`)."""

    async def list_dead_letters(self) -> list[DeadLetter]: ...

    async def requeue_dead_letter(self, dead_letter_id: int, *, now: float) -> bool:
        """Put a dead letter back in the outbox; False if there is no such id."""

    async def count_outbound(self) -> int:
        """Messages waiting to be sent (dead letters not counted)."""


class Caches(Protocol):
    """Values worth keeping a while, by kind and key, each until it expires."""

    async def cache_get(self, kind: str, key: str, *, now: float) -> str | None:
        """The value kept under (`kind`, `key`), unless it expired by `now`."""

    async def cache_put(self, kind: str, key: str, value: str, *, now: float, ttl: float) -> None:
        """Keep `value` under (`kind`, `key`) for `ttl` seconds from `now`, replacing what was
        there. A put may forget entries of any kind that expired by `now`."""


class Leases(Protocol):
    """Which worker holds which inbox event and outbox message."""

    async def lease_owners(self) -> set[str]:
        """The workers holding a lease on an inbox event or an outbox message.

        A lease that ran out still names its worker until another worker claims the row, it
        is released, or it is done (there is no `now` here to tell).
        """

    async def renew_leases(
        self,
        worker: str,
        *,
        inbound: Collection[int],
        outbound: Collection[int],
        until: float,
    ) -> LostLeases:
        """Extend to `until` the leases `worker` holds on these inbox events and outbox
        messages (one never shortens: a retry's longer lease stays). Those it no longer holds
        are returned, to be dropped by whoever holds them in memory."""

    async def release_leases(self, worker: str) -> int:
        """Give back every lease `worker` holds (it stopped, or it died): what it held is
        offered again at once. Returns how many leases were released.
        """


class Timers(Protocol):
    """Each person's pending timers, by due time (`runtime/timers.py`)."""

    async def change_timers(self, changes: TimerChanges) -> None:
        """Cancel and set timers outside a turn, in one transaction (as `finish_inbound`)."""

    async def fire_timers(self, *, now: float, limit: int, lease: Lease | None = None) -> Fired:
        """Turn up to `limit` timers due by `now` into inbox events, earliest first, in one
        transaction: each timer is gone and its `body` is its person's newest inbox event,
        queued behind what they already have (so a timer fires once, however many workers
        and hosts call this at once). Received at `now`; no dedupe, no 24-hour window.

        With `lease`, the events a claim would offer at once are leased by it in the same
        transaction and returned in `claimed` with their sessions, as `accept_inbound` does.
        """

    async def list_timers(self, account_id: str | None = None) -> list[PendingTimer]:
        """Pending timers, of one account or of all, earliest due first."""

    async def count_timers(self) -> int:
        """Timers kept and not yet fired, cheaply (`/metrics` asks at every scrape): Redis
        may count one a crash left behind, until its due time."""


class Store(SessionStore, AccessStore, Inbox, Outbox, Caches, Leases, Timers, Protocol):
    """Async state store: every role. Every method is atomic on its own, across processes
    too."""

    async def open(self) -> None:
        """Create or upgrade what the store needs; called once before any other method."""

    async def close(self) -> None: ...
