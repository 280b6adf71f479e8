"""Timers on the Redis store: a delay's rest and an ask's timeout arrive through the real
server (one Redis server, and a Cluster); two hosts on one Redis fire each of many timers
falling due together once."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from tests.access.conftest import drained
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import running
from tests.fakes.webhooks import PSID
from tests.handover.conftest import said
from tests.messenger.conftest import APP_SECRET
from tests.redis.hosts import Start, start_host
from tests.redis.redis_bots import with_redis_state
from tests.redis_servers import RedisCluster, RedisServer, unique_prefix
from tests.timers.conftest import (
    FIRED_DELAY,
    NUDGE,
    SETTLE,
    TOUR_REST,
    TOUR_START,
    arrived_sync,
    arrives,
    no_timers_left,
    post_to,
    texts,
    timer_bot,
    tours,
)

PEOPLE = [f"41000000000{number:05d}" for number in range(100)]


@pytest.mark.parametrize("redis", ["redis_server", "redis_cluster"])
async def test_a_delay_and_an_ask_timeout_on_redis(
    redis: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    env: dict[str, str],
    graph: FakeGraphAPI,
) -> None:
    server: RedisServer | RedisCluster = request.getfixturevalue(redis)
    config = with_redis_state(timer_bot(tmp_path), server.url, unique_prefix())
    other = "2000000000000002"
    async with running(config, env=env) as app:
        await app.post(said("tour"), secret=APP_SECRET)
        await app.post(said("signup", psid=other), secret=APP_SECRET)
        await arrives(graph, TOUR_REST)
        await arrives(graph, NUDGE, psid=other)
        await no_timers_left(app)
        await drained(app)
    assert texts(graph, PSID) == [TOUR_START, TOUR_REST]
    assert texts(graph, other) == ["Your email?", NUDGE]


def test_two_hosts_on_one_redis_fire_each_timer_once(
    tmp_path: Path, redis_server: RedisServer, graph: FakeGraphAPI, start: Start
) -> None:
    config = with_redis_state(timer_bot(tmp_path, wait="3s"), redis_server.url, unique_prefix())
    hosts = [start_host(start, config), start_host(start, config)]
    for number, host in enumerate(hosts):
        post_to(host, tours(PEOPLE[number :: len(hosts)]))
    arrived_sync(graph, TOUR_START, len(PEOPLE))
    arrived_sync(graph, TOUR_REST, len(PEOPLE))
    time.sleep(SETTLE)  # a second firing would have come by now
    for host in hosts:
        assert host.stop() == 0
    rests = Counter(message.psid for message in graph.messages() if message.text == TOUR_REST)
    assert rests == Counter(PEOPLE)
    fired = Counter(psid for host in hosts for psid in FIRED_DELAY.findall(host.log.read_text()))
    assert fired == Counter(PEOPLE)
