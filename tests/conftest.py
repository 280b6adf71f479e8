"""Fixtures shared by every test: writing config files into a temporary folder."""

from __future__ import annotations

import contextlib
import os
import signal
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


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: what `-n auto` means
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Two test processes a core, not one: most tests wait, on a server in another process,
    a socket or a timer, and one process a core left a third of the CPU idle (the whole
    suite on 2 cores: 10 minutes with 2 processes, 8 with 4)."""
    affinity = getattr(os, "sched_getaffinity", None)  # Linux: the cores this process may use
    cores = len(affinity(0)) if affinity is not None else os.cpu_count() or 1
    return 2 * cores


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
    pointed at the fake Graph API; every one still running is killed after the test, with
    its workers (each server leads a process group of its own: a `--workers 2` server killed
    alone would leave its two workers serving on, past the end of the suite)."""
    started: list[Server] = []

    def run(*command: str, env: dict[str, str] | None = None) -> Server:
        port = free_port()
        log = tmp_path / f"server-{len(started)}.log"
        environ = {**os.environ, "MESSENGER_GRAPH_API_BASE": graph.base_url, **(env or {})}
        args = [arg.replace("{port}", str(port)) for arg in command]
        with log.open("w") as out:
            process = subprocess.Popen(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=environ,
                text=True,
                start_new_session=True,
            )
        server = Server(process, port, log)
        started.append(server)
        return server

    yield run
    for server in started:
        with contextlib.suppress(ProcessLookupError):  # every process of it has ended
            os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
