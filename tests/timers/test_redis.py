"""Timers on the Redis store: a delay's rest and an ask's timeout arrive through the real
server (one Redis server, and a Cluster). Two hosts on a Cluster firing many timers at
once, and a host killed with timers pending: tests/redis/test_timers.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.access.conftest import drained
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import running
from tests.fakes.webhooks import PSID
from tests.handover.conftest import said
from tests.messenger.conftest import APP_SECRET
from tests.redis.redis_bots import with_redis_state
from tests.redis_servers import RedisCluster, RedisServer, unique_prefix
from tests.timers.conftest import (
    NUDGE,
    TOUR_REST,
    TOUR_START,
    arrives,
    no_timers_left,
    texts,
    timer_bot,
)


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
