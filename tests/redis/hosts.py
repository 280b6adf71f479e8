"""Several `runtime serve` hosts on one Redis, and the load balancer in front of them.

A host is a real process. `runtime serve` leases claimed work for two minutes; a host
started with a `lease` runs the same app through Sanic's own command
(`sanic tests.redis.hosts:short_lease_app --factory`) with leases that short, so that
what a killed host held is taken over within the test.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sanic import Sanic

from runtime.server import create_app
from tests.durability.conftest import echo_bot
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.processes import Server, serve_command
from tests.fakes.webhooks import encode, signed_headers, text
from tests.messenger.conftest import APP_SECRET
from tests.redis.redis_bots import with_redis_state

LEASE_VARIABLE = "TEST_HOST_LEASE"  # the lease of a host `short_lease_app` makes, in seconds
Start = Callable[..., Server]  # the `start` fixture of tests/conftest.py


def echo_bot_on_redis(directory: Path, url: str, prefix: str) -> Path:
    """The echo bot (`You said: <text>`) keeping its state on the Redis at `url`."""
    return with_redis_state(echo_bot(directory), url, prefix)


def short_lease_app() -> Sanic[Any, Any]:
    """The app of `$RUNTIME_CONFIG` with leases of `$TEST_HOST_LEASE` seconds (Sanic's
    `--factory`)."""
    return create_app(lease=float(os.environ[LEASE_VARIABLE]))


def start_host(start: Start, config: Path, *, lease: float | None = None) -> Server:
    """A host serving `config`, ready: `runtime serve`, or the same app with leases of
    `lease` seconds."""
    if lease is None:
        server = start(*serve_command(config))
    else:
        server = start(
            sys.executable,
            "-m",
            "sanic",
            f"{__name__}:short_lease_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--single-process",
            "--no-motd",
            env={
                "RUNTIME_CONFIG": str(config),
                LEASE_VARIABLE: str(lease),
                "PYTHONPATH": str(Path.cwd()),
            },
        )
    server.wait_ready()
    return server


class LoadBalancer:
    """Sends each POST to the host asked for; a host that does not answer is taken out of
    the rotation and the POST goes to the next one, as a load balancer's health check would.

    Remembers which host answered 200 to each message (`accepted`), by its text.
    """

    def __init__(self, hosts: list[Server]) -> None:
        self.hosts = hosts
        self.down: set[int] = set()
        self.accepted: dict[str, int] = {}  # message text -> index of the host that kept it
        self._lock = threading.Lock()

    def post(self, client: httpx.Client, message: str, psid: str, *, host: int) -> int:
        """POST `message` from `psid` to host number `host` (the next live one if it is
        down); the status of the answer that ended it, 200 once one host kept it. A message
        posted again has the same message id, as Meta's redeliveries have."""
        raw = encode(text(message, psid=psid, mid=f"m_{message}"))
        for turn in range(len(self.hosts)):
            index = (host + turn) % len(self.hosts)
            if index in self.down:
                continue
            try:
                answer = client.post(
                    self.hosts[index].url + "/webhook/messenger",
                    content=raw,
                    headers=signed_headers(raw, APP_SECRET),
                )
            except httpx.TransportError:
                with self._lock:
                    self.down.add(index)
                continue  # the same body (and mid) again: a host that kept it dedupes it
            if answer.status_code == 200:
                with self._lock:
                    self.accepted[message] = index
            return answer.status_code
        raise AssertionError(f"no host is up to take {message!r}")

    def accepted_by(self, host: int) -> set[str]:
        with self._lock:
            return {message for message, index in self.accepted.items() if index == host}

    def count(self) -> int:
        with self._lock:
            return len(self.accepted)


class People:
    """Each person in a thread of their own, sending `per_person` messages one after the
    other (each kept before the next goes), each to the host after the one that took their
    last: `<psid>-<number>`. `join` raises what went wrong in a thread."""

    def __init__(self, balancer: LoadBalancer, people: list[str], per_person: int) -> None:
        self._balancer = balancer
        self._failures: list[str] = []
        self._threads = [
            threading.Thread(target=self._send, args=(index, psid, per_person), daemon=True)
            for index, psid in enumerate(people)
        ]

    def start(self) -> People:
        for thread in self._threads:
            thread.start()
        return self

    def join(self, within: float = 60.0) -> None:
        for thread in self._threads:
            thread.join(timeout=within)
            assert not thread.is_alive(), "a person's messages were still being sent"
        assert not self._failures, self._failures

    def _send(self, index: int, psid: str, per_person: int) -> None:
        try:
            with httpx.Client(timeout=10) as client:
                for number in range(per_person):
                    message = f"{psid}-{number}"
                    status = self._balancer.post(client, message, psid, host=index + number)
                    if status != 200:
                        self._failures.append(f"{message} was answered {status}")
                        return
        except Exception as err:  # said by join, in the test's thread
            self._failures.append(f"{psid}: {err!r}")


def replies(graph: FakeGraphAPI, psid: str) -> list[str]:
    """The texts the Graph API took for `psid`, in the order it took them."""
    return [message.text or "" for message in graph.messages(psid)]
