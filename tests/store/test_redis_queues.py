"""What only the Redis store's inbox, outbox and leases promise: people on every node of a
Redis Cluster, several hosts at once, and a host that dies between two commands.

A host that dies is a store whose connection refuses every command after the n-th: what
it wrote stays, what it was about to write never comes. For every n, another host then
finds every event processed once and every reply sent (or waiting to be), never lost.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import pytest

from runtime.errors import StoreError
from runtime.session import Session
from runtime.store.base import Lease, NewInbound
from runtime.store.redis_connection import RedisConnection
from runtime.store.redis_inbox import WAITING_RECHECK
from runtime.store.redis_store import RedisStore
from tests.redis_servers import RedisCluster, RedisServer, redis_binaries, unique_prefix
from tests.store.records import HOUR, outbound

T = TypeVar("T")
PEOPLE = [f"p{number}" for number in range(6)]  # their slots are on all three nodes
LEASE = 30.0
LATER = 10 * LEASE + WAITING_RECHECK  # when every lease and every wait has run out


def keyed(psid: str, body: str, message_id: str | None = None) -> NewInbound:
    return NewInbound(
        account_id="page-1",
        psid=psid,
        body=body,
        message_id=message_id,
        session_key=f"agent:main:messenger:dm:{psid}",
    )


def session_of(psid: str, step: int) -> Session:
    return Session(key=f"agent:main:messenger:dm:{psid}", account_id="page-1", psid=psid, step=step)


@pytest.fixture
def host(server_store: RedisStore) -> RedisStore:
    """A host that stays up: it takes over what a dead one left."""
    return server_store


class DiesAfter(RedisConnection):
    """A connection whose process dies after `commands` commands: the next one never goes."""

    def __init__(self, url: str, commands: int) -> None:
        super().__init__(url)
        self.left = commands

    async def run(self, what: str, call: Awaitable[T]) -> T:
        if self.left <= 0:
            if inspect.iscoroutine(call):
                call.close()
            raise StoreError(f"cannot {what}: the process died")
        self.left -= 1
        return await super().run(what, call)


class DyingHost(RedisStore):
    def __init__(self, url: str, *, prefix: str, commands: int) -> None:
        super().__init__(url, prefix=prefix)
        self._redis = DiesAfter(url, commands)


class Meanwhile(RedisConnection):
    """A connection that lets another host act (`meanwhile`) before its script number `at`
    leaves."""

    def __init__(self, url: str, at: int, meanwhile: Callable[[], Awaitable[None]]) -> None:
        super().__init__(url)
        self.scripts = 0
        self.at = at
        self.meanwhile = meanwhile

    async def call(
        self, what: str, script: Any, keys: Sequence[str], args: Sequence[object]
    ) -> Any:
        self.scripts += 1
        if self.scripts == self.at:
            await self.meanwhile()
        return await super().call(what, script, keys, args)


def host_on(connection: RedisConnection, prefix: str) -> RedisStore:
    store = RedisStore(connection.url, prefix=prefix)
    store._redis = connection
    return store


class TestRedisQueuesOnACluster:
    """Events and replies of people whose keys are on different nodes: every script stays
    on one slot (a CROSSSLOT error would be a StoreError)."""

    async def test_a_conversation_of_people_on_every_node(
        self, cluster_store: RedisStore, redis_cluster: RedisCluster, prefix: str
    ) -> None:
        store = cluster_store
        events = [keyed(psid, f"{psid}-{n}", f"m-{psid}-{n}") for n in (1, 2) for psid in PEOPLE]
        accepted = await store.accept_inbound(
            events, now=0.0, dedupe_ttl=HOUR, lease=Lease("w1", 0.0, LEASE)
        )
        assert len(accepted.ids) == 12
        assert sorted(e.body for e in accepted.claimed) == sorted(f"{p}-1" for p in PEOPLE)
        assert len(nodes_of_keys(redis_cluster, prefix)) == 3

        replies = {}
        for event in accepted.claimed:
            ids = await store.finish_inbound(
                event.id,
                session=session_of(event.psid, 1),
                outbound=[outbound(event.psid, f"re: {event.body}")],
                now=1.0,
                worker="w1",
                lease=LEASE,
            )
            assert ids is not None
            replies[event.psid] = ids
        assert await store.count_inbound() == 6
        assert await store.count_outbound() == 6
        assert await store.lease_owners() == {"w1"}
        assert await store.claim_inbound("w2", now=2.0, lease=LEASE, limit=10) == []

        then = Lease("w1", 3.0, 3.0 + LEASE)
        following = await store.complete_outbound(*replies["p0"], *replies["p1"], then=then)
        assert sorted((e.body, e.session) for e in following) == [
            ("p0-2", session_of("p0", 1)),
            ("p1-2", session_of("p1", 1)),
        ]
        [dead] = replies["p2"]
        [after_dead] = await store.dead_letter_outbound(dead, now=4.0, error="(#100)", then=then)
        assert after_dead.body == "p2-2"
        assert [d.psid for d in await store.list_dead_letters()] == ["p2"]
        assert await store.requeue_dead_letter(dead, now=5.0)

        lost = await store.renew_leases(
            "w1", inbound=[e.id for e in following], outbound=replies["p3"], until=100.0
        )
        assert lost.inbound == lost.outbound == frozenset()
        assert await store.release_leases("w1") == 6  # p0..p2's events, p3..p5's replies
        sent = await store.claim_outbound("w3", now=6.0, lease=LEASE, limit=10)
        assert sorted(m.psid for m in sent) == ["p2", "p3", "p4", "p5"]
        taken = await store.claim_inbound("w3", now=6.0, lease=LEASE, limit=10)
        assert sorted(e.body for e in taken) == ["p0-2", "p1-2"]  # p2's waits for the requeued
        assert await store.lease_owners() == {"w3"}

    async def test_two_hosts_process_each_persons_events_once_and_in_order(
        self, redis_cluster: RedisCluster, prefix: str
    ) -> None:
        hosts = [RedisStore(redis_cluster.url, prefix=prefix) for _ in range(2)]
        for store in hosts:
            await store.open()
        try:
            events = [keyed(psid, f"{psid}:{n}") for n in range(4) for psid in PEOPLE]
            await hosts[0].accept_inbound(events, now=0.0, dedupe_ttl=HOUR)
            seen: dict[str, list[str]] = {psid: [] for psid in PEOPLE}

            async def work(store: RedisStore, worker: str) -> None:
                for tick in range(200):
                    now = float(tick)
                    for event in await store.claim_inbound(worker, now=now, lease=LEASE, limit=3):
                        seen[event.psid].append(event.body)
                        ids = await store.finish_inbound(
                            event.id,
                            session=None,
                            outbound=[outbound(event.psid, f"re: {event.body}")],
                            now=now,
                            worker=worker,
                            lease=LEASE,
                        )
                        assert ids is not None
                        await store.complete_outbound(*ids)
                    if not await store.count_inbound():
                        return
                    await asyncio.sleep(0)

            await asyncio.gather(work(hosts[0], "a"), work(hosts[1], "b"))
            assert seen == {psid: [f"{psid}:{n}" for n in range(4)] for psid in PEOPLE}
            assert await hosts[1].count_outbound() == 0
        finally:
            for store in hosts:
                await store.close()


def nodes_of_keys(cluster: RedisCluster, prefix: str) -> set[int]:
    """The nodes holding keys under `prefix`."""
    _, cli = redis_binaries()
    return {
        node
        for node, server in enumerate(cluster.servers)
        if server.cli(cli, "--scan", "--pattern", f"{prefix}*").stdout.split()
    }


async def drain(store: RedisStore) -> tuple[list[str], list[str]]:
    """What a host that stays up does once every lease has run out, as its worker and its
    sender would: the events it processes and the replies it sends, in order."""
    events: list[str] = []
    replies: list[str] = []
    for later in range(1, 4):
        now = LATER * later
        while messages := await store.claim_outbound("alive", now=now, lease=LEASE, limit=10):
            replies.extend(message.body for message in messages)
            await store.complete_outbound(*(message.id for message in messages))
        while claimed := await store.claim_inbound("alive", now=now, lease=LEASE, limit=10):
            for event in claimed:
                events.append(event.body)
                reply = outbound(event.psid, f"re: {event.body}")
                ids = await store.finish_inbound(
                    event.id, session=None, outbound=[reply], now=now, worker="alive", lease=LEASE
                )
                assert ids is not None
                replies.append(reply.body)
                await store.complete_outbound(*ids)
    assert (await store.count_inbound(), await store.count_outbound()) == (0, 0)
    return events, replies


class TestRedisQueuesWhenAHostDies:
    """A host dies after each command of a call in turn; the host that stays up loses
    nothing of what was accepted and sends each reply (at least) once, in order."""

    async def dies(self, server: RedisServer, commands: int) -> tuple[DyingHost, RedisStore]:
        prefix = unique_prefix()
        dying = DyingHost(server.url, prefix=prefix, commands=commands)
        survivor = RedisStore(server.url, prefix=prefix)
        await dying.open()
        await survivor.open()
        return dying, survivor

    async def test_an_event_accepted_when_the_host_died_is_processed_once(
        self, redis_server: RedisServer
    ) -> None:
        for commands in range(20):
            dying, survivor = await self.dies(redis_server, commands)
            event = keyed("u1", "hello", "m1")
            try:
                await dying.accept_inbound(
                    [event], now=0.0, dedupe_ttl=HOUR, lease=Lease("dead", 0.0, LEASE)
                )
                lived = True
            except StoreError:  # no 200 went back: Meta delivers it again, to the other host
                lived = False
                await survivor.accept_inbound([event], now=1.0, dedupe_ttl=HOUR)
            finally:
                await dying.close()
            assert await drain(survivor) == (["hello"], ["re: hello"])
            await survivor.close()
            if lived:
                assert commands > 0
                break

    async def test_a_turn_finished_when_the_host_died_is_kept_once(
        self, redis_server: RedisServer
    ) -> None:
        for commands in range(20):
            dying, survivor = await self.dies(redis_server, commands)
            await survivor.accept_inbound(
                [keyed("u1", "1"), keyed("u1", "2")], now=0.0, dedupe_ttl=HOUR
            )
            [event] = await survivor.claim_inbound("dead", now=0.0, lease=LEASE, limit=10)
            try:
                await dying.finish_inbound(
                    event.id,
                    session=session_of("u1", 1),
                    outbound=[outbound("u1", "re: 1")],
                    now=1.0,
                    worker="dead",
                    lease=LEASE,
                )
                lived = True
            except StoreError:
                lived = False
            finally:
                await dying.close()
            events, replies = await drain(survivor)
            assert replies == ["re: 1", "re: 2"]
            assert events in (["2"], ["1", "2"])  # its turn kept, or taken again
            assert lived is False or events == ["2"]
            await survivor.close()
            if lived:
                break

    async def test_a_reply_sent_when_the_host_died_holds_no_event_back(
        self, redis_server: RedisServer
    ) -> None:
        for commands in range(20):
            dying, survivor = await self.dies(redis_server, commands)
            await survivor.accept_inbound(
                [keyed("u1", "1"), keyed("u1", "2")], now=0.0, dedupe_ttl=HOUR
            )
            [event] = await survivor.claim_inbound("dead", now=0.0, lease=LEASE, limit=10)
            ids = await survivor.finish_inbound(
                event.id,
                session=None,
                outbound=[outbound("u1", "re: 1")],
                now=1.0,
                worker="dead",
                lease=LEASE,
            )
            assert ids is not None
            try:
                await dying.complete_outbound(*ids, then=Lease("dead", 2.0, 2.0 + LEASE))
                lived = True
            except StoreError:
                lived = False
            finally:
                await dying.close()
            events, replies = await drain(survivor)
            assert events == ["2"]
            # the Graph API took it; unrecorded, it goes again (as SQLite's would)
            assert replies in (["re: 2"], ["re: 1", "re: 2"])
            assert lived is False or replies == ["re: 2"]
            await survivor.close()
            if lived:
                break

    async def test_a_reply_dead_lettered_when_the_host_died_is_listed_or_sent(
        self, redis_server: RedisServer
    ) -> None:
        for commands in range(20):
            dying, survivor = await self.dies(redis_server, commands)
            [reply] = await survivor.enqueue_outbound([outbound("u1", "bad")], now=0.0)
            await survivor.accept_inbound([keyed("u1", "next")], now=0.0, dedupe_ttl=HOUR)
            try:
                await dying.dead_letter_outbound(
                    reply, now=1.0, error="(#100)", then=Lease("dead", 1.0, 1.0 + LEASE)
                )
                lived = True
            except StoreError:
                lived = False
            finally:
                await dying.close()
            events, replies = await drain(survivor)
            dead = [letter.body for letter in await survivor.list_dead_letters()]
            assert events == ["next"]
            assert (dead, replies) in ((["bad"], ["re: next"]), ([], ["bad", "re: next"]))
            assert lived is False or dead == ["bad"]
            await survivor.close()
            if lived:
                break

    async def test_replies_queued_when_the_host_died_are_sent_once_or_not_at_all(
        self, redis_server: RedisServer
    ) -> None:
        for commands in range(20):
            dying, survivor = await self.dies(redis_server, commands)
            try:
                await dying.enqueue_outbound(
                    [outbound("u1", "one"), outbound("u1", "two")], now=0.0
                )
                lived = True
            except StoreError:  # `runtime send` said it failed
                lived = False
            finally:
                await dying.close()
            _, replies = await drain(survivor)
            assert replies in ([], ["one", "two"])
            assert lived is False or replies == ["one", "two"]
            await survivor.close()
            if lived:
                break


class RacingHost(RedisStore):
    """A host whose first landing of events waits while another host claims: the claim
    finds the person's inbox empty after the index said they had work."""

    def __init__(self, url: str, *, prefix: str, other: RedisStore) -> None:
        super().__init__(url, prefix=prefix)
        self.other = other
        self.raced = False

    async def _accept_script(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
        if not self.raced:
            self.raced = True
            assert await self.other.claim_inbound("other", now=0.0, lease=LEASE, limit=10) == []
        return await super()._accept_script(*args, **kwargs)  # type: ignore[arg-type]


class TestRedisQueuesAtOnce:
    """Hosts at the same moment: a claim between a host's index entry and its events."""

    async def test_an_older_event_landing_behind_a_leased_one_waits_for_its_turn(
        self, redis_server: RedisServer, prefix: str, host: RedisStore
    ) -> None:
        """Two hosts take one person's messages at once: the first gets the older id, the
        second's lands first and is leased at once, then the first's lands. No claim offers
        the older one while the later one's turn runs (a wake, here a third message, makes
        claims look at the person)."""

        async def second_host_meanwhile() -> None:
            accepted = await host.accept_inbound(
                [keyed("u1", "2")], now=0.0, dedupe_ttl=HOUR, lease=Lease("w2", 0.0, LEASE)
            )
            assert [event.body for event in accepted.claimed] == ["2"]

        first = host_on(Meanwhile(redis_server.url, 1, second_host_meanwhile), prefix)
        await first.open()
        try:
            accepted = await first.accept_inbound(
                [keyed("u1", "1")], now=0.0, dedupe_ttl=HOUR, lease=Lease("w1", 0.0, LEASE)
            )
        finally:
            await first.close()
        assert accepted.claimed == ()  # behind a turn already running
        await host.accept_inbound([keyed("u1", "3")], now=1.0, dedupe_ttl=HOUR)
        assert await host.claim_inbound("w3", now=2.0, lease=LEASE, limit=10) == []
        [older] = await host.claim_inbound("w3", now=LEASE + 1.0, lease=LEASE, limit=10)
        assert older.body == "1"

    async def test_events_landing_after_a_claim_found_none_are_still_claimed(
        self, redis_server: RedisServer, prefix: str, host: RedisStore
    ) -> None:
        racing = RacingHost(redis_server.url, prefix=prefix, other=host)
        await racing.open()
        try:
            accepted = await racing.accept_inbound([keyed("u1", "1")], now=0.0, dedupe_ttl=HOUR)
            assert racing.raced
        finally:
            await racing.close()
        [event] = await host.claim_inbound("w", now=1.0, lease=LEASE, limit=10)
        assert (event.id, event.body) == (accepted.ids[0], "1")
