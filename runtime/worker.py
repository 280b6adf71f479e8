"""InboxWorker: accepted webhook events -> access -> dialog engine -> outbox -> senders.

Events come from the durable inbox, claimed with a lease, at most one per sender at a time,
so each person's messages are processed in order by whichever worker claims them. A turn's
session and replies are written in the same transaction that closes its event
(`Store.finish_inbound`), then handed to the SenderPool.
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
from collections.abc import Callable

from runtime.access import Admission, check_access
from runtime.bot import Bot
from runtime.config.model import Account
from runtime.dialog.engine import run_turn
from runtime.dialog.messages import OutMessage, TextMessage
from runtime.envelope import Envelope
from runtime.errors import StoreError
from runtime.messenger.payloads import SenderAction, message_request, sender_action_request
from runtime.messenger.sender import SenderPool, SendJob
from runtime.session import Session
from runtime.store.base import InboundEvent, NewOutbound, Store

logger = logging.getLogger("runtime.worker")

LEASE_SECONDS = 120.0  # how long a claimed event or reply is this worker's alone
POLL_SECONDS = 1.0  # how often to look for work nobody woke us up for (other processes)


class InboxWorker:
    """Owns the processing task; `wake()` after accepting events, `stop()` at shutdown."""

    def __init__(
        self,
        *,
        store: Store,
        bot: Callable[[], Bot],
        sender: SenderPool,
        worker_id: str,
        batch: int = 64,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._bot = bot
        self._sender = sender
        self._worker_id = worker_id
        self._batch = batch
        self._clock = clock
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._next_orphan_scan = 0.0

    def wake(self) -> None:
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="inbox-worker")

    async def stop(self, *, grace: float = 10.0) -> None:
        """Claim nothing more; let the events in hand finish for up to `grace` seconds.

        What is cut short keeps its lease; the caller gives the leases back
        (`Store.release_leases`) once the senders are done, so nothing accepted is lost.
        """
        self._stopping.set()
        self._wakeup.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace)
        except TimeoutError:
            logger.warning("events still in hand after %.0fs: handed back", grace)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                if self._clock() >= self._next_orphan_scan:
                    self._next_orphan_scan = self._clock() + POLL_SECONDS
                    await self._resend_orphaned_replies()
                events = await self._store.claim_inbound(
                    self._worker_id, now=self._clock(), lease=LEASE_SECONDS, limit=self._batch
                )
            except StoreError as err:
                logger.error("cannot read the inbox: %s", err)
                events = []
            if events:
                await asyncio.gather(*(self._process(event) for event in events))
                continue
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), POLL_SECONDS)

    async def _resend_orphaned_replies(self) -> None:
        """Replies left by a worker that died (or queued by a CLI command): send them now."""
        orphans = await self._store.claim_outbound(
            self._worker_id, now=self._clock(), lease=LEASE_SECONDS, limit=self._batch
        )
        for message in orphans:
            body = json.loads(message.body)
            self._sender.submit(SendJob(message.account_id, message.psid, body, message.id))

    async def _process(self, event: InboundEvent) -> None:
        try:
            await self._answer(event)
        except StoreError as err:
            # the lease runs out and the event is offered again
            logger.error("event %d from %s not finished: %s", event.id, event.psid, err)
        except Exception:  # one bad event must not stop the worker
            logger.exception("event %d from %s failed; dropped", event.id, event.psid)
            with contextlib.suppress(StoreError):
                await self._store.complete_inbound(event.id)

    async def _answer(self, event: InboundEvent) -> None:
        now = self._clock()
        envelope = Envelope.from_json(event.body)
        bot = self._bot()  # this turn keeps the Bot it started with, whatever a reload does
        account = bot.accounts.get(envelope.account_id)
        if account is None:
            logger.info("event for account '%s', no longer configured: dropped", event.account_id)
            await self._store.complete_inbound(event.id)
            return
        verdict = await check_access(self._store, bot, account, envelope.psid, now=now)
        if verdict.admission is Admission.IGNORE:
            await self._store.complete_inbound(event.id)
            return
        if verdict.admission is Admission.PAIR:
            reply = TextMessage(text=verdict.reply or "")
            await self._finish(event, account, envelope.psid, None, (reply,), now, actions=())
            return
        session = await self._store.load_session(envelope.session_key)
        turn = run_turn(bot, envelope, session, now=now)
        for note in turn.notes:
            logger.warning("%s", note)
        actions: tuple[SenderAction, ...] = ()
        if account.sender_actions:
            actions = (SenderAction.MARK_SEEN,)
            if turn.messages:
                actions += (SenderAction.TYPING_ON,)
        await self._finish(
            event, account, envelope.psid, turn.session, turn.messages, now, actions=actions
        )

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
    ) -> None:
        """Close the event with its session and replies, then hand the turn's calls over.

        The sender actions go with the replies, submitted together, so that they leave in
        one batch request (a turn takes about a millisecond: nobody sees "seen" later).
        """
        bodies = [message_request(psid, message) for message in messages]
        outbound = [
            NewOutbound(account_id=account.id, psid=psid, body=json.dumps(body)) for body in bodies
        ]
        ids = await self._store.finish_inbound(
            event.id,
            session=session,
            outbound=outbound,
            now=now,
            worker=self._worker_id,
            lease=LEASE_SECONDS,
        )
        for action in actions:
            self._sender.submit(SendJob(account.id, psid, sender_action_request(psid, action)))
        for outbox_id, body in zip(ids, bodies, strict=True):
            self._sender.submit(SendJob(account.id, psid, body, outbox_id))


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
        if owner_host != host or not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        released = await store.release_leases(owner)
        logger.warning("worker %s is gone: took back %d leased events and replies", owner, released)
        recovered.append(owner)
    return recovered


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
