"""What only the Redis store's timers promise: people on every node of a Redis Cluster, a
host that dies between two scripts, a firing between a setting's two steps, and many
timers falling due together fired in a few round trips.

A timer is in two places, its person's slot and the global `timers` index: whatever
happens between the two, each timer fires once, and an index entry whose timer is gone
(cancelled, replaced, fired, never kept) is skipped and cleaned, never fired.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from runtime.errors import StoreError
from runtime.store.base import Lease, NewTimer, TimerChanges, TimerRef
from runtime.store.redis_connection import RedisConnection
from runtime.store.redis_keys import Keys
from runtime.store.redis_store import RedisStore
from tests.redis_servers import RedisCluster, RedisServer, unique_prefix
from tests.store.records import HOUR, outbound
from tests.store.test_redis_pipeline import reads_processed
from tests.store.test_redis_queues import (
    LATER,
    LEASE,
    PEOPLE,
    Meanwhile,
    drain,
    host_on,
    keyed,
    nodes_of_keys,
    session_of,
)


def timer(psid: str, slot: str, due_at: float, body: str) -> NewTimer:
    return NewTimer(
        account_id="page-1",
        psid=psid,
        slot=slot,
        due_at=due_at,
        body=body,
        session_key=f"agent:main:messenger:dm:{psid}",
    )


def setting(*timers: NewTimer) -> TimerChanges:
    return TimerChanges(set=timers)


def cancelling(psid: str, slot: str) -> TimerChanges:
    return TimerChanges(cancelled=(TimerRef(account_id="page-1", psid=psid, slot=slot),))


async def claimed_bodies(store: RedisStore, *, now: float) -> list[str]:
    """Every event the inbox offers, each person's in order: claimed, read, completed."""
    seen = []
    while events := await store.claim_inbound("reader", now=now, lease=LEASE, limit=100):
        for event in events:
            seen.append(event.body)
            await store.complete_inbound(event.id)
    return seen


async def index_entries(url: str, prefix: str) -> int:
    """How many members the global `timers` index holds, stale ones too."""
    connection = RedisConnection(url)
    await connection.open()
    try:
        entries: int = await connection.client.zcard(Keys(prefix).timers)
        return entries
    finally:
        await connection.close()


@pytest.fixture(params=["server", "cluster"])
def url(request: pytest.FixtureRequest) -> str:
    """A single Redis server's URL, or the 3-node cluster's (where the global step after a
    person's script is a script of its own, so a crash can fall between the two)."""
    if request.param == "cluster":
        cluster: RedisCluster = request.getfixturevalue("redis_cluster")
        return cluster.url
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url


class DiesBefore(RedisConnection):
    """A connection whose process dies before its script number `scripts` + 1 leaves: that
    one and every later one never reach Redis. With `answered` False, the last script
    leaves but its answer never comes back (the process died while it ran)."""

    def __init__(self, url: str, scripts: int, *, answered: bool) -> None:
        super().__init__(url)
        self.left = scripts
        self.answered = answered

    async def call(
        self, what: str, script: Any, keys: Sequence[str], args: Sequence[object]
    ) -> Any:
        if self.left <= 0:
            raise StoreError(f"cannot {what}: the process died")
        self.left -= 1
        answer = await super().call(what, script, keys, args)
        if self.left <= 0 and not self.answered:
            raise StoreError(f"cannot {what}: the process died")
        return answer


@pytest.fixture
async def survivor(url: str, prefix: str) -> AsyncIterator[RedisStore]:
    """The host that stays up."""
    store = RedisStore(url, prefix=prefix)
    await store.open()
    yield store
    await store.close()


def deaths(most: int) -> list[tuple[int, bool]]:
    """(scripts, answered) for a host dying at every point of a call of `most` scripts."""
    return [(scripts, answered) for scripts in range(most + 1) for answered in (True, False)]


class TestRedisTimersOnACluster:
    """Timers of people whose keys are on different nodes: every script on one slot."""

    async def test_timers_of_people_on_every_node_fire_into_their_inboxes(
        self, cluster_store: RedisStore, redis_cluster: RedisCluster, prefix: str
    ) -> None:
        store = cluster_store
        asks = [timer(psid, "ask", 10.0 + n, f"{psid} timed out") for n, psid in enumerate(PEOPLE)]
        await store.change_timers(setting(*asks))
        await store.accept_inbound([keyed("p0", "p0 wrote")], now=0.0, dedupe_ttl=HOUR)
        accepted = await store.accept_inbound(
            [keyed("p1", "p1 wrote")], now=1.0, dedupe_ttl=HOUR, lease=Lease("w1", 1.0, LEASE)
        )
        [turn] = accepted.claimed
        # p1's turn answers, and trades its ask's timer for a delay's
        turn_timers = TimerChanges(
            set=(timer("p1", "delay:tour:1", 30.0, "p1's tour goes on"),),
            cancelled=(TimerRef(account_id="page-1", psid="p1", slot="ask"),),
        )
        ids = await store.finish_inbound(
            turn.id,
            session=session_of("p1", 2),
            outbound=[outbound("p1", "re: p1 wrote")],
            now=2.0,
            worker="w1",
            lease=LEASE,
            timers=turn_timers,
        )
        assert ids is not None
        await store.complete_outbound(*ids)
        listed = [(t.psid, t.slot) for t in await store.list_timers()]
        assert listed == [(p, "ask") for p in PEOPLE if p != "p1"] + [("p1", "delay:tour:1")]
        assert len(nodes_of_keys(redis_cluster, prefix)) == 3

        fired = await store.fire_timers(now=20.0, limit=100, lease=Lease("w2", 20.0, 50.0))
        assert (fired.fired, fired.next_due) == (5, 30.0)
        # p0's waits behind what p0 wrote; the others are leased at once
        assert sorted(e.body for e in fired.claimed) == [f"{p} timed out" for p in PEOPLE[2:]]
        for event in fired.claimed:
            await store.complete_inbound(event.id)
        assert await claimed_bodies(store, now=21.0) == ["p0 wrote", "p0 timed out"]

        later = await store.fire_timers(now=30.0, limit=100, lease=Lease("w2", 30.0, 60.0))
        assert [(e.body, e.session) for e in later.claimed] == [
            ("p1's tour goes on", session_of("p1", 2))
        ]
        assert (later.fired, later.next_due) == (1, None)
        assert await store.count_timers() == 0
        assert await index_entries(redis_cluster.url, prefix) == 0

    async def test_a_turn_another_worker_took_over_leaves_no_timer_nor_entry(
        self, cluster_store: RedisStore, redis_cluster: RedisCluster, prefix: str
    ) -> None:
        accepted = await cluster_store.accept_inbound(
            [keyed("p2", "hi")], now=0.0, dedupe_ttl=HOUR, lease=Lease("w1", 0.0, LEASE)
        )
        [event] = accepted.claimed
        refused = await cluster_store.finish_inbound(
            event.id,
            session=None,
            outbound=[],
            now=1.0,
            worker="w2",
            lease=LEASE,
            timers=setting(timer("p2", "ask", 5.0, "no answer")),
        )
        assert refused is None
        assert await cluster_store.count_timers() == 0
        assert await index_entries(redis_cluster.url, prefix) == 0

    async def test_hosts_firing_at_once_fire_each_timer_once(
        self, redis_cluster: RedisCluster, prefix: str
    ) -> None:
        hosts = [RedisStore(redis_cluster.url, prefix=prefix) for _ in range(3)]
        for store in hosts:
            await store.open()
        try:
            people = [f"u{n}" for n in range(40)]
            await hosts[0].change_timers(
                setting(*(timer(psid, "ask", float(n % 5), psid) for n, psid in enumerate(people)))
            )
            results = await asyncio.gather(
                *(
                    hosts[n % 3].fire_timers(now=5.0, limit=6, lease=Lease(f"w{n}", 5.0, 60.0))
                    for n in range(12)
                )
            )
            assert sum(result.fired for result in results) == 40
            claimed = sorted(event.body for result in results for event in result.claimed)
            assert claimed == sorted(people)
            assert await hosts[1].count_inbound() == 40
            assert await index_entries(redis_cluster.url, prefix) == 0
        finally:
            for store in hosts:
                await store.close()


class TestRedisTimersWhenAHostDies:
    """A host dies before each script of a call in turn (or while it runs); the host that
    stays up fires each timer once, never a stale index entry, and cleans those."""

    async def dying(self, url: str, prefix: str, scripts: int, answered: bool) -> RedisStore:
        host = host_on(DiesBefore(url, scripts, answered=answered), prefix)
        await host.open()
        return host

    async def test_a_timer_set_again_when_the_host_died_fires_once_old_or_new(
        self, url: str, prefix: str, survivor: RedisStore
    ) -> None:
        for scripts, answered in deaths(3):
            psid = f"u{scripts}{answered}"
            await survivor.change_timers(setting(timer(psid, "ask", 10.0, "old")))
            dying = await self.dying(url, prefix, scripts, answered)
            try:
                await dying.change_timers(setting(timer(psid, "ask", 50.0, "new")))
                lived = True
            except StoreError:
                lived = False
            finally:
                await dying.close()
            [kept] = await survivor.list_timers()  # the stale entry is not listed
            assert lived is False or kept.due_at == 50.0
            early = await survivor.fire_timers(now=20.0, limit=10)
            late = await survivor.fire_timers(now=100.0, limit=10)
            bodies = await claimed_bodies(survivor, now=100.0)
            assert (early.fired, late.fired) == ((1, 0) if kept.due_at == 10.0 else (0, 1))
            assert bodies == (["old"] if kept.due_at == 10.0 else ["new"])
            assert await survivor.count_timers() == 0
            assert await index_entries(url, prefix) == 0  # every stale entry cleaned

    async def test_a_timer_cancelled_when_the_host_died_fires_at_most_once(
        self, url: str, prefix: str, survivor: RedisStore
    ) -> None:
        for scripts, answered in deaths(2):
            psid = f"u{scripts}{answered}"
            await survivor.change_timers(setting(timer(psid, "ask", 10.0, "timed out")))
            dying = await self.dying(url, prefix, scripts, answered)
            try:
                await dying.change_timers(cancelling(psid, "ask"))
                lived = True
            except StoreError:
                lived = False
            finally:
                await dying.close()
            kept = await survivor.list_timers()
            assert lived is False or kept == []
            fired = await survivor.fire_timers(now=100.0, limit=10)
            assert fired.fired == len(kept)
            assert await claimed_bodies(survivor, now=100.0) == ["timed out"] * len(kept)
            assert await index_entries(url, prefix) == 0

    async def test_a_timer_fired_when_the_host_died_is_processed_once(
        self, url: str, prefix: str, survivor: RedisStore
    ) -> None:
        for scripts, answered in deaths(3):
            psid = f"u{scripts}{answered}"
            await survivor.change_timers(setting(timer(psid, "ask", 10.0, f"{psid} timed out")))
            dying = await self.dying(url, prefix, scripts, answered)
            try:
                await dying.fire_timers(now=20.0, limit=10, lease=Lease("dead", 20.0, 50.0))
            except StoreError:
                pass
            finally:
                await dying.close()
            await survivor.fire_timers(now=LATER, limit=10)
            events, _ = await drain(survivor)  # its lease run out, the event is taken over
            assert events == [f"{psid} timed out"]
            assert await survivor.count_timers() == 0
            assert await index_entries(url, prefix) == 0

    async def test_a_turn_finished_when_the_host_died_keeps_its_timer_or_none(
        self, url: str, prefix: str, survivor: RedisStore
    ) -> None:
        for scripts, answered in deaths(3):
            psid = f"u{scripts}{answered}"
            await survivor.change_timers(setting(timer(psid, "ask", 10.0, "the old ask")))
            accepted = await survivor.accept_inbound(
                [keyed(psid, "hi")], now=0.0, dedupe_ttl=HOUR, lease=Lease("dead", 0.0, LEASE)
            )
            [event] = accepted.claimed
            dying = await self.dying(url, prefix, scripts, answered)
            changes = TimerChanges(
                set=(timer(psid, "delay:tour:1", 20.0, "the tour"),),
                cancelled=(TimerRef(account_id="page-1", psid=psid, slot="ask"),),
            )
            try:
                await dying.finish_inbound(
                    event.id,
                    session=None,
                    outbound=[],
                    now=1.0,
                    worker="dead",
                    lease=LEASE,
                    timers=changes,
                )
                lived = True
            except StoreError:
                lived = False
            finally:
                await dying.close()
            kept = [t.slot for t in await survivor.list_timers()]
            assert kept in (["ask"], ["delay:tour:1"])  # the turn's timers, or none of them
            assert lived is False or kept == ["delay:tour:1"]
            await survivor.fire_timers(now=LATER, limit=10)
            events, _ = await drain(survivor)
            if kept == ["ask"]:  # the turn was lost: taken again, then the old ask fires
                assert events == ["hi", "the old ask"]
            else:
                assert events in (["the tour"], ["hi", "the tour"])
            assert await index_entries(url, prefix) == 0


class TestRedisTimersAtOnce:
    """A firing between a setting's two steps: its index entry written, its timer not yet.
    The firing skips the entry and fences the setting off, which is made again with a new
    entry: the timer is kept and fires at the next call, never kept with no entry."""

    async def test_a_timer_set_while_another_host_fires_is_kept_and_fires(
        self, url: str, prefix: str, survivor: RedisStore
    ) -> None:
        async def fire_meanwhile() -> None:
            assert (await survivor.fire_timers(now=100.0, limit=10)).fired == 0

        racing = host_on(Meanwhile(url, 2, fire_meanwhile), prefix)
        await racing.open()
        try:
            await racing.change_timers(setting(timer("u1", "ask", 5.0, "late")))
        finally:
            await racing.close()
        assert [(t.slot, t.due_at) for t in await survivor.list_timers()] == [("ask", 5.0)]
        assert (await survivor.fire_timers(now=100.0, limit=10)).fired == 1
        assert await claimed_bodies(survivor, now=100.0) == ["late"]
        assert await index_entries(url, prefix) == 0

    async def test_a_message_landing_before_an_older_timer_event_keeps_one_turn_at_once(
        self, url: str, prefix: str, survivor: RedisStore
    ) -> None:
        """The firing gives the timer's event its id, then the person's message comes (a
        later id) and is leased at once, then the timer's event lands: older, but behind a
        turn already running. No claim offers it before that turn ends."""
        await survivor.change_timers(setting(timer("u1", "ask", 5.0, "timed out")))

        async def message_meanwhile() -> None:
            accepted = await survivor.accept_inbound(
                [keyed("u1", "hi")], now=6.0, dedupe_ttl=HOUR, lease=Lease("w1", 6.0, 66.0)
            )
            assert [event.body for event in accepted.claimed] == ["hi"]

        firing = host_on(Meanwhile(url, 2, message_meanwhile), prefix)
        await firing.open()
        try:
            fired = await firing.fire_timers(now=6.0, limit=10, lease=Lease("w2", 6.0, 66.0))
        finally:
            await firing.close()
        assert (fired.fired, fired.claimed) == (1, ())
        assert await survivor.claim_inbound("w3", now=7.0, lease=LEASE, limit=10) == []
        await survivor.accept_inbound([keyed("u1", "again")], now=8.0, dedupe_ttl=HOUR)
        assert await survivor.claim_inbound("w3", now=9.0, lease=LEASE, limit=10) == []
        [turn] = await survivor.claim_inbound("w1", now=70.0, lease=LEASE, limit=10)  # ran out
        assert turn.body == "timed out"

    async def test_a_turns_timer_set_while_another_host_fires_is_kept_and_fires(
        self, url: str, prefix: str, survivor: RedisStore
    ) -> None:
        accepted = await survivor.accept_inbound(
            [keyed("u1", "hi")], now=0.0, dedupe_ttl=HOUR, lease=Lease("w1", 0.0, LEASE)
        )
        [event] = accepted.claimed

        async def fire_meanwhile() -> None:
            assert (await survivor.fire_timers(now=100.0, limit=10)).fired == 0

        racing = host_on(Meanwhile(url, 2, fire_meanwhile), prefix)
        await racing.open()
        try:
            ids = await racing.finish_inbound(
                event.id,
                session=session_of("u1", 1),
                outbound=[],
                now=1.0,
                worker="w1",
                lease=LEASE,
                timers=setting(timer("u1", "ask", 5.0, "no answer")),
            )
        finally:
            await racing.close()
        assert ids == []
        assert [(t.slot, t.due_at) for t in await survivor.list_timers()] == [("ask", 5.0)]
        fired = await survivor.fire_timers(now=100.0, limit=10, lease=Lease("w2", 100.0, 200.0))
        assert [(e.body, e.session) for e in fired.claimed] == [("no answer", session_of("u1", 1))]
        assert await index_entries(url, prefix) == 0


async def test_a_thousand_timers_due_together_fire_in_a_few_round_trips(
    redis_server: RedisServer,
) -> None:
    """Each person's firing is a script of its own, but they leave together in pipelines:
    a thousand timers falling due at once cost a handful of socket reads, not a thousand."""
    store = RedisStore(redis_server.url, prefix=unique_prefix())
    await store.open()
    try:
        people = [f"p{n}" for n in range(1000)]
        await store.change_timers(setting(*(timer(psid, "ask", 5.0, psid) for psid in people)))
        before = reads_processed(redis_server)
        fired = await store.fire_timers(now=5.0, limit=1000, lease=Lease("w1", 5.0, 65.0))
        reads = reads_processed(redis_server) - before
        assert fired.fired == 1000
        assert sorted(event.body for event in fired.claimed) == sorted(people)
        assert reads < 1000 / 20, f"{reads} reads for 1000 timers"
    finally:
        await store.close()
