"""A state store in this process's memory: the Store contract with no file and no durability."""

from __future__ import annotations

import asyncio
import heapq
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple, TypeVar

from runtime.errors import StoreError
from runtime.session import Session
from runtime.store.base import (
    KEEP_EXPIRED_PAIRINGS,
    NO_TIMER_CHANGES,
    RETRY_LEASE_GRACE,
    Accepted,
    ApprovedSender,
    BlockedSender,
    DeadLetter,
    Fired,
    InboundEvent,
    Lease,
    LostLeases,
    NewInbound,
    NewOutbound,
    NewTimer,
    OutboundMessage,
    PairingRequest,
    PendingTimer,
    Standing,
    StoredSession,
    TimerChanges,
    first_sightings,
)

Sender = tuple[str, str]  # (account_id, psid)
TimerKey = tuple[str, str, str]  # (account_id, psid, slot)
Row = TypeVar("Row", InboundEvent, OutboundMessage)


class _Lease(NamedTuple):
    owner: str
    until: float


_CACHE_SWEEP_EVERY = 1024  # cache sizes at which expired entries are swept out


@dataclass(slots=True)
class _State:
    """Everything the store holds. Dicts keep insertion order, which stands in for SQLite's
    ever-growing ids and rowids: inbox and outbox rows are in id order, pairing requests in
    the order they were made."""

    seen: dict[str, float] = field(default_factory=dict)  # message id -> last seen
    seen_by_time: list[tuple[float, str]] = field(default_factory=list)  # a heap over `seen`
    last_inbound: dict[Sender, float] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)  # key -> Session.to_json()
    pairings: dict[str, PairingRequest] = field(default_factory=dict)  # by code
    approved: dict[Sender, ApprovedSender] = field(default_factory=dict)
    blocked: dict[Sender, BlockedSender] = field(default_factory=dict)
    inbox: dict[int, InboundEvent] = field(default_factory=dict)
    inbox_leases: dict[int, _Lease] = field(default_factory=dict)
    session_keys: dict[int, str | None] = field(default_factory=dict)  # by inbox id
    # by sender: their inbox event ids, oldest first, and how many replies they have waiting
    inbox_of: dict[Sender, dict[int, None]] = field(default_factory=dict)
    replying: Counter[Sender] = field(default_factory=Counter)
    outbox: dict[int, OutboundMessage] = field(default_factory=dict)
    outbox_leases: dict[int, _Lease] = field(default_factory=dict)
    dead_letters: dict[int, DeadLetter] = field(default_factory=dict)
    caches: dict[tuple[str, str], tuple[str, float]] = field(default_factory=dict)
    timers: dict[TimerKey, NewTimer] = field(default_factory=dict)
    # a heap of (due_at, key) over `timers`; an entry whose timer was replaced or cancelled
    # since is skipped when it comes up
    timers_by_due: list[tuple[float, TimerKey]] = field(default_factory=list)
    last_inbox_id: int = 0  # ids are never reused, as with AUTOINCREMENT
    last_outbox_id: int = 0  # shared by dead letters, which keep their outbox id

    def next_inbox_id(self) -> int:
        self.last_inbox_id += 1
        return self.last_inbox_id

    def next_outbox_id(self) -> int:
        self.last_outbox_id += 1
        return self.last_outbox_id


class MemoryStore:
    """A `Store` in plain dicts, for one process: nothing survives a restart or `close()`.

    It is the benchmark's "durability off" baseline, the store of tests, and the choice of
    people who want no state file. It serves the process that opened it and no other: two
    workers, or a `runtime pair` or `runtime send` run next to the server, each see a store
    of their own. Accepted events and pending replies die with the process.

    Each method yields to the event loop once, as a real store's I/O would (so a loop that
    only polls the store still lets everything else run), then does all its work without
    awaiting again: on the one event loop, every method is atomic without a lock.
    """

    def __init__(self) -> None:
        self._state: _State | None = None

    async def _open_state(self, what: str) -> _State:
        await asyncio.sleep(0)
        if self._state is None:
            raise StoreError(f"cannot {what}: the memory store is not open")
        return self._state

    # -- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        if self._state is None:
            self._state = _State()

    async def close(self) -> None:
        self._state = None

    # -- the 24-hour window ------------------------------------------------------------------
    async def record_inbound(self, account_id: str, psid: str, at: float) -> None:
        state = await self._open_state("record an inbound time")
        _record_inbound(state, (account_id, psid), at)

    async def last_inbound(self, account_id: str, psid: str) -> float | None:
        state = await self._open_state("read an inbound time")
        return state.last_inbound.get((account_id, psid))

    # -- sessions ----------------------------------------------------------------------------
    async def load_session(self, key: str) -> Session | None:
        state = await self._open_state("load a session")
        text = state.sessions.get(key)
        return None if text is None else Session.from_json(text)

    async def save_session(self, session: Session) -> None:
        # Kept as JSON, as other stores keep it: a later change to a nested value of the
        # caller's session does not reach the stored one, and what SQLite refuses, this does.
        state = await self._open_state("save a session")
        state.sessions[session.key] = session.to_json()

    async def delete_session(self, key: str) -> bool:
        state = await self._open_state("delete a session")
        return state.sessions.pop(key, None) is not None

    async def list_sessions(self, account_id: str | None = None) -> list[StoredSession]:
        state = await self._open_state("list sessions")
        sessions = (Session.from_json(text) for text in state.sessions.values())
        return sorted(
            (
                StoredSession(
                    session=session,
                    last_inbound=state.last_inbound.get((session.account_id, session.psid)),
                )
                for session in sessions
                if account_id in (None, session.account_id)
            ),
            key=lambda stored: (stored.session.updated_at, stored.session.key),
        )

    # -- pairing -----------------------------------------------------------------------------
    async def pending_pairing(
        self, account_id: str, psid: str, *, now: float
    ) -> PairingRequest | None:
        state = await self._open_state("read a pairing request")
        mine = [
            request
            for request in state.pairings.values()
            if (request.account_id, request.psid) == (account_id, psid) and request.expires_at > now
        ]
        # the newest; of two made at once, the later made (max keeps the first it meets)
        return max(reversed(mine), key=lambda request: request.created_at, default=None)

    async def create_pairing(
        self, request: PairingRequest, *, now: float, max_pending: int
    ) -> PairingRequest | None:
        state = await self._open_state("create a pairing request")
        pairings = state.pairings
        for code, kept in list(pairings.items()):
            if kept.expires_at <= now - KEEP_EXPIRED_PAIRINGS:
                del pairings[code]
        taken = pairings.get(request.code)
        if taken is not None and taken.expires_at <= now:
            del pairings[request.code]  # an expired request's code may be used again
        elif taken is not None:
            return None
        pending = _pending(pairings.values(), request.account_id, now)
        excess = len(pending) - max_pending + 1
        for oldest in pending[: max(excess, 0)]:  # expire now, kept so approving can say so
            pairings[oldest.code] = replace(oldest, expires_at=now)
        pairings[request.code] = request
        return request

    async def mark_pairing_sent(self, code: str, at: float) -> None:
        state = await self._open_state("mark a pairing code sent")
        request = state.pairings.get(code)
        if request is not None:
            state.pairings[code] = replace(request, last_sent_at=at)

    async def list_pairings(
        self, account_id: str | None = None, *, now: float
    ) -> list[PairingRequest]:
        state = await self._open_state("list pairing requests")
        return _pending(state.pairings.values(), account_id, now)

    async def find_pairing(self, code: str) -> PairingRequest | None:
        state = await self._open_state("read a pairing request")
        return state.pairings.get(code)

    async def take_pairing(self, code: str) -> PairingRequest | None:
        state = await self._open_state("take a pairing request")
        return state.pairings.pop(code, None)

    async def approve_pairing(
        self, request: PairingRequest, *, now: float, confirmation: NewOutbound | None
    ) -> bool:
        state = await self._open_state("approve a pairing request")
        kept = state.pairings.get(request.code)
        made = (request.account_id, request.psid, request.created_at)
        if (
            kept is None
            or kept.expires_at <= now
            or (kept.account_id, kept.psid, kept.created_at) != made
        ):
            return False
        del state.pairings[request.code]
        _approve(state, (request.account_id, request.psid), now)
        if confirmation is not None:
            _enqueue(state, [confirmation], now)
        return True

    async def approve_sender(self, account_id: str, psid: str, at: float) -> None:
        state = await self._open_state("approve a sender")
        _approve(state, (account_id, psid), at)

    async def revoke_sender(self, account_id: str, psid: str) -> bool:
        state = await self._open_state("revoke a sender")
        return state.approved.pop((account_id, psid), None) is not None

    async def list_approved(self, account_id: str | None = None) -> list[ApprovedSender]:
        state = await self._open_state("list approved senders")
        return sorted(
            (a for a in state.approved.values() if account_id in (None, a.account_id)),
            key=lambda a: (a.approved_at, a.account_id, a.psid),
        )

    async def standing(self, account_id: str, psid: str) -> Standing:
        state = await self._open_state("read a sender's standing")
        sender = (account_id, psid)
        if sender in state.blocked:
            return Standing.BLOCKED
        return Standing.APPROVED if sender in state.approved else Standing.NONE

    async def block_sender(self, account_id: str, psid: str, at: float) -> bool:
        state = await self._open_state("block a sender")
        sender = (account_id, psid)
        state.approved.pop(sender, None)
        for code, request in list(state.pairings.items()):
            if (request.account_id, request.psid) == sender:
                del state.pairings[code]
        for message_id, message in list(state.outbox.items()):
            if (message.account_id, message.psid) == sender:
                _forget_outbound(state, message_id)
        if sender in state.blocked:
            return False
        state.blocked[sender] = BlockedSender(account_id=account_id, psid=psid, blocked_at=at)
        return True

    async def unblock_sender(self, account_id: str, psid: str) -> bool:
        state = await self._open_state("unblock a sender")
        return state.blocked.pop((account_id, psid), None) is not None

    async def list_blocked(self, account_id: str | None = None) -> list[BlockedSender]:
        state = await self._open_state("list blocked senders")
        return sorted(
            (b for b in state.blocked.values() if account_id in (None, b.account_id)),
            key=lambda b: (b.blocked_at, b.account_id, b.psid),
        )

    # -- durable inbox -----------------------------------------------------------------------
    async def accept_inbound(
        self,
        events: Sequence[NewInbound],
        *,
        now: float,
        dedupe_ttl: float,
        lease: Lease | None = None,
    ) -> Accepted:
        state = await self._open_state("accept inbound events")
        ids = [event.message_id for event in events if event.message_id is not None]
        new = _record_seen(state, ids, now, dedupe_ttl)
        ids_kept: list[int] = []
        claimed: list[InboundEvent] = []
        for event in first_sightings(events, new):
            ids_kept.append(_queue_inbound(state, event, now, lease, claimed))
            if event.at is not None:
                _record_inbound(state, (event.account_id, event.psid), event.at)
        return Accepted(ids=tuple(ids_kept), claimed=tuple(claimed))

    async def claim_inbound(
        self, worker: str, *, now: float, lease: float, limit: int
    ) -> list[InboundEvent]:
        state = await self._open_state("claim inbound events")
        heads = _free_heads(state.inbox, state.inbox_leases, now)
        claimed = [event for event in heads if not state.replying[(event.account_id, event.psid)]]
        claimed = claimed[: max(limit, 0)]
        for event in claimed:
            state.inbox_leases[event.id] = _Lease(worker, now + lease)
        return [_with_session(state, event) for event in claimed]

    async def complete_inbound(self, event_id: int) -> None:
        state = await self._open_state("complete an inbound event")
        _forget_inbound(state, event_id)

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
        state = await self._open_state("finish an inbound event")
        held = state.inbox_leases.get(event_id)
        if event_id not in state.inbox or held is None or held.owner != worker:
            return None  # no longer this worker's: nothing of its turn is kept
        if session is not None:  # first: if it cannot be kept, nothing has changed
            state.sessions[session.key] = session.to_json()
        _change_timers(state, timers)
        ids = _enqueue(state, outbound, now)
        for message_id in ids:
            state.outbox_leases[message_id] = _Lease(worker, now + lease)
        _forget_inbound(state, event_id)
        return ids

    async def release_inbound(self, event_id: int) -> None:
        state = await self._open_state("release an inbound event")
        state.inbox_leases.pop(event_id, None)

    async def count_inbound(self) -> int:
        state = await self._open_state("count inbound events")
        return len(state.inbox)

    # -- durable outbox ----------------------------------------------------------------------
    async def enqueue_outbound(self, messages: Sequence[NewOutbound], *, now: float) -> list[int]:
        state = await self._open_state("enqueue outbound messages")
        return _enqueue(state, messages, now)

    async def claim_outbound(
        self, worker: str, *, now: float, lease: float, limit: int
    ) -> list[OutboundMessage]:
        state = await self._open_state("claim outbound messages")
        heads = _free_heads(state.outbox, state.outbox_leases, now)
        # a user's oldest message must be due, else none of theirs is offered
        claimed = [message for message in heads if message.next_attempt_at <= now]
        claimed = claimed[: max(limit, 0)]
        for message in claimed:
            state.outbox_leases[message.id] = _Lease(worker, now + lease)
        return claimed

    async def complete_outbound(
        self, *message_ids: int, then: Lease | None = None
    ) -> list[InboundEvent]:
        state = await self._open_state("complete outbound messages")
        senders = _senders_of(state, message_ids)
        for message_id in message_ids:
            _forget_outbound(state, message_id)
        return _claim_next(state, senders, then)

    async def retry_outbound(self, message_id: int, *, at: float, error: str) -> None:
        state = await self._open_state("schedule an outbound retry")
        message = state.outbox.get(message_id)
        if message is None:
            return
        state.outbox[message_id] = replace(
            message, attempts=message.attempts + 1, last_error=error, next_attempt_at=at
        )
        lease = state.outbox_leases.get(message_id)
        if lease is not None:  # its worker retries it from memory: keep it theirs a while
            state.outbox_leases[message_id] = _Lease(lease.owner, at + RETRY_LEASE_GRACE)

    async def dead_letter_outbound(
        self, message_id: int, *, now: float, error: str, then: Lease | None = None
    ) -> list[InboundEvent]:
        state = await self._open_state("dead-letter an outbound message")
        message = state.outbox.get(message_id)
        if message is None:
            return []
        _forget_outbound(state, message_id)
        # the failed attempt that makes it a dead letter counts as one of its attempts
        state.dead_letters[message_id] = DeadLetter(
            id=message_id,
            account_id=message.account_id,
            psid=message.psid,
            body=message.body,
            endpoint=message.endpoint,
            created_at=message.created_at,
            failed_at=now,
            attempts=message.attempts + 1,
            error=error,
        )
        return _claim_next(state, [(message.account_id, message.psid)], then)

    async def list_dead_letters(self) -> list[DeadLetter]:
        state = await self._open_state("list dead letters")
        return sorted(state.dead_letters.values(), key=lambda dead: (dead.failed_at, dead.id))

    async def requeue_dead_letter(self, dead_letter_id: int, *, now: float) -> bool:
        state = await self._open_state("requeue a dead letter")
        dead = state.dead_letters.pop(dead_letter_id, None)
        if dead is None:
            return False
        # a new id, so it goes to the end of its user's queue, fresh
        message = NewOutbound(
            account_id=dead.account_id, psid=dead.psid, body=dead.body, endpoint=dead.endpoint
        )
        _enqueue(state, [message], now)
        return True

    async def count_outbound(self) -> int:
        state = await self._open_state("count outbound messages")
        return len(state.outbox)

    # -- timers ------------------------------------------------------------------------------
    async def change_timers(self, changes: TimerChanges) -> None:
        state = await self._open_state("change timers")
        _change_timers(state, changes)

    async def fire_timers(self, *, now: float, limit: int, lease: Lease | None = None) -> Fired:
        state = await self._open_state("fire timers")
        fired = 0
        claimed: list[InboundEvent] = []
        heap = state.timers_by_due
        while heap and fired < limit and heap[0][0] <= now:
            due_at, key = heapq.heappop(heap)
            timer = state.timers.get(key)
            if timer is None or timer.due_at != due_at:
                continue  # cancelled or set again since: its own entry stands for it
            del state.timers[key]
            event = NewInbound(
                account_id=timer.account_id,
                psid=timer.psid,
                body=timer.body,
                session_key=timer.session_key,
            )
            _queue_inbound(state, event, now, lease, claimed)
            fired += 1
        return Fired(fired=fired, claimed=tuple(claimed), next_due=_next_due(state))

    async def list_timers(self, account_id: str | None = None) -> list[PendingTimer]:
        state = await self._open_state("list timers")
        return sorted(
            (
                PendingTimer(
                    account_id=timer.account_id,
                    psid=timer.psid,
                    slot=timer.slot,
                    due_at=timer.due_at,
                )
                for timer in state.timers.values()
                if account_id in (None, timer.account_id)
            ),
            key=lambda timer: (timer.due_at, timer.account_id, timer.psid, timer.slot),
        )

    async def count_timers(self) -> int:
        state = await self._open_state("count timers")
        return len(state.timers)

    # -- caches ------------------------------------------------------------------------------
    async def cache_get(self, kind: str, key: str, *, now: float) -> str | None:
        state = await self._open_state("read a cache")
        value, expires_at = state.caches.get((kind, key), (None, 0.0))
        return value if expires_at > now else None

    async def cache_put(self, kind: str, key: str, value: str, *, now: float, ttl: float) -> None:
        state = await self._open_state("write a cache")
        state.caches[(kind, key)] = (value, now + ttl)
        if len(state.caches) % _CACHE_SWEEP_EVERY == 0:  # expired entries go now and then
            state.caches = {k: entry for k, entry in state.caches.items() if entry[1] > now}

    # -- leases ------------------------------------------------------------------------------
    async def lease_owners(self) -> set[str]:
        state = await self._open_state("list lease owners")
        leases = [*state.inbox_leases.values(), *state.outbox_leases.values()]
        return {lease.owner for lease in leases}

    async def renew_leases(
        self,
        worker: str,
        *,
        inbound: Collection[int],
        outbound: Collection[int],
        until: float,
    ) -> LostLeases:
        state = await self._open_state(f"renew the leases of worker {worker!r}")
        return LostLeases(
            inbound=_renew(state.inbox_leases, worker, inbound, until),
            outbound=_renew(state.outbox_leases, worker, outbound, until),
        )

    async def release_leases(self, worker: str) -> int:
        state = await self._open_state(f"release the leases of worker {worker!r}")
        released = 0
        for leases in (state.inbox_leases, state.outbox_leases):
            for row_id, lease in list(leases.items()):
                if lease.owner == worker:
                    del leases[row_id]
                    released += 1
        return released


def _record_seen(state: _State, ids: Iterable[str], now: float, ttl: float) -> set[str]:
    """Record message ids as seen at `now`; return those not seen within `ttl` before.

    As in SQLite, ids last seen before `now - ttl` are forgotten first, assuming one ttl for
    every call. `seen_by_time` is a heap of (time, id) with an entry for every time an id was
    recorded at, so the forgetting costs what it forgets, not the size of `seen`.
    """
    cutoff = now - ttl
    seen, by_time = state.seen, state.seen_by_time
    while by_time and by_time[0][0] < cutoff:
        _, message_id = heapq.heappop(by_time)
        if message_id in seen and seen[message_id] < cutoff:  # not seen again since
            del seen[message_id]
    unique = list(dict.fromkeys(ids))
    new = {message_id for message_id in unique if message_id not in seen}
    for message_id in unique:
        if message_id not in seen or seen[message_id] < now:  # an older time never wins
            seen[message_id] = now
            heapq.heappush(by_time, (now, message_id))
    return new


def _queue_inbound(
    state: _State,
    event: NewInbound,
    now: float,
    lease: Lease | None,
    claimed: list[InboundEvent],
) -> int:
    """Keep `event` as its sender's newest inbox event; lease it by `lease` (appended to
    `claimed`) when a claim would offer it at once. Its id."""
    sender = (event.account_id, event.psid)
    waiting = bool(state.inbox_of.get(sender)) or state.replying[sender] > 0
    event_id = state.next_inbox_id()
    state.inbox_of.setdefault(sender, {})[event_id] = None
    state.inbox[event_id] = InboundEvent(
        id=event_id,
        account_id=event.account_id,
        psid=event.psid,
        body=event.body,
        received_at=now,
    )
    state.session_keys[event_id] = event.session_key
    if lease is not None and not waiting:
        state.inbox_leases[event_id] = _Lease(lease.worker, lease.until)
        claimed.append(_with_session(state, state.inbox[event_id]))
    return event_id


def _change_timers(state: _State, changes: TimerChanges) -> None:
    for ref in changes.cancelled:
        state.timers.pop((ref.account_id, ref.psid, ref.slot), None)
    for timer in changes.set:
        key = (timer.account_id, timer.psid, timer.slot)
        state.timers[key] = timer
        heapq.heappush(state.timers_by_due, (timer.due_at, key))


def _next_due(state: _State) -> float | None:
    """The earliest due time of the timers kept (stale heap entries dropped on the way)."""
    heap = state.timers_by_due
    while heap:
        due_at, key = heap[0]
        timer = state.timers.get(key)
        if timer is not None and timer.due_at == due_at:
            return due_at
        heapq.heappop(heap)
    return None


def _approve(state: _State, sender: Sender, at: float) -> None:
    approval = ApprovedSender(account_id=sender[0], psid=sender[1], approved_at=at)
    state.approved.setdefault(sender, approval)  # the first approval stays


def _record_inbound(state: _State, sender: Sender, at: float) -> None:
    state.last_inbound[sender] = max(at, state.last_inbound.get(sender, at))


def _pending(
    requests: Iterable[PairingRequest], account_id: str | None, now: float
) -> list[PairingRequest]:
    """Unexpired requests, of one account or of all, oldest first (made first, of equals)."""
    return sorted(
        (r for r in requests if r.expires_at > now and account_id in (None, r.account_id)),
        key=lambda r: r.created_at,  # sorted() is stable: equals stay in the order made
    )


def _free_heads(rows: Mapping[int, Row], leases: Mapping[int, _Lease], now: float) -> list[Row]:
    """Each sender's oldest row, oldest first, for the senders none of whose rows holds a
    running lease."""
    heads: dict[Sender, Row] = {}
    busy: set[Sender] = set()
    for row in rows.values():  # in id order
        sender = (row.account_id, row.psid)
        heads.setdefault(sender, row)
        lease = leases.get(row.id)
        if lease is not None and lease.until > now:
            busy.add(sender)
    return [row for sender, row in heads.items() if sender not in busy]


def _with_session(state: _State, event: InboundEvent) -> InboundEvent:
    """The event with its sender's session as it is now (read with the claim)."""
    key = state.session_keys.get(event.id)
    text = state.sessions.get(key) if key is not None else None
    return event if text is None else replace(event, session=Session.from_json(text))


def _renew(
    leases: dict[int, _Lease], worker: str, ids: Iterable[int], until: float
) -> frozenset[int]:
    """Lengthen `worker`'s leases on `ids`; the ids it no longer holds."""
    lost = set()
    for row_id in ids:
        lease = leases.get(row_id)
        if lease is None or lease.owner != worker:
            lost.add(row_id)
        elif lease.until < until:
            leases[row_id] = _Lease(worker, until)
    return frozenset(lost)


def _enqueue(state: _State, messages: Iterable[NewOutbound], now: float) -> list[int]:
    ids: list[int] = []
    for message in messages:
        message_id = state.next_outbox_id()
        state.outbox[message_id] = OutboundMessage(
            id=message_id,
            account_id=message.account_id,
            psid=message.psid,
            body=message.body,
            endpoint=message.endpoint,
            created_at=now,
            attempts=0,
            next_attempt_at=now,
            last_error=None,
            send_by=message.send_by,
        )
        state.replying[(message.account_id, message.psid)] += 1
        ids.append(message_id)
    return ids


def _forget_inbound(state: _State, event_id: int) -> None:
    event = state.inbox.get(event_id)
    if event is not None:
        sender = (event.account_id, event.psid)
        events = state.inbox_of[sender]
        del events[event_id]
        if not events:
            del state.inbox_of[sender]
    _forget(state.inbox, state.inbox_leases, event_id)
    state.session_keys.pop(event_id, None)


def _forget_outbound(state: _State, message_id: int) -> None:
    message = state.outbox.get(message_id)
    if message is not None:
        sender = (message.account_id, message.psid)
        state.replying[sender] -= 1
        if state.replying[sender] <= 0:
            del state.replying[sender]
    _forget(state.outbox, state.outbox_leases, message_id)


def _senders_of(state: _State, message_ids: Iterable[int]) -> list[Sender]:
    """The sender of each of these outbox messages, each once, in order."""
    messages = (state.outbox.get(message_id) for message_id in message_ids)
    return list(dict.fromkeys((m.account_id, m.psid) for m in messages if m is not None))


def _claim_next(
    state: _State, senders: Iterable[Sender], lease: Lease | None
) -> list[InboundEvent]:
    """Lease by `lease` each sender's next event, for the senders a claim would offer one:
    nothing of theirs in the outbox, their oldest event not held by a running lease."""
    if lease is None:
        return []
    claimed = []
    for sender in senders:
        events = state.inbox_of.get(sender)
        if state.replying[sender] > 0 or not events:
            continue
        head = next(iter(events))
        held = state.inbox_leases.get(head)
        if held is not None and held.until > lease.now:
            continue
        state.inbox_leases[head] = _Lease(lease.worker, lease.until)
        claimed.append(_with_session(state, state.inbox[head]))
    return claimed


def _forget(rows: dict[int, Row], leases: dict[int, _Lease], row_id: int) -> None:
    rows.pop(row_id, None)
    leases.pop(row_id, None)
