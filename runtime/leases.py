"""Leases: how long claimed work is one worker's alone, and keeping it so while it waits.

A worker claims inbox events and outbox replies with a lease (LEASE_SECONDS); when a lease
runs out, any worker of any process may claim the row again (that is how the work of a
killed process is taken over). Work can wait in a worker's memory longer than that: a burst
of events handed over at accept, replies queued behind a slow Graph API. `LeaseKeeper`
renews the leases of everything held in memory every LEASE_SECONDS / 4, so what is still
being worked on is never offered to anyone else. If a renewal finds a row gone to another
worker (this process stalled past its lease: a stopped VM, a debugger), the holder drops
it, so nothing is processed or sent twice; the store also refuses to finish an event whose
lease another worker took over.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection
from typing import Final, Protocol

from runtime.background import cancel_and_wait
from runtime.errors import StoreError
from runtime.store.base import Lease, Store

logger = logging.getLogger("runtime.leases")

LEASE_SECONDS: Final = 120.0  # how long a claimed event or reply is one worker's alone
RENEWALS_PER_LEASE: Final = 4  # renew this often within a lease: three renewals may fail


def lease_from_now(
    worker_id: str, seconds: float = LEASE_SECONDS, *, clock: Callable[[], float] = time.time
) -> Lease:
    """The lease `worker_id` takes on what a store call claims for it now."""
    now = clock()
    return Lease(worker_id, now, now + seconds)


class LeaseHolder(Protocol):
    """Something that holds leased rows in memory: the inbox worker, the sender pool."""

    def held(self) -> Collection[int]:
        """The ids of the rows held now."""

    def drop(self, ids: frozenset[int]) -> None:
        """These rows are no longer ours: do not process or send them."""


class LeaseKeeper:
    """Owns the renewal task of one worker's leases."""

    def __init__(
        self,
        store: Store,
        worker_id: str,
        *,
        inbound: LeaseHolder,
        outbound: LeaseHolder,
        lease: float = LEASE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._worker_id = worker_id
        self._inbound = inbound
        self._outbound = outbound
        self._lease = lease
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="lease-keeper")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._lease / RENEWALS_PER_LEASE)
            await self.renew()

    async def renew(self) -> None:
        """Renew every lease held in memory now; make the holders drop what was lost."""
        inbound, outbound = list(self._inbound.held()), list(self._outbound.held())
        if not inbound and not outbound:
            return
        try:
            lost = await self._store.renew_leases(
                self._worker_id,
                inbound=inbound,
                outbound=outbound,
                until=self._clock() + self._lease,
            )
        except StoreError as err:  # the next renewal tries again, well within the lease
            logger.error("cannot renew %d leases: %s", len(inbound) + len(outbound), err)
            return
        if lost.inbound:
            logger.warning(
                "%d claimed events were taken over by another worker (this one was stalled "
                "past its lease): dropped here",
                len(lost.inbound),
            )
            self._inbound.drop(lost.inbound)
        if lost.outbound:
            self._outbound.drop(lost.outbound)
