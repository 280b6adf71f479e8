"""The Timers contract: timers kept by due time, fired once into their person's inbox queue.

The `store` and `new_store` fixtures (one per backend: memory, SQLite, Redis) are in
`conftest.py`: every test of the class runs against each backend. What needs two processes
sharing one store (two stores opened on one file or one Redis prefix) skips the memory
store, which serves one process only.
"""

from __future__ import annotations

import asyncio

import pytest

from runtime.session import Session
from runtime.store.base import (
    Lease,
    NewInbound,
    NewOutbound,
    NewTimer,
    Store,
    TimerChanges,
    TimerRef,
)
from runtime.store.memory import MemoryStore
from tests.store.conftest import NewStore
from tests.store.records import HOUR


def key_of(psid: str) -> str:
    return f"agent:main:messenger:dm:{psid}"


def timer(psid: str, slot: str, due_at: float, body: str = "", account: str = "page-1") -> NewTimer:
    return NewTimer(
        account_id=account,
        psid=psid,
        slot=slot,
        due_at=due_at,
        body=body or f"timer {psid} {slot} {due_at}",
        session_key=key_of(psid),
    )


def message(psid: str, body: str) -> NewInbound:
    return NewInbound(account_id="page-1", psid=psid, body=body, session_key=key_of(psid))


def setting(*timers: NewTimer) -> TimerChanges:
    return TimerChanges(set=timers)


def lease(worker: str = "w1", now: float = 0.0) -> Lease:
    return Lease(worker, now, now + 60.0)


async def bodies_claimed(store: Store, *, now: float) -> list[str]:
    """Every event the inbox offers, each person's in order: claimed, read, completed."""
    seen = []
    while events := await store.claim_inbound("reader", now=now, lease=60.0, limit=100):
        for event in events:
            seen.append(event.body)
            await store.complete_inbound(event.id)
    return seen


class TestTimers:
    """What every backend must do with timers."""

    async def test_a_timer_fires_at_its_time_and_not_before(self, store: Store) -> None:
        await store.change_timers(setting(timer("u1", "ask", 100.0, body="the ask timed out")))
        assert await store.count_timers() == 1

        early = await store.fire_timers(now=99.5, limit=10)
        assert early.fired == 0
        assert early.next_due == 100.0
        assert await store.count_inbound() == 0

        due = await store.fire_timers(now=100.0, limit=10)
        assert due.fired == 1
        assert due.next_due is None
        assert await store.count_timers() == 0
        assert await bodies_claimed(store, now=100.0) == ["the ask timed out"]

        assert (await store.fire_timers(now=500.0, limit=10)).fired == 0  # once only

    async def test_timers_fire_earliest_first_within_the_limit(self, store: Store) -> None:
        await store.change_timers(
            setting(
                timer("u3", "ask", 30.0, body="third"),
                timer("u1", "ask", 10.0, body="first"),
                timer("u2", "ask", 20.0, body="second"),
                timer("u4", "ask", 400.0, body="later"),
            )
        )
        fired = await store.fire_timers(now=100.0, limit=2)
        assert fired.fired == 2
        assert fired.next_due == 30.0  # the third is due, and waits for the next call
        assert sorted(await bodies_claimed(store, now=100.0)) == ["first", "second"]

        rest = await store.fire_timers(now=100.0, limit=2)
        assert rest.fired == 1
        assert rest.next_due == 400.0
        assert await bodies_claimed(store, now=100.0) == ["third"]

    async def test_setting_a_slot_again_replaces_its_timer(self, store: Store) -> None:
        await store.change_timers(setting(timer("u1", "ask", 10.0, body="old")))
        await store.change_timers(setting(timer("u1", "ask", 50.0, body="new")))
        await store.change_timers(setting(timer("u1", "delay:tour:2", 20.0, body="delay")))
        listed = await store.list_timers()
        assert [(t.slot, t.due_at) for t in listed] == [("delay:tour:2", 20.0), ("ask", 50.0)]

        assert (await store.fire_timers(now=30.0, limit=10)).fired == 1
        assert await bodies_claimed(store, now=30.0) == ["delay"]
        assert (await store.fire_timers(now=60.0, limit=10)).fired == 1
        assert await bodies_claimed(store, now=60.0) == ["new"]

    async def test_a_cancelled_timer_never_fires(self, store: Store) -> None:
        await store.change_timers(setting(timer("u1", "ask", 10.0), timer("u2", "ask", 10.0)))
        await store.change_timers(
            TimerChanges(
                cancelled=(
                    TimerRef(account_id="page-1", psid="u1", slot="ask"),
                    TimerRef(account_id="page-1", psid="u9", slot="ask"),  # none: harmless
                )
            )
        )
        assert [t.psid for t in await store.list_timers()] == ["u2"]
        fired = await store.fire_timers(now=20.0, limit=10)
        assert fired.fired == 1
        assert await bodies_claimed(store, now=20.0) == ["timer u2 ask 10.0"]

    async def test_a_cancel_and_a_set_of_one_slot_keep_the_new_timer(self, store: Store) -> None:
        await store.change_timers(setting(timer("u1", "ask", 10.0, body="old")))
        ref = TimerRef(account_id="page-1", psid="u1", slot="ask")
        await store.change_timers(
            TimerChanges(set=(timer("u1", "ask", 40.0, body="new"),), cancelled=(ref,))
        )
        assert [t.due_at for t in await store.list_timers()] == [40.0]

    async def test_timers_are_listed_by_account(self, store: Store) -> None:
        await store.change_timers(
            setting(
                timer("u1", "ask", 10.0, account="page-1"),
                timer("u1", "handover", 5.0, account="page-2"),
            )
        )
        assert [t.account_id for t in await store.list_timers()] == ["page-2", "page-1"]
        only = await store.list_timers("page-1")
        assert [(t.account_id, t.psid, t.slot, t.due_at) for t in only] == [
            ("page-1", "u1", "ask", 10.0)
        ]

    async def test_a_fired_timer_waits_behind_what_its_person_already_sent(
        self, store: Store
    ) -> None:
        await store.accept_inbound([message("u1", "hello")], now=0.0, dedupe_ttl=HOUR)
        await store.change_timers(setting(timer("u1", "ask", 5.0, body="timeout")))
        fired = await store.fire_timers(now=5.0, limit=10, lease=lease(now=5.0))
        assert fired.fired == 1
        assert fired.claimed == ()  # their message comes first: nothing leased at once

        first = await store.claim_inbound("w1", now=5.0, lease=60.0, limit=10)
        assert [event.body for event in first] == ["hello"]
        assert await store.claim_inbound("w2", now=5.0, lease=60.0, limit=10) == []  # one a time
        await store.complete_inbound(first[0].id)
        assert await bodies_claimed(store, now=5.0) == ["timeout"]

    async def test_a_fired_timer_of_someone_idle_is_leased_at_once_with_the_session(
        self, store: Store
    ) -> None:
        session = Session(key=key_of("u1"), account_id="page-1", psid="u1", vars={"n": 1})
        await store.save_session(session)
        await store.change_timers(setting(timer("u1", "delay:a:1", 5.0, body="later")))
        fired = await store.fire_timers(now=6.0, limit=10, lease=lease(now=6.0))
        assert fired.fired == 1
        [event] = fired.claimed
        assert event.body == "later"
        assert event.received_at == 6.0
        assert event.session is not None
        assert event.session.vars == {"n": 1}
        # leased: no claim offers it to another worker
        assert await store.claim_inbound("w2", now=6.0, lease=60.0, limit=10) == []

    async def test_a_fired_timer_waits_for_its_persons_replies_to_leave(self, store: Store) -> None:
        reply = NewOutbound(account_id="page-1", psid="u1", body="reply")
        [reply_id] = await store.enqueue_outbound([reply], now=0.0)
        await store.change_timers(setting(timer("u1", "ask", 5.0, body="timeout")))
        fired = await store.fire_timers(now=5.0, limit=10, lease=lease(now=5.0))
        assert fired.claimed == ()
        assert await store.claim_inbound("w1", now=5.0, lease=60.0, limit=10) == []
        taken = await store.complete_outbound(reply_id, then=lease("w1", now=6.0))
        assert [event.body for event in taken] == ["timeout"]

    async def test_a_finished_turn_sets_and_cancels_its_timers(self, store: Store) -> None:
        await store.change_timers(setting(timer("u1", "ask", 50.0, body="old ask")))
        accepted = await store.accept_inbound(
            [message("u1", "hi")], now=0.0, dedupe_ttl=HOUR, lease=lease()
        )
        [event] = accepted.claimed
        changes = TimerChanges(
            set=(timer("u1", "delay:tour:1", 30.0, body="the tour goes on"),),
            cancelled=(TimerRef(account_id="page-1", psid="u1", slot="ask"),),
        )
        ids = await store.finish_inbound(
            event.id, session=None, outbound=[], now=1.0, worker="w1", lease=60.0, timers=changes
        )
        assert ids == []
        assert [(t.slot, t.due_at) for t in await store.list_timers()] == [("delay:tour:1", 30.0)]

    async def test_a_turn_another_worker_took_over_changes_no_timer(self, store: Store) -> None:
        accepted = await store.accept_inbound(
            [message("u1", "hi")], now=0.0, dedupe_ttl=HOUR, lease=lease()
        )
        [event] = accepted.claimed
        changes = setting(timer("u1", "ask", 30.0))
        refused = await store.finish_inbound(
            event.id, session=None, outbound=[], now=1.0, worker="w2", lease=60.0, timers=changes
        )
        assert refused is None
        assert await store.count_timers() == 0

    async def test_a_timer_set_at_a_time_already_past_fires_at_the_next_call(
        self, store: Store
    ) -> None:
        # a server down while it fell due: the first call after the start fires it
        await store.change_timers(setting(timer("u1", "ask", 10.0, body="late")))
        fired = await store.fire_timers(now=10_000.0, limit=10)
        assert fired.fired == 1
        assert await bodies_claimed(store, now=10_000.0) == ["late"]

    async def test_many_callers_at_once_fire_each_timer_once(self, new_store: NewStore) -> None:
        stores = [new_store() for _ in range(1 if new_store is MemoryStore else 3)]
        for store in stores:
            await store.open()
        try:
            timers = [timer(f"u{n}", "ask", float(n % 7), body=f"t{n}") for n in range(60)]
            await stores[0].change_timers(setting(*timers))
            results = await asyncio.gather(
                *(
                    stores[n % len(stores)].fire_timers(now=10.0, limit=7, lease=lease(f"w{n}"))
                    for n in range(20)
                )
            )
            assert sum(result.fired for result in results) == 60
            claimed = [event.body for result in results for event in result.claimed]
            assert sorted(claimed) == sorted(f"t{n}" for n in range(60))  # each once
            assert await stores[0].count_inbound() == 60
            assert await stores[-1].count_timers() == 0
        finally:
            for store in stores:
                await store.close()

    async def test_timers_outlive_the_store_being_closed(self, new_store: NewStore) -> None:
        if new_store is MemoryStore:
            pytest.skip("the memory store keeps nothing past close()")
        first = new_store()
        await first.open()
        await first.change_timers(setting(timer("u1", "ask", 10.0, body="kept")))
        await first.close()
        second = new_store()
        await second.open()
        try:
            assert [t.slot for t in await second.list_timers()] == ["ask"]
            assert (await second.fire_timers(now=11.0, limit=10)).fired == 1
            assert await bodies_claimed(second, now=11.0) == ["kept"]
        finally:
            await second.close()

    async def test_among_thousands_of_pending_timers_the_due_one_fires(self, store: Store) -> None:
        far = [timer(f"far{n}", "ask", 1e9 + n) for n in range(2000)]
        for start in range(0, len(far), 500):
            await store.change_timers(setting(*far[start : start + 500]))
        await store.change_timers(setting(timer("soon", "ask", 5.0, body="soon")))
        fired = await store.fire_timers(now=5.0, limit=10)
        assert fired.fired == 1
        assert fired.next_due == 1e9
        assert await bodies_claimed(store, now=5.0) == ["soon"]
        assert await store.count_timers() == 2000
