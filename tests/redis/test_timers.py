"""Flows' timers on Redis, through real `runtime serve` hosts: many people's delays falling
due together on two hosts fire once each (on a Cluster), and a host killed with `kill -9`
while its people's timers wait leaves them to the other host (on one server)."""

from __future__ import annotations

import re
import signal
import time
from collections import Counter
from pathlib import Path

from tests.fakes.graph_api import FakeGraphAPI
from tests.handover.conftest import said
from tests.redis.hosts import Start, start_host
from tests.redis.redis_bots import with_redis_state
from tests.redis_servers import RedisCluster, RedisServer, unique_prefix
from tests.timers.conftest import (
    SETTLE,
    TOUR_REST,
    TOUR_START,
    arrived_sync,
    outbox_emptied,
    post_to,
    timer_bot,
)

PEOPLE = [f"93000000000{number:03d}" for number in range(60)]
FIRED = re.compile(r"timer account=default psid=(\d+) fired=delay")


def timers_on_redis(directory: Path, url: str, wait: str = "3s") -> Path:
    """The timer flows' bot (`tests/timers/conftest.py`), its delays `wait`, state on Redis."""
    return with_redis_state(timer_bot(directory, wait=wait), url, unique_prefix())


def test_delays_falling_due_together_on_two_hosts_fire_once_each(
    tmp_path: Path, redis_cluster: RedisCluster, graph: FakeGraphAPI, start: Start
) -> None:
    """On a 3-node Cluster: the people's keys on every node, the timers' index on one."""
    config = timers_on_redis(tmp_path, redis_cluster.url)
    hosts = [start_host(start, config), start_host(start, config)]
    for number, psid in enumerate(PEOPLE):
        post_to(hosts[number % 2], said("tour", psid=psid))
    arrived_sync(graph, TOUR_START, len(PEOPLE))
    arrived_sync(graph, TOUR_REST, len(PEOPLE))
    time.sleep(SETTLE)  # a second firing would have come by now
    for host in hosts:
        assert host.stop() == 0
    rests = Counter(message.psid for message in graph.messages() if message.text == TOUR_REST)
    assert rests == Counter(PEOPLE)  # each person's once
    fired = Counter(psid for host in hosts for psid in FIRED.findall(host.log.read_text()))
    assert fired == Counter(PEOPLE)  # each timer became one event, one turn


def test_a_killed_hosts_waiting_timers_fire_on_the_other_host(
    tmp_path: Path, redis_server: RedisServer, graph: FakeGraphAPI, start: Start
) -> None:
    # long enough that no delay falls due before the kill, even on a busy machine: a timer
    # the doomed host fired and held would wait out its lease (2 minutes) on the survivor
    config = timers_on_redis(tmp_path, redis_server.url, wait="8s")
    doomed, survivor = start_host(start, config), start_host(start, config)
    for psid in PEOPLE[:10]:
        post_to(doomed, said("tour", psid=psid))
    arrived_sync(graph, TOUR_START, 10)
    # the replies crossed off first: a reply the doomed host sent but still held would hold
    # its person's timer back for the lease's 2 minutes (README: Restarts)
    outbox_emptied(config)
    doomed.process.send_signal(signal.SIGKILL)  # before any delay falls due
    doomed.process.wait(timeout=10)
    assert TOUR_REST not in {message.text for message in graph.messages()}
    arrived_sync(graph, TOUR_REST, 10)
    time.sleep(SETTLE)
    assert survivor.stop() == 0
    rests = Counter(message.psid for message in graph.messages() if message.text == TOUR_REST)
    assert rests == Counter(PEOPLE[:10])
    assert Counter(FIRED.findall(survivor.log.read_text())) == Counter(PEOPLE[:10])
