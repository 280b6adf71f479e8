"""The Redis store's calls leave in pipelines (runtime/store/redis_pipeline.py): each caller
gets its own answer and its own error, a script the server forgot is loaded again, a lost
server fails the calls it had and answers again when it is back. On a real redis-server and
a real 3-node cluster."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runtime.errors import StoreError
from runtime.store.base import Lease
from runtime.store.redis_connection import RedisConnection
from runtime.store.redis_pipeline import MAX_BATCH
from runtime.store.redis_store import RedisStore
from tests.redis_servers import RedisCluster, RedisServer, redis_binaries, unique_prefix
from tests.store.records import HOUR, inbound

# counts a key up, answers with it; refuses (an error of its own) when told to fail
COUNT = """
if ARGV[1] == 'fail' then return redis.error_reply('refused ' .. KEYS[1]) end
return {KEYS[1], redis.call('INCR', KEYS[1])}
"""


async def opened(url: str) -> RedisConnection:
    connection = RedisConnection(url)
    await connection.open()
    return connection


@pytest.fixture
async def on_server(redis_server: RedisServer) -> AsyncIterator[RedisConnection]:
    connection = await opened(redis_server.url)
    yield connection
    await connection.close()


def reads_processed(server: RedisServer) -> int:
    _, cli = redis_binaries()
    stats = server.cli(cli, "info", "stats").stdout
    line = next(line for line in stats.splitlines() if line.startswith("total_reads_processed:"))
    return int(line.split(":")[1])


async def count(connection: RedisConnection, key: str, verdict: str = "ok") -> list[object]:
    answer: list[object] = await connection.call(
        "count", connection.script(COUNT), [key], [verdict]
    )
    return answer


async def test_calls_made_at_once_each_get_their_own_answer_in_few_round_trips(
    on_server: RedisConnection, redis_server: RedisServer
) -> None:
    prefix = unique_prefix()
    keys = [f"{prefix}{{{n}}}" for n in range(MAX_BATCH + 100)]  # more than one pipeline
    await count(on_server, f"{prefix}warm")  # the script is known to the server
    before = reads_processed(redis_server)
    answers = await asyncio.gather(*(count(on_server, key) for key in keys))
    reads = reads_processed(redis_server) - before
    assert answers == [[key, 1] for key in keys]
    # one socket read a pipeline (a few more for a long one), not one a call
    assert reads < len(keys) / 20, f"{reads} reads for {len(keys)} calls"


async def test_one_call_alone_is_answered_at_once(on_server: RedisConnection) -> None:
    key = f"{unique_prefix()}alone"
    assert await asyncio.wait_for(count(on_server, key), 2) == [key, 1]
    assert await asyncio.wait_for(count(on_server, key), 2) == [key, 2]


async def test_a_failing_script_fails_its_own_caller_only(on_server: RedisConnection) -> None:
    prefix = unique_prefix()
    verdicts = ["fail" if n % 3 == 0 else "ok" for n in range(30)]
    answers = await asyncio.gather(
        *(count(on_server, f"{prefix}{n}", verdict) for n, verdict in enumerate(verdicts)),
        return_exceptions=True,
    )
    for n, (verdict, answer) in enumerate(zip(verdicts, answers, strict=True)):
        if verdict == "fail":
            assert isinstance(answer, StoreError)
            assert "cannot count in the Redis store" in str(answer)
            assert f"refused {prefix}{n}" in str(answer)
        else:
            assert answer == [f"{prefix}{n}", 1]


async def test_commands_and_scripts_share_a_pipeline(on_server: RedisConnection) -> None:
    prefix = unique_prefix()
    await on_server.run("set", on_server.client.set(f"{prefix}a", "1"))
    values, counted = await asyncio.gather(
        on_server.command("read", "MGET", f"{prefix}a", f"{prefix}b"),
        count(on_server, f"{prefix}c"),
    )
    assert values == ["1", None]
    assert counted == [f"{prefix}c", 1]


async def test_a_script_the_server_forgot_is_loaded_again(
    on_server: RedisConnection, redis_server: RedisServer
) -> None:
    prefix = unique_prefix()
    await count(on_server, f"{prefix}before")
    _, cli = redis_binaries()
    assert redis_server.cli(cli, "script", "flush").stdout.strip() == "OK"
    keys = [f"{prefix}{n}" for n in range(40)]
    answers = await asyncio.gather(*(count(on_server, key) for key in keys))
    assert answers == [[key, 1] for key in keys]  # each ran once: none twice, none lost


async def test_a_lost_server_fails_the_calls_then_answers_when_back(tmp_path: Path) -> None:
    from tests.redis_servers import start_server

    server = start_server(tmp_path)
    connection = await opened(server.url)
    try:
        assert await count(connection, "k") == ["k", 1]
        server.stop()
        answers = await asyncio.gather(
            *(count(connection, f"k{n}") for n in range(5)), return_exceptions=True
        )
        for answer in answers:
            assert isinstance(answer, StoreError)
            assert "does not answer" in str(answer)
        server.start()  # the same port, an empty server
        assert await count(connection, "k") == ["k", 1]
    finally:
        await connection.close()
        server.stop()


async def test_on_a_cluster_each_node_gets_its_share(redis_cluster: RedisCluster) -> None:
    connection = await opened(redis_cluster.url)
    try:
        prefix = unique_prefix()
        keys = [f"{prefix}{{{n}}}" for n in range(200)]  # spread over the three nodes' slots
        answers = await asyncio.gather(*(count(connection, key) for key in keys))
        assert answers == [[key, 1] for key in keys]
        failing = await asyncio.gather(
            count(connection, f"{prefix}{{x}}", "fail"),
            count(connection, f"{prefix}{{y}}"),
            return_exceptions=True,
        )
        assert isinstance(failing[0], StoreError)
        assert failing[1] == [f"{prefix}{{y}}", 1]
    finally:
        await connection.close()


async def test_accepts_made_at_once_share_their_round_trips(
    redis_server: RedisServer, prefix: str
) -> None:
    """A host's accepts do not wait for each other: 200 webhook POSTs at once, from 200
    people, each kept and leased, in far fewer socket reads than accepts (they once took
    one round trip each, in turn: about a hundred accepts a second at most)."""
    store = RedisStore(redis_server.url, prefix=prefix)
    await store.open()
    try:
        await store.accept_inbound([inbound("warm", "{}", "m-warm")], now=0, dedupe_ttl=HOUR)
        lease = Lease(worker="w1", now=1.0, until=1.0 + HOUR)
        before = reads_processed(redis_server)
        accepted = await asyncio.gather(
            *(
                store.accept_inbound(
                    [inbound(f"p{n}", "{}", f"m{n}")], now=1.0, dedupe_ttl=HOUR, lease=lease
                )
                for n in range(200)
            )
        )
        reads = reads_processed(redis_server) - before
        assert [len(one.ids) for one in accepted] == [1] * 200
        assert sorted(one.claimed[0].psid for one in accepted) == sorted(
            f"p{n}" for n in range(200)
        )
        ids = [one.ids[0] for one in accepted]
        assert len(set(ids)) == 200
        assert reads < 200 / 4, f"{reads} reads for 200 accepts"
    finally:
        await store.close()


async def test_calls_in_order_run_in_the_order_they_are_made(on_server: RedisConnection) -> None:
    """Made a few at a time over many turns of the loop, while earlier ones are on their
    way: the server still runs them in the order they were made (`accept_inbound` gives
    a sender's events their ids this way)."""
    key = f"{unique_prefix()}ordered"
    script = on_server.script(COUNT)
    await on_server.call("count", script, [key], ["ok"])  # known to the server: 1
    answers = []
    for n in range(300):
        answers.append(on_server.call_in_order("count", script, [key], ["ok"]))
        if n % 7 == 0:
            await asyncio.sleep(0)
    counted = await asyncio.gather(*answers)
    assert [number for _, number in counted] == list(range(2, 302))
