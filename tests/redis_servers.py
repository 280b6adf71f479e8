"""Real Redis servers for the tests: Debian's `redis-server`, started on free loopback ports.

No fakeredis: the store's Lua scripts, expiries and cluster slots are Redis's own. Where
`redis-server` is not installed the tests that need it are skipped with one line saying
what to install, unless RUNTIME_REQUIRE_REDIS=1 (what `.ci/run` sets after installing it),
which makes its absence a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fakes.processes import free_port

REQUIRE = "RUNTIME_REQUIRE_REDIS"
INSTALL = "redis-server is not installed: apt-get install redis-server to run the Redis tests"
START_WITHIN = 10.0
CLUSTER_PORT_MAX = 55535  # a cluster node's bus port, port + 10000, must be a port


def redis_binaries() -> tuple[str, str]:
    """The paths of redis-server and redis-cli; a skip (or a failure, when required)."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server is None or cli is None:
        if os.environ.get(REQUIRE) == "1":
            pytest.fail(f"{INSTALL} ({REQUIRE}=1 says they must run here)")
        pytest.skip(INSTALL)
    return server, cli


@dataclass
class RedisServer:
    """One redis-server process on a loopback port, its data only in memory."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None
    options: tuple[str, ...] = ()
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.folder / f"redis-{self.port}.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        server, cli = redis_binaries()
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [
            server,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.folder),
            "--logfile", str(self.log),
            *self.options,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            self.wait_ready(cli)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, cli: str) -> None:
        deadline = time.monotonic() + START_WITHIN
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} exited: {self.tail()}")
            # a server started with --requirepass answers NOAUTH: up all the same
            if self.cli(cli, "ping").stdout.strip().startswith(("PONG", "NOAUTH")):
                return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not answer: {self.tail()}")

    def cli(self, cli: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [cli, "-p", str(self.port), *args], capture_output=True, text=True, check=False
        )

    def tail(self) -> str:
        return self.log.read_text()[-2000:] if self.log.exists() else "(no log)"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@dataclass
class RedisCluster:
    """A Redis Cluster of `nodes` primaries (no replicas) on loopback ports."""

    servers: list[RedisServer]

    @property
    def url(self) -> str:
        return self.servers[0].url

    def start(self) -> RedisCluster:
        _, cli = redis_binaries()
        for server in self.servers:
            server.start()
        addresses = [f"127.0.0.1:{server.port}" for server in self.servers]
        made = subprocess.run(
            [cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            text=True,
            check=False,
        )
        if made.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {made.stdout}{made.stderr}")
        deadline = time.monotonic() + START_WITHIN
        while time.monotonic() < deadline:
            states = [server.cli(cli, "cluster", "info").stdout for server in self.servers]
            if all("cluster_state:ok" in state for state in states):
                return self
            time.sleep(0.1)
        raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def start_server(folder: Path, *options: str) -> RedisServer:
    return RedisServer(free_port(), folder, options=options).start()


def free_cluster_port() -> int:
    """A free port for a cluster node: its bus listens on port + 10000, which must exist
    (redis-server refuses a port above 55535; the kernel hands out ports up to 60999)."""
    while (port := free_port()) > CLUSTER_PORT_MAX:
        pass
    return port


def start_cluster(folder: Path, nodes: int = 3) -> RedisCluster:
    servers = [
        RedisServer(free_cluster_port(), folder / f"node-{n}", options=("--cluster-enabled", "yes"))
        for n in range(nodes)
    ]
    for server in servers:
        server.options = (
            *server.options,
            "--cluster-config-file",
            str(server.folder / "nodes.conf"),
        )
    return RedisCluster(servers).start()


def unique_prefix() -> str:
    """A key prefix of its own for one test: tests share a server, never a key."""
    return f"test-{uuid.uuid4().hex[:12]}:"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the whole run (of this xdist worker); tests use their own prefix."""
    server = start_server(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """A 3-node Redis Cluster for the whole run (of this xdist worker)."""
    cluster = start_cluster(tmp_path_factory.mktemp("redis-cluster"))
    yield cluster
    cluster.stop()
