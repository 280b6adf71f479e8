"""InboxWorker: accepted webhook events -> access -> dialog engine -> outbox -> senders.

Events come from the durable inbox, leased to one worker, at most one per person at a time,
so each person's messages are processed in order by whichever worker takes them. Most are
leased in the transaction that accepts them (the person had nothing else waiting) and
handed straight to this worker; the rest are claimed once the person's earlier replies
have left. Each comes with the person's session, read in that same transaction. A turn's
session and replies are written in the transaction that closes its event
(`Store.finish_inbound`), then handed to the SenderPool. So a message costs three store
transactions: accept, finish, and the replies' completion.

Every turn ends with one INFO line saying who got what, and how long it took:
`turn account=shop psid=2000000000000001 flow=welcome messages=2 ms=4.1`. `flow` is the flow
that answered, else why none did, quoted: `flow="no flow"`, `"pairing reply"`, `"not
admitted"` (dmPolicy; the access log line says why at info or debug level), `"account not
configured"` (removed by a reload since the event came in), `"with a human"` (the session
says a human has the thread, `runtime/handover.py`: nothing is answered, no sender action,
and the session is not written, so a concurrent `runtime handover take` is never
overwritten) or `standby` (Meta sent it in a `standby` entry: another app's thread). A
thread-control event is no turn: it starts or ends a handover, and one line says which.

A turn's effects (`dialog/effects.py`: a handover's `pass_thread_control`) become outbox
rows after its messages, as durable and as ordered as they are.

Timers (`runtime/timers.py`): each poll, and at the earliest due time the worker knows of
(the store's next one, or one a turn of its own just set), the timers due become inbox
events (`Store.fire_timers`), as many as there is room for, leased to this worker when
their person is free, so each fires once, in the person's order. A timer's event is a turn
like a message's, with no "seen"; one that falls due while a human has the thread (except
the handover's own timeout) or for someone no longer admitted is dropped, one line saying
so (`timer account=... psid=... delay:tour:1 dropped: with a human`), and one line says
each that fires (`timer ... fired=delay at=flows.tour.steps.1 late_ms=180`). The timers a
turn sets or drops are written in the transaction that closes it. Every reply carries the
time Meta's 24-hour window closes for it (`runtime/window.py`): a day after the message it
answers, or, for a timer's turn, after the person's last message; the sender tries none
past it.

A turn that pauses at an `http` step is carried on here: "seen" and the typing bubble go
out at once, the call is made on this loop (`runtime/http_calls.py`: one log line each) and
its result handed back to the engine (`continue_turn`), as often as the flow calls. While
it waits for an API the event does not count against CAPACITY, so a slow API holds up
nobody else; the person's next event still waits (their lease is held), and the turn's
messages, those before the call included, are written in the one transaction that closes
the event. A crash meanwhile replays the whole turn, the calls with the same
`Idempotency-Key`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any, Final

from runtime.access import Admission, LocaleLookup, check_access
from runtime.bot import Bot
from runtime.config.model import Account
from runtime.dialog.effects import Effect, HttpResult, PassThread, TakeThread, app_name
from runtime.dialog.engine import Turn, continue_turn, run_turn
from runtime.dialog.messages import OutMessage, TextMessage
from runtime.envelope import Envelope, EventKind
from runtime.errors import StoreError
from runtime.handover import (
    pass_thread_control_request,
    take_thread_control_request,
    thread_change,
)
from runtime.http_calls import HttpCaller, describe_call
from runtime.leases import LEASE_SECONDS, lease_from_now
from runtime.log_context import about
from runtime.messenger.endpoints import MESSAGES, PASS_THREAD_CONTROL, TAKE_THREAD_CONTROL
from runtime.messenger.payloads import (
    MessagingType,
    SenderAction,
    message_request,
    sender_action_request,
)
from runtime.messenger.sender import SenderPool, SendJob
from runtime.observe import NULL_OBSERVER, Observer
from runtime.outage import Outage
from runtime.pairing import APPROVAL_METADATA
from runtime.people import UserProfiles
from runtime.session import Session
from runtime.store.base import Accepted, InboundEvent, Lease, NewInbound, NewOutbound, Store
from runtime.timer_changes import timer_changes
from runtime.timers import Timer
from runtime.window import window_closes

logger = logging.getLogger("runtime.worker")

POLL_SECONDS = 1.0  # how often to look for work nobody woke us up for (other processes)
POLL_SLACK = 0.01  # seconds: a timer may fire a hair before its time on the loop's clock
CAPACITY = 64  # events processed at once; more wait in memory, their leases renewed
# events waiting for an `http` call's answer do not count against CAPACITY, up to this many
MAX_CALLING = 1024

# what the turn line says in place of a flow when none answered
NO_FLOW: Final = "no flow"
PAIRING_REPLY: Final = "pairing reply"
NOT_ADMITTED: Final = "not admitted"
ACCOUNT_GONE: Final = "account not configured"
WITH_HUMAN: Final = "with a human"
STANDBY: Final = "standby"


class InboxWorker:
    """Owns the processing task. Events reach it leased already: from `accept` (a POST's
    events it may take at once), from the sender pool (`hand`: a person's next event, leased
    when their last reply left the outbox), from a claim when `wake()` says some may be free
    (a turn that sent nothing), and from a claim every POLL_SECONDS for the rest (other
    processes' events, leases that ran out).

    At most CAPACITY events are processed at once; one person's events never together,
    since the store leases one event a person at a time.
    """

    def __init__(
        self,
        *,
        store: Store,
        bot: Callable[[], Bot],
        sender: SenderPool,
        worker_id: str,
        lease: float = LEASE_SECONDS,
        capacity: int = CAPACITY,
        clock: Callable[[], float] = time.time,
        profiles: UserProfiles | None = None,
        http: HttpCaller | None = None,
        observer: Observer = NULL_OBSERVER,
    ) -> None:
        self._observer = observer  # each turn, by flow
        self._profiles = profiles  # the person's `user.*` fields, when the templates use some
        self._http = http  # the `http` steps' calls; without it, each call fails unmade
        self._store = store
        self._bot = bot
        self._sender = sender
        self._worker_id = worker_id
        self._lease = lease
        self._capacity = capacity
        self._clock = clock
        self._ready = asyncio.Event()  # something to do: events handed over, a claim wanted
        self._claim_wanted = False
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._waiting: deque[InboundEvent] = deque()  # leased to us, not started yet
        self._running: dict[int, asyncio.Task[None]] = {}  # by event id
        self._calling = 0  # running events waiting for an `http` call's answer
        self._next_poll = 0.0
        self._fire_wanted = False  # timers may be due: fire them
        self._next_timer: float | None = None  # the earliest timer known to fall due
        # a store that does not answer: one line when it stops, one when it answers again
        self._claims = Outage(logger, "the inbox can be read again, after %d failed tries")
        self._orphans = Outage(logger, "the outbox can be read again, after %d failed tries")
        self._timers = Outage(logger, "timers can be fired again, after %d failed tries")

    # -- what reaches the worker ---------------------------------------------------------------
    async def accept(
        self, events: Sequence[NewInbound], *, now: float, dedupe_ttl: float
    ) -> Accepted:
        """Keep a POST's events (`Store.accept_inbound`); what may be processed at once is
        leased to this worker in the same transaction and starts without a claim.

        The hand-over happens even if the caller is cancelled meanwhile (the client left),
        so an event leased here never waits for its lease to run out.
        """
        accepting = asyncio.ensure_future(
            self._store.accept_inbound(
                events, now=now, dedupe_ttl=dedupe_ttl, lease=self.next_lease()
            )
        )
        accepting.add_done_callback(self._take_over)
        return await asyncio.shield(accepting)

    def _take_over(self, accepting: asyncio.Future[Accepted]) -> None:
        if not accepting.cancelled() and accepting.exception() is None:
            self.hand(accepting.result().claimed)

    def hand(self, events: Sequence[InboundEvent]) -> None:
        """Events the store has leased by `next_lease()`: process them (at once, as far as
        CAPACITY allows; the loop starts the rest as running ones end)."""
        if events:
            self._waiting.extend(events)
            if not self._stopping.is_set():
                self._start_waiting()

    def next_lease(self) -> Lease:
        """This worker's lease on what a store call claims for it now."""
        return lease_from_now(self._worker_id, self._lease, clock=self._clock)

    def wake(self) -> None:
        """Some events may be free to claim now: look in the store."""
        self._claim_wanted = True
        self._ready.set()

    def poll_now(self) -> None:
        """Make the next poll now rather than within POLL_SECONDS: a reply queued by another
        part of the server (the emulator approving someone) waits in the outbox for it."""
        self._next_poll = 0.0
        self._ready.set()

    # -- leases held in memory (LeaseKeeper) ---------------------------------------------------
    def held(self) -> Collection[int]:
        return [*(event.id for event in self._waiting), *self._running]

    def drop(self, ids: frozenset[int]) -> None:
        """Events another worker took over: those not started are not started here. One
        running finishes, and the store refuses to keep its turn."""
        self._waiting = deque(event for event in self._waiting if event.id not in ids)

    # -- the loop ------------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="inbox-worker")

    async def stop(self, *, grace: float = 10.0) -> None:
        """Take nothing more; let the events being processed finish for up to `grace` seconds.

        What is cut short, and what waited, keeps its lease; the caller gives the leases back
        (`Store.release_leases`) once the senders are done, so nothing accepted is lost.
        """
        self._stopping.set()
        self._ready.set()
        if self._task is None:
            return
        await self._task
        self._task = None
        running = list(self._running.values())
        if not running:
            return
        _, late = await asyncio.wait(running, timeout=grace)
        if late:
            logger.warning("%d events still in hand after %.0fs: handed back", len(late), grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            self._ready.clear()
            self._start_waiting()  # what was handed over starts before any store call
            # the poll runs on the loop's clock, as the timer that wakes the loop for it
            if loop.time() >= self._next_poll - POLL_SLACK:
                self._next_poll = loop.time() + POLL_SECONDS
                loop.call_at(self._next_poll, self._ready.set)
                self._claim_wanted = True
                self._fire_wanted = True
                await self._store_call(self._resend_orphaned_replies(), self._orphans)
            if self._fire_wanted or self._timer_due():
                self._fire_wanted = False
                await self._store_call(self._fire_timers(), self._timers)
            if self._claim_wanted:
                self._claim_wanted = False
                await self._store_call(self._claim(), self._claims)
            self._start_waiting()
            await self._ready.wait()

    # -- timers --------------------------------------------------------------------------------
    def _timer_due(self) -> bool:
        return self._next_timer is not None and self._clock() >= self._next_timer - POLL_SLACK

    async def _fire_timers(self) -> None:
        """Turn the timers due into inbox events: as many as there is room for, leased to
        this worker when their person is free (`Store.fire_timers`); the rest wait for room,
        or for another worker's poll."""
        room = self._capacity - self._busy() - len(self._waiting)
        if room <= 0:
            self._fire_wanted = True  # the loop comes back when an event ends
            return
        fired = await self._store.fire_timers(
            now=self._clock(), limit=room, lease=self.next_lease()
        )
        self.hand(fired.claimed)
        if fired.fired >= room:
            self._fire_wanted = True  # more may be due
        self._next_timer = None
        self._expect_timer(fired.next_due)

    def _expect_timer(self, due: float | None) -> None:
        """A timer falls due at `due`: fire it then, not at the next poll."""
        if due is None or (self._next_timer is not None and self._next_timer <= due):
            return
        self._next_timer = due
        wait = due - self._clock()
        if wait < POLL_SECONDS:  # else a poll comes first, and sees to it
            asyncio.get_running_loop().call_later(max(wait, 0.0), self._ready.set)

    def _busy(self) -> int:
        """Running events that count against CAPACITY: not those waiting for an API."""
        return len(self._running) - min(self._calling, MAX_CALLING)

    def _start_waiting(self) -> None:
        while self._waiting and self._busy() < self._capacity:
            self._start(self._waiting.popleft())

    async def _store_call(self, call: Awaitable[None], outage: Outage) -> None:
        try:
            await call
        except StoreError as err:
            outage.failed(err, "the worker waits for the store (trying every %.0fs)", POLL_SECONDS)
        else:
            outage.answered()

    async def _claim(self) -> None:
        room = self._capacity - self._busy() - len(self._waiting)
        if room > 0:
            self.hand(
                await self._store.claim_inbound(
                    self._worker_id, now=self._clock(), lease=self._lease, limit=room
                )
            )

    def _start(self, event: InboundEvent) -> None:
        task = asyncio.create_task(self._process(event), name=f"event-{event.id}")
        self._running[event.id] = task

        def done(_: asyncio.Task[None]) -> None:
            del self._running[event.id]
            self._ready.set()  # room for one more

        task.add_done_callback(done)

    async def _resend_orphaned_replies(self) -> None:
        """Replies left by a worker that died (or queued by a CLI command): send them now."""
        orphans = await self._store.claim_outbound(
            self._worker_id, now=self._clock(), lease=self._lease, limit=CAPACITY
        )
        for message in orphans:
            body = json.loads(message.body)
            if is_approval_confirmation(body):
                # `runtime pair approve` (another process) queued it: the server's first sight
                with about(message.account_id, message.psid):
                    logger.info(
                        "approval seen: account=%s psid=%s; sending their confirmation",
                        message.account_id,
                        message.psid,
                    )
            self._sender.submit(
                SendJob(
                    message.account_id,
                    message.psid,
                    body,
                    message.id,
                    message.endpoint,
                    message.send_by,
                )
            )

    async def _process(self, event: InboundEvent) -> None:
        # whatever is logged meanwhile, by any module, is about this person (the JSON logs)
        with about(event.account_id, event.psid):
            try:
                await self._answer(event)
            except StoreError as err:
                # the lease runs out and the event is offered again
                logger.error("event %d from %s not finished: %s", event.id, event.psid, err)
            except Exception:  # one bad event must not stop the worker
                logger.exception("event %d from %s failed; dropped", event.id, event.psid)
                with contextlib.suppress(StoreError):
                    await self._complete(event.id)

    async def _complete(self, event_id: int) -> None:
        """Forget an event that gets no answer; the person's next one may go at once."""
        await self._store.complete_inbound(event_id)
        self.wake()

    async def _answer(self, event: InboundEvent) -> None:
        started = time.perf_counter()
        now = self._clock()
        envelope = Envelope.from_json(event.body)
        bot = self._bot()  # this turn keeps the Bot it started with, whatever a reload does
        account = bot.accounts.get(envelope.account_id)
        if account is None:
            await self._complete(event.id)  # dropped: the turn line says why
            self._turn_ended(event.account_id, envelope.psid, ACCOUNT_GONE, 0, started)
            return
        if envelope.kind is EventKind.THREAD_CONTROL:
            await self._change_hands(event, account, envelope, now)
            return
        timer = envelope.timer  # a timer of theirs fell due: no message, the bot's own turn
        with_human = event.session is not None and event.session.keeps_quiet(timer)
        if with_human and timer is not None:
            # the session is not written (see below): the thread's return drops the timer
            # from it (`Session.without_timers_due`)
            await self._complete(event.id)
            _log_timer(account.id, envelope.psid, f"{timer.slot} dropped: {WITH_HUMAN}")
            return
        if with_human or envelope.standby:
            # kept on accept (the 24-hour window counts it), never answered; the session is
            # left as it is, so a `runtime handover take` meanwhile is not overwritten
            await self._complete(event.id)
            self._turn_ended(
                account.id, envelope.psid, WITH_HUMAN if with_human else STANDBY, 0, started
            )
            return
        verdict = await check_access(
            self._store,
            bot,
            account,
            envelope.psid,
            now=now,
            pair=timer is None,
            locale_of=self._locale_lookup(bot.user_fields, now),
        )
        if timer is not None and verdict.admission is not Admission.ADMIT:
            _log_timer(account.id, envelope.psid, f"{timer.slot} dropped: {NOT_ADMITTED}")
            held = event.session.timers.get(timer.slot) if event.session else None
            if event.session is None or held is None or held.due_at != timer.due_at:
                await self._complete(event.id)
            else:
                dropped = event.session.without_timers(timer.slot)
                await self._finish(event, account, envelope.psid, dropped, (), now, actions=())
            return
        if verdict.admission is Admission.BLOCKED:
            await self._complete(event.id)  # the access line (debug) says it; no turn line
            return
        if verdict.admission is Admission.IGNORE:
            await self._complete(event.id)
            self._turn_ended(account.id, envelope.psid, NOT_ADMITTED, 0, started)
            return
        if verdict.admission is Admission.PAIR:
            reply = TextMessage(text=verdict.reply or "")
            if await self._finish(event, account, envelope.psid, None, (reply,), now, actions=()):
                self._turn_ended(account.id, envelope.psid, PAIRING_REPLY, 1, started)
            return
        # when Meta's 24-hour window closes for this turn's messages (the sender sends
        # none past it): a day after this message, or after the last one, for a timer's
        if timer is None:
            send_by = window_closes(event.received_at)
        else:
            send_by = window_closes(await self._store.last_inbound(account.id, envelope.psid))
        user: Mapping[str, object] = {}
        if bot.user_fields and self._profiles is not None:
            user = await self._profiles.fields(account, envelope.psid, bot.user_fields, now=now)
        turn = run_turn(bot, envelope, event.session, now=now, user=user)
        if timer is not None:
            if turn.fired is None:  # answered, cancelled or set again since it was kept
                await self._complete(event.id)
                _log_timer(account.id, envelope.psid, f"{timer.slot} no longer pending")
                return
            _log_fired(account.id, envelope.psid, turn.fired, now)
        # "seen" answers a message; typing only shows for messages that may still go out
        seen = (SenderAction.MARK_SEEN,) if timer is None else ()
        typing = (SenderAction.TYPING_ON,) if send_by is None or now < send_by else ()
        actions: tuple[SenderAction, ...] = ()
        if turn.call is not None:
            if account.sender_actions:  # the person sees the bot at work while the API answers
                for action in (*seen, *typing):
                    self._submit_action(account.id, envelope.psid, action)
            turn = await self._make_calls(bot, account, envelope, turn, user)
            # the replies' lease starts when they are written, not before the calls: a turn
            # that waited longer than a lease would write replies any worker may claim
            now = self._clock()
            if account.sender_actions and not turn.messages:
                actions = (SenderAction.TYPING_OFF,)  # the bubble goes: nothing comes
        elif account.sender_actions:
            actions = (*seen, *typing) if turn.messages else seen
        for note in turn.notes:
            logger.warning("%s", note)
        kept = await self._finish(
            event,
            account,
            envelope.psid,
            turn.session,
            turn.messages,
            now,
            actions=actions,
            effects=turn.effects,
            send_by=send_by,
        )
        if kept:
            flow = turn.flow or NO_FLOW
            self._turn_ended(account.id, envelope.psid, flow, len(turn.messages), started)
            for effect in turn.effects:
                _log_effect(account.id, envelope.psid, effect)

    def _turn_ended(
        self, account_id: str, psid: str, flow: str, messages: int, started: float
    ) -> None:
        self._observer.turn(flow)
        _log_turn(account_id, psid, flow, messages, started)

    async def _make_calls(
        self,
        bot: Bot,
        account: Account,
        envelope: Envelope,
        turn: Turn,
        user: Mapping[str, object],
    ) -> Turn:
        """Make the calls the turn pauses at, one after the other, handing each result back
        to the engine; the finished Turn."""
        self._calling += 1
        self._ready.set()  # a slot is free while we wait: the loop may start another event
        try:
            while turn.call is not None:
                call = turn.call
                if self._http is None:
                    result = HttpResult(ok=False, error="no HTTP client in this process")
                else:
                    result = await self._http.call(call)
                level = logging.INFO if result.ok else logging.WARNING
                logger.log(
                    level,
                    "http account=%s psid=%s %s (%s)",
                    _logfmt(account.id),
                    _logfmt(envelope.psid),
                    describe_call(call, result),
                    call.where,
                )
                turn = continue_turn(bot, envelope, turn, result, now=self._clock(), user=user)
        finally:
            self._calling -= 1
        return turn

    def _submit_action(self, account_id: str, psid: str, action: SenderAction) -> None:
        self._sender.submit(SendJob(account_id, psid, sender_action_request(psid, action)))

    def _locale_lookup(self, user_fields: Collection[str], now: float) -> LocaleLookup | None:
        """A stranger's profile locale, for a pairing reply or an approval confirmation
        written by locale (no turn runs for them, so nothing else asks their profile; the
        lookup keeps it in the store, where `runtime pair approve` reads it). It asks for the
        fields the flows use too (`user_fields`): one call, and their first turn once
        approved finds them kept."""
        profiles = self._profiles
        if profiles is None:
            return None
        wanted = frozenset(user_fields) | {"locale"}

        async def locale_of(account: Account, psid: str) -> object:
            return (await profiles.fields(account, psid, wanted, now=now)).get("locale")

        return locale_of

    async def _change_hands(
        self, event: InboundEvent, account: Account, envelope: Envelope, now: float
    ) -> None:
        """A thread-control event: a handover starts or ends in the session (one line says
        which); nothing is sent."""
        change = thread_change(event.session, envelope, now=now)
        logger.info("%s", change.line)
        if change.session is None:
            await self._complete(event.id)
        else:
            await self._finish(event, account, envelope.psid, change.session, (), now, actions=())

    async def _finish(
        self,
        event: InboundEvent,
        account: Account,
        psid: str,
        session: Session | None,
        messages: tuple[OutMessage, ...],
        now: float,
        *,
        actions: tuple[SenderAction, ...],
        effects: tuple[Effect, ...] = (),
        send_by: float | None = None,
    ) -> bool:
        """Close the event with its session and replies, then hand the turn's calls over;
        False if another worker took the event over meanwhile (nothing of this turn is kept).

        The sender actions go with the replies, submitted together, so that they leave in
        one batch request (a turn takes about a millisecond: nobody sees "seen" later). The
        effects' calls are outbox rows after the replies, sent in order with them. The
        timers the turn set or dropped (`Session.timers`) are written with it; the messages
        carry `send_by`, when Meta's 24-hour window closes for them.
        """
        calls = [(MESSAGES, message_request(psid, message)) for message in messages]
        calls.extend(_effect_call(psid, effect) for effect in effects)
        outbound = [
            NewOutbound(
                account_id=account.id,
                psid=psid,
                body=json.dumps(body),
                endpoint=endpoint,
                send_by=send_by if endpoint == MESSAGES else None,
            )
            for endpoint, body in calls
        ]
        changes = timer_changes(event.session, session)
        ids = await self._store.finish_inbound(
            event.id,
            session=session,
            outbound=outbound,
            now=now,
            worker=self._worker_id,
            lease=self._lease,
            timers=changes,
        )
        if ids is None:
            logger.warning(
                "event %d from %s was taken over by another worker while this one was stalled "
                "past its lease: this turn is dropped, theirs is kept",
                event.id,
                psid,
            )
            return False
        if not ids:
            self.wake()  # nothing to send holds their next event back: it may go now
        if changes.set:
            self._expect_timer(min(timer.due_at for timer in changes.set))
        for action in actions:
            self._submit_action(account.id, psid, action)
        for outbox_id, (endpoint, body), row in zip(ids, calls, outbound, strict=True):
            self._sender.submit(SendJob(account.id, psid, body, outbox_id, endpoint, row.send_by))
        return True


def _effect_call(psid: str, effect: Effect) -> tuple[str, dict[str, Any]]:
    """The Graph API call that carries out a turn effect: its endpoint and body."""
    if isinstance(effect, PassThread):
        return PASS_THREAD_CONTROL, pass_thread_control_request(psid, effect)
    if isinstance(effect, TakeThread):
        return TAKE_THREAD_CONTROL, take_thread_control_request(psid, effect.metadata)
    raise TypeError(f"no Graph API call carries out {effect!r}")  # pragma: no cover


def _log_effect(account_id: str, psid: str, effect: Effect) -> None:
    who = f"account={_logfmt(account_id)} psid={_logfmt(psid)}"
    if isinstance(effect, PassThread):
        owner = app_name(effect.target_app_id)
        logger.info(
            "handover: %s to %s; the bot stays quiet until the thread comes back", who, owner
        )
    else:
        logger.info("handover: %s timed out; the bot takes the thread back and answers", who)


def _log_fired(account_id: str, psid: str, timer: Timer, now: float) -> None:
    """`timer account=shop psid=... fired=ask_timeout at=flows.signup.steps.2 late_ms=180`"""
    logger.info(
        "timer account=%s psid=%s fired=%s at=%s late_ms=%.0f",
        _logfmt(account_id),
        _logfmt(psid),
        timer.kind,
        timer.where,
        max(now - timer.due_at, 0.0) * 1000,
    )


def _log_timer(account_id: str, psid: str, what: str) -> None:
    """A timer event that fires nothing, and why (`timer ... ask no longer pending`)."""
    logger.info("timer account=%s psid=%s %s", _logfmt(account_id), _logfmt(psid), what)


def _log_turn(account_id: str, psid: str, flow: str, messages: int, started: float) -> None:
    """`turn account=shop psid=2000000000000001 flow=welcome messages=2 ms=4.1`: the
    messages are the replies queued for sending (sender actions not counted)."""
    if logger.isEnabledFor(logging.INFO):
        logger.info(
            "turn account=%s psid=%s flow=%s messages=%d ms=%.1f",
            _logfmt(account_id),
            _logfmt(psid),
            _logfmt(flow),
            messages,
            (time.perf_counter() - started) * 1000,
        )


def _logfmt(value: str) -> str:
    """A value as logfmt writes it: quoted when it holds a space, a quote or an `=`."""
    if value and not any(char in value for char in ' "=\t\n'):
        return value
    return json.dumps(value, ensure_ascii=False)


def is_approval_confirmation(body: Mapping[str, Any]) -> bool:
    """The message `runtime pair approve` queues for the person it approved (its text is the
    account's approvedMessage, in their language: its metadata tells it)."""
    message = body.get("message")
    return (
        body.get("messaging_type") == MessagingType.UPDATE
        and isinstance(message, Mapping)
        and message.get("metadata") == APPROVAL_METADATA
    )


def worker_id() -> str:
    """`host:pid:random`: unique, and says which process on which host holds a lease."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


async def recover_dead_workers(store: Store) -> list[str]:
    """Give back the leases of workers of this host whose process is gone (kill -9, a crash).

    Without this, what a dead worker held waits for its leases to run out; with it, a
    restarted server takes it over at once. Workers of other hosts are left to their leases.
    """
    host = socket.gethostname()
    recovered = []
    for owner in await store.lease_owners():
        owner_host, _, rest = owner.partition(":")
        pid_text = rest.partition(":")[0]
        if owner_host != host or not pid_text.isdigit() or process_alive(int(pid_text)):
            continue
        released = await store.release_leases(owner)
        logger.warning("worker %s is gone: took back %d leased events and replies", owner, released)
        recovered.append(owner)
    return recovered


def process_alive(pid: int) -> bool:
    """Whether a process of this host has that pid (signal 0 asks without signalling)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
