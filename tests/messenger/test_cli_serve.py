"""`runtime serve`, the `sanic` command and `runtime send`, run as a user runs them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.webhooks import PSID, encode, signed_headers, text
from tests.messenger.conftest import APP_SECRET, TOKEN, VERIFY_TOKEN, single_page, write_bot


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, process: subprocess.Popen[str], port: int, log: Path) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{port}"
        self.log = log

    def wait_ready(self, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited early:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"the server did not answer within {within}s:\n{self.log.read_text()}")

    def stop(self, within: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=within)


@pytest.fixture
def start(tmp_path: Path, graph: FakeGraphAPI) -> Iterator[object]:
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


def post(server: Server, data: dict[str, object]) -> httpx.Response:
    raw = encode(data)
    return httpx.post(
        server.url + "/webhook/messenger", content=raw, headers=signed_headers(raw, APP_SECRET)
    )


def test_runtime_serve_answers_logs_each_account_and_stops_on_sigterm(
    tmp_path: Path, graph: FakeGraphAPI, start
) -> None:
    config = write_bot(tmp_path, single_page(name='"Main Page"'))
    server = start(sys.executable, "-m", "runtime", "serve", "-c", str(config), "--port", "{port}")
    server.wait_ready()
    challenge = httpx.get(
        server.url + "/webhook/messenger",
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "77"},
    )
    assert challenge.text == "77"
    assert post(server, text("hi")).status_code == 200
    [reply] = graph.wait_sync(1)
    assert reply.token == TOKEN
    assert server.stop() == 0
    log = server.log.read_text()
    expected = "account 'default' (Main Page): page 100000000000001, dmPolicy open, webhook "
    assert expected + "/webhook/messenger/default" in log
    assert TOKEN not in log
    assert APP_SECRET not in log


def test_two_workers_serve_the_same_bot(tmp_path: Path, graph: FakeGraphAPI, start) -> None:
    config = write_bot(tmp_path, single_page())
    server = start(
        sys.executable,
        "-m",
        "runtime",
        "serve",
        "-c",
        str(config),
        "--port",
        "{port}",
        "--workers",
        "2",
    )
    server.wait_ready()
    for number in range(6):
        assert post(server, text("help", psid=f"40{number}")).status_code == 200
    replies = graph.wait_sync(6, within=20)
    assert sorted(r.psid for r in replies) == [f"40{n}" for n in range(6)]
    assert server.stop() == 0


def test_a_broken_config_stops_serve_with_the_problem(tmp_path: Path) -> None:
    config = write_bot(tmp_path, 'pageAccessToken: "t", dmPolicy: "closed"')
    result = subprocess.run(
        [sys.executable, "-m", "runtime", "serve", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "channels.messenger.dmPolicy: unknown value 'closed'" in result.stderr


def test_the_sanic_command_serves_the_app_factory(
    tmp_path: Path, graph: FakeGraphAPI, start
) -> None:
    config = write_bot(tmp_path, single_page())
    server = start(
        sys.executable,
        "-m",
        "sanic",
        "runtime.server:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--single-process",
        env={"RUNTIME_CONFIG": str(config)},
    )
    server.wait_ready()
    assert post(server, text("help")).status_code == 200
    [reply] = graph.wait_sync(1)
    assert reply.text == "Help is on the way."
    server.stop()


def send(config: Path, graph: FakeGraphAPI, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runtime", "send", "messenger", "-c", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "MESSENGER_GRAPH_API_BASE": graph.base_url},
    )


def test_runtime_send_outside_the_window_needs_a_tag(tmp_path: Path, graph: FakeGraphAPI) -> None:
    config = write_bot(tmp_path, single_page())
    refused = send(config, graph, "--to", PSID, "--text", "Your order shipped.")
    assert refused.returncode == 1
    assert "outside the 24-hour window; a send outside it needs --tag" in refused.stderr
    assert graph.attempts() == []
    tagged = send(
        config,
        graph,
        "--to",
        PSID,
        "--text",
        "Your order shipped.",
        "--tag",
        "POST_PURCHASE_UPDATE",
    )
    assert tagged.returncode == 0, tagged.stderr
    [sent] = graph.messages()
    assert (sent.json["messaging_type"], sent.json["tag"], sent.text) == (
        "MESSAGE_TAG",
        "POST_PURCHASE_UPDATE",
        "Your order shipped.",
    )
    assert TOKEN not in tagged.stdout + tagged.stderr
