"""SenderPool: the send path, a fixed set of sender coroutines fed by queues sharded by PSID.

A user's requests always land on the same shard, so they leave strictly in order: a reply
that is being retried holds back that user's next one (and its shard's other users, which
is the price of order with a fixed pool). One asyncio task per message collapses under a
burst (measured on this stack); a fixed pool does not.

A sender takes everything waiting in its queue (up to 50 calls) and sends it as one Graph
API batch request (`batch.py`), each person's calls chained in order; alone, a call goes
to `/me/messages` as it is. Nothing waits to fill a batch: under light load calls leave
one by one as before, and under load one HTTP request carries many (the CPU of an httpx
request, about 1 ms here, is the ceiling of the send path).

Durable jobs (replies, `outbox_id` set) are retried on temporary failures with capped,
jittered exponential backoff until they go through, and are moved to the dead letters on a
permanent failure. Sender actions are best effort: tried a couple of times, then dropped.

A message with a file of the bot's folder (`payloads.file_reference`) gets the page's
attachment id first (`AttachmentIds`: uploaded once, then kept): a failed upload is that
message's failure, retried or dead-lettered as a failed send would be.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from runtime.config.model import Account
from runtime.errors import GraphAPIError, GraphUnavailableError, StoreError
from runtime.leases import LEASE_SECONDS
from runtime.log_context import about
from runtime.media import AttachmentIds
from runtime.messenger.batch import MAX_CALLS, BatchCall, CallOutcome
from runtime.messenger.endpoints import MESSAGES, PASS_THREAD_CONTROL
from runtime.messenger.graph import GraphClient
from runtime.messenger.payloads import (
    SenderAction,
    file_reference,
    sender_action_request,
    with_attachment_id,
)
from runtime.observe import NULL_OBSERVER, Observer
from runtime.session import session_key
from runtime.store.base import InboundEvent, Lease, Store
from runtime.window import outside_window

logger = logging.getLogger("runtime.send")

DEFAULT_SHARDS = 16  # sender coroutines, each owning the queue of the PSIDs that hash to it
STORE_RETRY_SECONDS = 1.0  # how often a send the store did not record is recorded again


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff after the n-th failure: up to min(cap, base * 2**n), half of it jittered."""

    base: float = 0.5
    cap: float = 30.0
    action_attempts: int = 2

    def delay(self, failures: int) -> float:
        ceiling: float = min(self.cap, self.base * 2.0 ** max(failures - 1, 0))
        jitter: float = random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not secrecy
        return ceiling / 2 + jitter


@dataclass(frozen=True, slots=True)
class SendJob:
    account_id: str
    psid: str
    body: Mapping[str, Any]
    outbox_id: int | None = None  # a durable reply; None for a sender action
    endpoint: str = MESSAGES  # where it goes: a message, or a thread-control call
    send_by: float | None = None  # Meta's 24-hour window closes then: not tried after

    @property
    def durable(self) -> bool:
        return self.outbox_id is not None


class SenderPool:
    """Owns the sender tasks; `submit` never blocks, `stop` drains within a bound."""

    def __init__(
        self,
        client: GraphClient,
        store: Store,
        accounts: Callable[[], Mapping[str, Account]],
        *,
        shards: int = DEFAULT_SHARDS,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        next_lease: Callable[[], Lease] | None = None,
        on_settled: Callable[[list[InboundEvent]], None] | None = None,
        attachments: AttachmentIds | None = None,
        lease: float = LEASE_SECONDS,
        observer: Observer = NULL_OBSERVER,
    ) -> None:
        """`on_settled` is called each time replies leave the outbox (sent or dead-lettered),
        with the people's next events, which the store leased by `next_lease()` in the same
        transaction: a person's next message waits for the replies to their last one, and
        the inbox worker takes it at once.

        `attachments` uploads the files messages send (by default, through `client` and
        `store`). `lease` is how long a claimed reply stays this worker's (`_cross_off`).
        """
        self._client = client
        self._attachments = attachments or AttachmentIds(client, store, clock=clock)
        self._on_settled = on_settled
        self._next_lease = next_lease
        self._store = store
        self._accounts = accounts
        self._retry = retry or RetryPolicy()
        self._clock = clock
        self._lease = lease
        self._observer = observer  # replies sent, retried, dead-lettered
        self._queues: list[asyncio.Queue[SendJob]] = [asyncio.Queue() for _ in range(shards)]
        self._tasks: list[asyncio.Task[None]] = []
        self._queued: set[int] = set()  # outbox ids in a queue or being sent
        self._lost: set[int] = set()  # of those, the ones another worker took over
        # (account, psid) whose typing bubble is on: a typing_on went out, no message since.
        # Only these get a typing_off when a message fails for good, so none goes to a
        # sender who was never admitted (a refused pairing reply showed no typing).
        self._typing: set[tuple[str, str]] = set()

    def submit(self, job: SendJob) -> None:
        """Queue a job; a durable one already queued here (claimed again) is not doubled."""
        if job.outbox_id is not None:
            if job.outbox_id in self._queued:
                return
            self._queued.add(job.outbox_id)
        # hash(), not crc32: PSIDs are numbers close together, which crc32 spread unevenly
        shard = hash((job.account_id, job.psid)) % len(self._queues)
        self._queues[shard].put_nowait(job)

    def pending(self) -> int:
        return sum(queue.qsize() for queue in self._queues)

    # -- leases held in memory (LeaseKeeper) ---------------------------------------------------
    def held(self) -> Collection[int]:
        return list(self._queued)

    def drop(self, ids: frozenset[int]) -> None:
        """Replies another worker took over (this one stalled past their leases): they are
        not sent from here. Ids already sent and forgotten are ignored."""
        taken = ids & self._queued
        if taken:
            logger.warning(
                "%d queued replies were taken over by another worker: not sent from here",
                len(taken),
            )
            self._lost |= taken

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(number, queue), name=f"sender-{number}")
            for number, queue in enumerate(self._queues)
        ]

    async def stop(self, *, drain_seconds: float = 5.0) -> None:
        """Let queued jobs go out for up to `drain_seconds`, then cancel the senders.

        A durable job not sent by then stays in the outbox and is sent after a restart.
        """
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(queue.join() for queue in self._queues)), drain_seconds
            )
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _run(self, number: int, queue: asyncio.Queue[SendJob]) -> None:
        pool = number % self._client.pools
        while True:
            jobs = [await queue.get()]
            if self._client.batching:  # whatever else is waiting goes along
                while len(jobs) < MAX_CALLS and not queue.empty():
                    jobs.append(queue.get_nowait())
            try:
                for account_id, group in _by_account(self._ours(jobs)):
                    await self._send(account_id, group, pool=pool)
            finally:
                for job in jobs:
                    if job.outbox_id is not None:
                        self._queued.discard(job.outbox_id)
                        self._lost.discard(job.outbox_id)
                    queue.task_done()

    def _ours(self, jobs: list[SendJob]) -> list[SendJob]:
        """`jobs` without the replies another worker has taken over."""
        if not self._lost:
            return jobs
        return [job for job in jobs if job.outbox_id not in self._lost]

    async def _send(self, account_id: str, jobs: list[SendJob], *, pool: int) -> None:
        # what is logged meanwhile is about this account, and this person if only one
        if self._client.batching:
            with about(account_id, _one_person(jobs)):
                await _survive(account_id, self._deliver(account_id, jobs, pool=pool))
        else:
            for job in jobs:
                with about(account_id, job.psid):
                    await _survive(account_id, self._deliver(account_id, [job], pool=pool))

    async def _deliver(self, account_id: str, jobs: list[SendJob], *, pool: int) -> None:
        """Send `jobs` (one account's, in order) until each is sent or given up.

        Each round sends what is waiting in one request (`_request`). A person's calls are
        chained in a batch, so after one fails the rest of theirs did not run: those go
        again, in order, with the failed one (after a backoff when it may succeed later).
        Other people's calls are done.
        """
        failures = 0  # rounds in a row that needed a retry
        attempts: dict[int, int] = {}  # id(job) -> failed attempts (sender actions give up)
        waiting = jobs
        while waiting:
            waiting = self._ours(waiting)  # a retry may wait past a lease
            if not waiting:
                return
            account = self._accounts().get(account_id)
            if account is None:
                for job in waiting:
                    await self._give_up(job, None, "the account is no longer in the config")
                return
            waiting = await self._within_window(account, waiting)
            if not waiting:
                return
            outcomes, whole = await self._request(account, waiting, pool=pool)
            again: list[SendJob] = []
            retried: list[tuple[SendJob, GraphAPIError]] = []
            stopped: set[str] = set()  # people whose chain stopped at a failure this round
            delivered: list[int] = []
            for job, outcome in zip(waiting, outcomes, strict=True):
                if job.psid in stopped:  # an earlier call of theirs failed: this one did not run
                    again.append(job)
                    continue
                if outcome is not None and not isinstance(outcome, GraphAPIError):
                    self._note_delivered(job)
                    if job.outbox_id is not None:
                        delivered.append(job.outbox_id)
                    continue
                stopped.add(job.psid)
                error = outcome or GraphUnavailableError("the Graph API did not run this call")
                if not error.retryable:
                    await self._give_up(job, account, str(error))
                    continue
                attempts[id(job)] = attempts.get(id(job), 0) + 1
                if not job.durable and attempts[id(job)] >= self._retry.action_attempts:
                    logger.debug("sender action to %s dropped: %s", job.psid, error)
                    continue
                again.append(job)
                retried.append((job, error))
            if delivered:
                self._observer.replies_sent(len(delivered))
                self._settled(await self._cross_off(account, delivered))
            waiting = again
            if not retried:
                failures = 0
                continue
            failures += 1
            self._observer.replies_retried(sum(job.durable for job, _ in retried))
            delay = self._retry_delay(failures, retried[0][1])
            if whole is not None:
                logger.warning(
                    "account %s: a batch of %d calls failed (%s); retry %d in %.1fs",
                    account.label,
                    len(outcomes),
                    whole,
                    failures,
                    delay,
                )
            now = self._clock()
            for job, error in retried:
                if whole is None:
                    self._log_retry(account, job, error, attempts[id(job)], delay)
                if job.outbox_id is not None:
                    await self._store.retry_outbound(
                        job.outbox_id, at=now + delay, error=str(error)
                    )
            await asyncio.sleep(delay)

    async def _within_window(self, account: Account, jobs: list[SendJob]) -> list[SendJob]:
        """`jobs` without those whose 24-hour window has closed: those are not tried, they
        become dead letters saying why (a timer's message past it, a reply held back by
        an outage that long)."""
        now = self._clock()
        late = [job for job in jobs if job.send_by is not None and now >= job.send_by]
        if not late:
            return jobs
        for job in late:
            await self._give_up(job, account, outside_window(job.send_by or now))
        dropped = {id(job) for job in late}
        return [job for job in jobs if id(job) not in dropped]

    async def _request(
        self, account: Account, jobs: list[SendJob], *, pool: int
    ) -> tuple[list[CallOutcome], GraphAPIError | None]:
        """One request for `jobs`: alone to its endpoint, together as a batch request.

        The outcome of each job, and the error when a batch failed as a whole.
        """
        references = [file_reference(job.body) for job in jobs]
        if not any(references):
            return await self._call(account, [(job, job.body) for job in jobs], pool=pool)
        # files first: a job whose upload failed has that outcome, and the person's later
        # jobs are not sent (None: not run), as when a call of theirs fails in a batch
        ready: list[tuple[int, SendJob, Mapping[str, Any]]] = []
        outcomes: list[CallOutcome] = [None] * len(jobs)
        stopped: set[str] = set()
        for number, (job, reference) in enumerate(zip(jobs, references, strict=True)):
            if job.psid in stopped:
                continue
            if reference is None:
                ready.append((number, job, job.body))
                continue
            try:
                found = await self._attachments.attachment_id(account, reference, pool=pool)
            except GraphAPIError as err:
                outcomes[number] = err
                stopped.add(job.psid)
                continue
            ready.append((number, job, with_attachment_id(job.body, found)))
        if not ready:
            return outcomes, None
        sent, whole = await self._call(account, [(job, body) for _, job, body in ready], pool=pool)
        for (number, _, _), outcome in zip(ready, sent, strict=True):
            outcomes[number] = outcome
        return outcomes, whole

    async def _call(
        self, account: Account, calls: list[tuple[SendJob, Mapping[str, Any]]], *, pool: int
    ) -> tuple[list[CallOutcome], GraphAPIError | None]:
        """Send each job with its body as it goes out: alone, or as one batch request."""
        if len(calls) == 1:
            job, body = calls[0]
            try:
                return [await self._client.post(account, job.endpoint, body, pool=pool)], None
            except GraphAPIError as err:
                return [err], None
        batch = [BatchCall(job.psid, body, job.endpoint) for job, body in calls]
        try:
            return await self._client.call_batch(account, batch, pool=pool), None
        except GraphAPIError as err:
            return [err] * len(calls), err

    def _retry_delay(self, failures: int, err: GraphAPIError) -> float:
        delay = self._retry.delay(failures)
        retry_after = getattr(err, "retry_after", None)
        return max(delay, float(retry_after)) if retry_after else delay

    def _log_retry(
        self,
        account: Account,
        job: SendJob,
        err: GraphAPIError,
        failures: int,
        delay: float,
    ) -> None:
        with about(account.id, job.psid):
            logger.warning(
                "account %s: sending to %s failed (%s); retry %d in %.1fs",
                account.label,
                job.psid,
                err,
                failures,
                delay,
            )

    async def _cross_off(self, account: Account, ids: list[int]) -> list[InboundEvent]:
        """Forget sent replies (`complete_outbound`); the people's next events, leased.

        A reply sent but not crossed off is sent again once its lease runs out. So while the
        store does not answer (Redis restarting, a failover), this tries again every
        STORE_RETRY_SECONDS, one line saying so: the replies stay held here meanwhile, and
        the lease keeper renews their leases as soon as the store is back. Raises the
        StoreError after a lease's time, or once another worker has taken them all over:
        by then a reply may be sent twice, as after a crash.
        """
        failed_since: float | None = None
        while True:
            try:
                settled = await self._store.complete_outbound(*ids, then=self._then())
            except StoreError as err:
                ids = [outbox_id for outbox_id in ids if outbox_id not in self._lost]
                now = time.monotonic()
                if failed_since is None:
                    failed_since = now
                    logger.error(
                        "account %s: %d sent messages not crossed off the outbox: %s; trying "
                        "again every %.0fs",
                        account.label,
                        len(ids),
                        err,
                        STORE_RETRY_SECONDS,
                    )
                if not ids or now - failed_since >= self._lease:
                    raise
                await asyncio.sleep(STORE_RETRY_SECONDS)
                continue
            if failed_since is not None:
                logger.info(
                    "account %s: %d sent messages crossed off the outbox: the store answers again",
                    account.label,
                    len(ids),
                )
            return settled

    def _then(self) -> Lease | None:
        """The lease the store takes a person's next event with, once their replies left."""
        return self._next_lease() if self._next_lease is not None else None

    def _settled(self, next_events: list[InboundEvent]) -> None:
        if self._on_settled is not None:
            self._on_settled(next_events)

    def _note_delivered(self, job: SendJob) -> None:
        key = (job.account_id, job.psid)
        if job.durable:
            self._typing.discard(key)  # Messenger clears the bubble when a message arrives
        elif job.body.get("sender_action") == SenderAction.TYPING_ON:
            self._typing.add(key)
        elif job.body.get("sender_action") == SenderAction.TYPING_OFF:
            self._typing.discard(key)

    async def _give_up(self, job: SendJob, account: Account | None, error: str) -> None:
        with about(job.account_id, job.psid):  # in a batch of several people's calls
            await self._give_up_on(job, account, error)

    async def _give_up_on(self, job: SendJob, account: Account | None, error: str) -> None:
        label = account.label if account else f"'{job.account_id}'"
        if job.outbox_id is None:
            logger.info("account %s: sender action to %s not sent: %s", label, job.psid, error)
            return
        logger.error(
            "account %s: message %d to %s not sent, moved to the dead letters: %s",
            label,
            job.outbox_id,
            job.psid,
            error,
        )
        self._observer.reply_dead_lettered()
        if job.endpoint == PASS_THREAD_CONTROL and account is not None:
            # before the dead letter hands the person's next event on: it must find the bot
            await self._keep_thread(account, job.psid)
        self._settled(
            await self._store.dead_letter_outbound(
                job.outbox_id, now=self._clock(), error=error, then=self._then()
            )
        )
        key = (job.account_id, job.psid)
        if account is not None and key in self._typing:
            # the turn showed typing and now ends without its message: clear the bubble
            self._typing.discard(key)
            self.submit(
                SendJob(
                    account.id, job.psid, sender_action_request(job.psid, SenderAction.TYPING_OFF)
                )
            )

    async def _keep_thread(self, account: Account, psid: str) -> None:
        """A handover whose pass Meta refused for good: the thread never left the bot, so
        the session's handover ends and the bot answers the person again."""
        session = await self._store.load_session(session_key(account.agent_id, psid))
        if session is None or session.handover is None:
            return
        await self._store.save_session(session.thread_back(self._clock()))
        logger.error(
            "account %s: handover of %s failed (Meta refused pass_thread_control): the thread "
            "stays with the bot, which answers them again",
            account.label,
            psid,
        )


async def _survive(account_id: str, sending: Awaitable[None]) -> None:
    """Await `sending`; a sender must survive anything one job does (it logs it instead)."""
    try:
        await sending
    except StoreError as err:
        logger.error("the store failed while sending for account '%s': %s", account_id, err)
    except Exception:
        logger.exception("sending for account '%s' failed unexpectedly", account_id)


def _one_person(jobs: list[SendJob]) -> str | None:
    """The PSID of every job, if they are all one person's."""
    psid = jobs[0].psid
    return psid if all(job.psid == psid for job in jobs) else None


def _by_account(jobs: list[SendJob]) -> list[tuple[str, list[SendJob]]]:
    """Jobs grouped by account (a batch request carries one page's token), order kept."""
    groups: dict[str, list[SendJob]] = {}
    for job in jobs:
        groups.setdefault(job.account_id, []).append(job)
    return list(groups.items())
