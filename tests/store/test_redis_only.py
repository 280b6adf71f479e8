"""What only the Redis store promises: every role on a Redis Cluster, whose nodes hold
different people, with no script ever touching two hash slots (CROSSSLOT)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from runtime.store.base import Standing
from runtime.store.redis_keys import Keys
from runtime.store.redis_store import RedisStore
from tests.redis_servers import RedisCluster, RedisServer, redis_binaries
from tests.store.records import HOUR, outbound, pairing

PEOPLE = [f"p{number}" for number in range(6)]  # their slots are on all three nodes


@pytest.fixture
async def crash(redis_server: RedisServer, prefix: str) -> AsyncIterator[Crash]:
    client = redis.asyncio.Redis.from_url(redis_server.url, decode_responses=True)
    yield Crash(client, Keys(prefix))
    await client.aclose()


class Crash:
    """Leaves what a crash between two commands leaves: a person's key never written."""

    def __init__(self, client: redis.asyncio.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    async def lose_pairings(self, psid: str, account: str = "page-1") -> None:
        await self.client.delete(self.keys.person(psid).pairings(account))

    async def lose_approval(self, psid: str, account: str = "page-1") -> None:
        await self.client.delete(self.keys.person(psid).approved(account))


def nodes_of_people(cluster: RedisCluster, prefix: str) -> dict[str, set[int]]:
    """PSID -> the nodes holding keys of theirs (under `prefix`), read from each node."""
    _, cli = redis_binaries()
    found: dict[str, set[int]] = {}
    for node, server in enumerate(cluster.servers):
        keys = server.cli(cli, "--scan", "--pattern", f"{prefix}*").stdout.split()
        for key in keys:
            tag = key[len(prefix) :].partition("}")[0].lstrip("{")
            found.setdefault(tag, set()).add(node)
    return found


class TestRedisAccessOnACluster:
    """Pairing, approvals and blocks of people whose keys are on different nodes."""

    async def test_pairing_requests_of_people_on_every_node_are_one_list(
        self, cluster_store: RedisStore, redis_cluster: RedisCluster, prefix: str
    ) -> None:
        for number, psid in enumerate(PEOPLE):
            request = pairing(f"CODE{number}", psid=psid, at=float(number))
            assert await cluster_store.create_pairing(request, now=float(number), max_pending=3)
        listed = await cluster_store.list_pairings(now=10.0)
        assert [request.psid for request in listed] == ["p3", "p4", "p5"]  # the oldest expired
        evicted = await cluster_store.find_pairing("CODE0")
        assert evicted is not None
        assert evicted.expires_at == 3.0  # when CODE3 came
        assert await cluster_store.pending_pairing("page-1", "p5", now=10.0) == listed[-1]
        taken = pairing("CODE4", psid="p0", at=11.0)
        assert await cluster_store.create_pairing(taken, now=11.0, max_pending=3) is None
        placed = nodes_of_people(redis_cluster, prefix)
        assert set().union(*(placed[psid] for psid in PEOPLE)) == {0, 1, 2}
        assert len(placed["global"]) == 1  # the store's own keys: one slot

    async def test_approving_people_on_every_node_queues_each_confirmation(
        self, cluster_store: RedisStore
    ) -> None:
        for number, psid in enumerate(PEOPLE):
            request = pairing(f"CODE{number}", psid=psid)
            await cluster_store.create_pairing(request, now=0.0, max_pending=10)
            welcome = outbound(psid, f"welcome {psid}")
            assert await cluster_store.approve_pairing(request, now=1.0, confirmation=welcome)
        assert [a.psid for a in await cluster_store.list_approved("page-1")] == sorted(PEOPLE)
        assert await cluster_store.list_pairings(now=2.0) == []
        queued = await cluster_store.claim_outbound("w", now=2.0, lease=30.0, limit=10)
        assert sorted(message.body for message in queued) == [f"welcome {p}" for p in PEOPLE]
        for psid in PEOPLE:
            assert await cluster_store.standing("page-1", psid) is Standing.APPROVED

    async def test_blocking_people_on_every_node_drops_what_they_had(
        self, cluster_store: RedisStore
    ) -> None:
        await cluster_store.enqueue_outbound([outbound(psid, "hi") for psid in PEOPLE], now=0.0)
        for number, psid in enumerate(PEOPLE):
            await cluster_store.approve_sender("page-1", psid, 0.0)
            request = pairing(f"CODE{number}", account="page-1", psid=psid)
            await cluster_store.create_pairing(request, now=0.0, max_pending=10)
            await cluster_store.record_inbound("page-1", psid, float(number))
        blocked = PEOPLE[::2]
        for psid in blocked:
            assert await cluster_store.block_sender("page-1", psid, 5.0)
        assert [b.psid for b in await cluster_store.list_blocked()] == blocked
        assert [a.psid for a in await cluster_store.list_approved()] == PEOPLE[1::2]
        assert [r.psid for r in await cluster_store.list_pairings(now=1.0)] == PEOPLE[1::2]
        left = await cluster_store.claim_outbound("w", now=1.0, lease=30.0, limit=10)
        assert sorted(message.psid for message in left) == PEOPLE[1::2]
        for number, psid in enumerate(PEOPLE):
            expected = Standing.BLOCKED if psid in blocked else Standing.APPROVED
            assert await cluster_store.standing("page-1", psid) is expected
            assert await cluster_store.last_inbound("page-1", psid) == float(number)


class TestRedisAccessAfterACrash:
    """What a crash between a global write and a person's write leaves: found by nobody."""

    async def test_a_code_whose_request_was_never_written_is_neither_found_nor_reused(
        self, server_store: RedisStore, crash: Crash
    ) -> None:
        request = pairing("GHOST", psid="u1", ttl=HOUR)
        await server_store.create_pairing(request, now=0.0, max_pending=3)
        await crash.lose_pairings("u1")  # the code's entry written, the request never was
        assert await server_store.find_pairing("GHOST") is None
        assert await server_store.take_pairing("GHOST") is None
        assert await server_store.list_pairings(now=1.0) == []
        assert await server_store.pending_pairing("page-1", "u1", now=1.0) is None
        again = pairing("GHOST", psid="u2", at=1.0)
        assert await server_store.create_pairing(again, now=1.0, max_pending=3) is None
        later = pairing("GHOST", psid="u2", at=HOUR)  # once the lost one would have expired
        assert await server_store.create_pairing(later, now=HOUR, max_pending=3) == later
        assert await server_store.find_pairing("GHOST") == later

    async def test_a_lost_request_does_not_push_out_a_pending_one(
        self, server_store: RedisStore, crash: Crash
    ) -> None:
        await server_store.create_pairing(pairing("LOST", psid="u0"), now=0.0, max_pending=2)
        await crash.lose_pairings("u0")
        kept = pairing("KEPT", psid="u1", at=1.0)
        await server_store.create_pairing(kept, now=1.0, max_pending=2)
        new = pairing("NEW", psid="u2", at=2.0)
        await server_store.create_pairing(new, now=2.0, max_pending=2)
        assert await server_store.list_pairings(now=3.0) == [kept, new]

    async def test_a_listed_sender_whose_key_is_gone_is_not_listed(
        self, server_store: RedisStore, crash: Crash
    ) -> None:
        await server_store.approve_sender("page-1", "u1", 1.0)
        await server_store.approve_sender("page-1", "u2", 2.0)
        await crash.lose_approval("u1")  # listed as approved, the person's key never written
        assert [a.psid for a in await server_store.list_approved()] == ["u2"]
        assert await server_store.standing("page-1", "u1") is Standing.NONE
        await server_store.approve_sender("page-1", "u1", 3.0)
        assert [(a.psid, a.approved_at) for a in await server_store.list_approved()] == [
            ("u2", 2.0),
            ("u1", 3.0),
        ]


class TestRedisAccessAtOnce:
    """Several stores (several hosts) on one Redis, at the same moment."""

    async def test_of_two_requests_with_one_code_at_once_one_is_kept(
        self, redis_server: RedisServer, prefix: str
    ) -> None:
        stores = [RedisStore(redis_server.url, prefix=prefix) for _ in range(8)]
        for store in stores:
            await store.open()
        try:
            made = await asyncio.gather(
                *(
                    store.create_pairing(pairing("SAME", psid=f"u{n}"), now=0.0, max_pending=10)
                    for n, store in enumerate(stores)
                )
            )
            [kept] = [request for request in made if request is not None]
            assert await stores[0].list_pairings(now=1.0) == [kept]
            assert await stores[0].find_pairing("SAME") == kept
        finally:
            for store in stores:
                await store.close()
