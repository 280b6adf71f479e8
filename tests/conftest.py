"""Fixtures shared by every test: writing config files into a temporary folder."""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.processes import Server, free_port

# the tests read the text format of the logs; a developer's shell may choose json for its own
# servers (runtime/logs.py), which the servers the tests start would otherwise inherit
os.environ.pop("RUNTIME_LOG_FORMAT", None)

WriteConfig = Callable[..., Path]

pytest_plugins = ["tests.redis_servers"]  # the `redis_server` and `redis_cluster` fixtures


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Each reason tests were skipped for, once, with how many (a machine without
    redis-server skips every Redis test for one reason: one line says what to install)."""
    reasons: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    for reason, tests in reasons.most_common():
        terminalreporter.write_line(f"{tests} skipped: {reason}")


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    """Write `text` as a config file (default `config.json5`) in a fresh folder; return its path."""

    def write(text: str, name: str = "config.json5") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def graph() -> Iterator[FakeGraphAPI]:
    """A fake Graph API on a loopback port, recording every request."""
    fake = FakeGraphAPI().start()
    yield fake
    fake.stop()


@pytest.fixture
def env(graph: FakeGraphAPI) -> dict[str, str]:
    """The environment that points a bot at the fake Graph API."""
    return {"MESSENGER_GRAPH_API_BASE": graph.base_url}


@pytest.fixture
def start(tmp_path: Path, graph: FakeGraphAPI) -> Iterator[Callable[..., Server]]:
    """Start a server command in its own process (`{port}` in it becomes a free port),
    pointed at the fake Graph API; every one still running is killed after the test."""
    started: list[Server] = []

    def run(*command: str, env: dict[str, str] | None = None) -> Server:
        port = free_port()
        log = tmp_path / f"server-{len(started)}.log"
        environ = {**os.environ, "MESSENGER_GRAPH_API_BASE": graph.base_url, **(env or {})}
        args = [arg.replace("{port}", str(port)) for arg in command]
        with log.open("w") as out:
            process = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, env=environ, text=True
            )
        server = Server(process, port, log)
        started.append(server)
        return server

    yield run
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=10)
