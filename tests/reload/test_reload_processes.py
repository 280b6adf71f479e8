"""Reload across processes: every worker of `runtime serve --workers 2`, and SIGHUP."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.processes import Server, serve_command
from tests.fakes.webhooks import encode, signed_headers, text
from tests.messenger.conftest import APP_SECRET, single_page, write_bot
from tests.reload.test_hot_reload import flows

# SIGHUPs sent to `runtime serve --workers 2`, a fresh /healthz request after each burst
BURSTS = 1500
SIGHUPS_PER_BURST = 10


def versions(server: Server, count: int) -> set[str]:
    """The versions `count` fresh connections report (each may reach another worker)."""
    seen = set()
    for _ in range(count):
        with httpx.Client() as client:
            seen.add(client.get(server.url + "/healthz", timeout=5).json()["version"])
    return seen


def wait_for_all(server: Server, version_not: str, *, within: float = 15.0) -> str:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        seen = versions(server, 12)
        if version_not not in seen and len(seen) == 1:
            return seen.pop()
        time.sleep(0.05)
    raise AssertionError(f"workers still report {versions(server, 12)}")


def test_every_worker_reloads(tmp_path: Path, start) -> None:
    config = write_bot(tmp_path, single_page(), flows=flows())
    server = start(*serve_command(config, "--workers", "2"))
    server.wait_ready()
    [old] = versions(server, 6)
    (tmp_path / "flows" / "main.json5").write_text(flows(greeting="Hello v2"))
    new = wait_for_all(server, old)
    assert new != old
    assert server.stop() == 0


def test_no_reload_ignores_edits_but_sighup_reloads(tmp_path: Path, start) -> None:
    config = write_bot(tmp_path, single_page(), flows=flows())
    server = start(*serve_command(config, "--no-reload"))
    server.wait_ready()
    [old] = versions(server, 2)
    (tmp_path / "flows" / "main.json5").write_text(flows(greeting="Hello v2"))
    time.sleep(1.0)  # settle: a watcher would have reloaded by now
    assert versions(server, 2) == {old}
    server.process.send_signal(signal.SIGHUP)
    assert wait_for_all(server, old) != old
    assert server.stop() == 0


def test_sighup_to_the_main_process_reloads_every_worker(tmp_path: Path, start) -> None:
    config = write_bot(tmp_path, single_page(), flows=flows())
    server = start(*serve_command(config, "--workers", "2", "--no-reload"))
    server.wait_ready()
    [old] = versions(server, 6)
    (tmp_path / "flows" / "main.json5").write_text(flows(greeting="Hello v2"))
    server.process.send_signal(signal.SIGHUP)
    assert wait_for_all(server, old) != old
    assert server.process.poll() is None  # the main process is still there
    assert server.stop() == 0


def test_sighups_while_workers_start_kill_nothing(tmp_path: Path, start) -> None:
    config = write_bot(tmp_path, single_page(), flows=flows())
    server = start(*serve_command(config, "--workers", "2", "--no-reload"))
    deadline = time.monotonic() + 30
    while "serving on" not in server.log.read_text():  # logged as it starts its workers
        assert time.monotonic() < deadline
        assert server.process.poll() is None
        time.sleep(0.01)
    while time.monotonic() < deadline and server.process.poll() is None:
        server.process.send_signal(signal.SIGHUP)  # a worker starting must not die of it
        try:
            if len(versions(server, 6)) == 1:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    server.wait_ready()
    for _ in range(5):
        server.process.send_signal(signal.SIGHUP)
        time.sleep(0.05)
    assert len(versions(server, 12)) == 1  # both workers up, on one version
    assert server.stop() == 0


def test_sighups_to_the_main_process_refuse_no_connection(tmp_path: Path, start) -> None:
    """Bursts of SIGHUPs, each followed by a request on a fresh connection: all answered.

    The main process's SIGHUP handler once asked Sanic's state manager which workers were
    up, over the connection Sanic's own monitor loop was in the middle of using: the two
    took each other's replies, the monitor loop died, and Sanic shut the listening socket
    down (every later connection refused or reset) while both workers lived on. It takes a
    SIGHUP during one of the monitor's round trips: before the fix, 12 runs out of 12 lost
    the socket, after 190 to 3,160 SIGHUPs; 15,000 leave little to chance.
    """
    config = write_bot(tmp_path, single_page(), flows=flows())
    server = start(*serve_command(config, "--workers", "2", "--no-reload"))
    server.wait_ready()
    # one client, no keep-alive: a fresh connection for every request
    client = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), timeout=5)
    sent = 0
    with client:
        for request in range(BURSTS):
            for _ in range(SIGHUPS_PER_BURST):
                server.process.send_signal(signal.SIGHUP)
                sent += 1
            try:
                status = client.get(server.url + "/healthz").status_code
            except httpx.TransportError as err:
                log = server.log.read_text()
                pytest.fail(f"request {request}, after {sent} SIGHUPs: {err!r}\n{log}")
            assert status == 200
    assert server.process.poll() is None
    assert server.stop() == 0
    assert "Experienced exception" not in server.log.read_text()  # Sanic's monitor loop died


def test_a_sighup_while_the_server_drains_ends_nothing(
    tmp_path: Path, graph: FakeGraphAPI, start
) -> None:
    """SIGTERM, then a SIGHUP while the reply in flight is still being sent: the server
    finishes sending it and exits 0 (asyncio used to give SIGHUP its default action back
    when the server stopped reloading, and the SIGHUP ended the process mid-drain)."""
    config = write_bot(tmp_path, single_page(senderActions="false"), flows=flows())
    server = start(*serve_command(config))
    server.wait_ready()
    graph.reply_next(delay=3.0)  # the reply stays in flight while the server stops
    raw = encode(text("hi"))
    answer = httpx.post(
        server.url + "/webhook/messenger", content=raw, headers=signed_headers(raw, APP_SECRET)
    )
    assert answer.status_code == 200
    deadline = time.monotonic() + 10
    while not graph.attempts():  # the reply has reached the (slow) Graph API
        assert time.monotonic() < deadline, server.log.read_text()
        time.sleep(0.02)
    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)  # the server has begun to stop: it drains its senders for up to 5 s
    server.process.send_signal(signal.SIGHUP)
    assert server.stop() == 0, server.log.read_text()
    assert [message.text for message in graph.messages()] == ["Hello v1"]
