"""The Redis store on a real 3-node Redis Cluster: found at open, people on every node."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import MappingProxyType

import pytest

from runtime.session import Session, session_key
from runtime.store.redis_connection import RedisConnection
from runtime.store.redis_store import RedisStore
from tests.messenger.conftest import single_page, write_bot
from tests.redis.redis_bots import run, with_redis_state
from tests.redis_servers import RedisCluster, redis_binaries, unique_prefix

PEOPLE = [f"20000000000003{number:02d}" for number in range(9)]


def nodes_holding(cluster: RedisCluster, prefix: str) -> dict[str, int]:
    """PSID -> the node (0, 1, 2) holding their session, read from each node."""
    _, cli = redis_binaries()
    found: dict[str, int] = {}
    for node, server in enumerate(cluster.servers):
        for key in server.cli(cli, "--scan", "--pattern", f"{prefix}*:session:*").stdout.split():
            found[key.rpartition(":")[2]] = node
    return found


async def remember(url: str, prefix: str) -> None:
    """Each person's session and last message, written by one host."""
    store = RedisStore(url, prefix=prefix)
    await store.open()
    try:
        for number, psid in enumerate(PEOPLE):
            key = session_key("main", psid)
            answers = MappingProxyType({"size": number})
            at = 1_760_000_000.0 + number
            await store.save_session(
                Session(key=key, account_id="default", psid=psid, vars=answers, updated_at=at)
            )
            await store.record_inbound("default", psid, at)
    finally:
        await store.close()


async def read_back(url: str, prefix: str) -> dict[str, object]:
    """Each person's answer, read by another host."""
    store = RedisStore(url, prefix=prefix)
    await store.open()
    try:
        sessions = [await store.load_session(session_key("main", psid)) for psid in PEOPLE]
        return {s.psid: s.vars["size"] for s in sessions if s is not None}
    finally:
        await store.close()


async def is_cluster(url: str) -> bool:
    connection = RedisConnection(url)
    await connection.open()
    try:
        return connection.cluster
    finally:
        await connection.close()


def test_sessions_of_people_on_every_node_are_one_store(
    redis_cluster: RedisCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = unique_prefix()
    assert asyncio.run(is_cluster(redis_cluster.url))
    asyncio.run(remember(redis_cluster.url, prefix))
    assert sorted(set(nodes_holding(redis_cluster, prefix).values())) == [0, 1, 2]
    assert asyncio.run(read_back(redis_cluster.url, prefix)) == {
        psid: number for number, psid in enumerate(PEOPLE)
    }
    config = with_redis_state(write_bot(tmp_path, single_page()), redis_cluster.url, prefix)
    code, out, err = run(capsys, "sessions", "list", "-c", str(config))
    assert code == 0, err
    listed = [line.split()[0] for line in out.splitlines()[1:]]
    assert listed == PEOPLE  # oldest first, from all three nodes
