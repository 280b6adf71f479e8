"""`runtime serve`, the `sanic` command and `runtime send`, run as a user runs them."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.permissions import bound_by_file_modes, unreadable
from tests.fakes.processes import Server, serve_command
from tests.fakes.webhooks import PSID, encode, signed_headers, text
from tests.messenger.conftest import APP_SECRET, TOKEN, VERIFY_TOKEN, single_page, write_bot


def post(server: Server, data: dict[str, object]) -> httpx.Response:
    raw = encode(data)
    return httpx.post(
        server.url + "/webhook/messenger", content=raw, headers=signed_headers(raw, APP_SECRET)
    )


def test_runtime_serve_answers_logs_each_account_and_stops_on_sigterm(
    tmp_path: Path, graph: FakeGraphAPI, start
) -> None:
    config = write_bot(tmp_path, single_page(name='"Main Page"'))
    server = start(*serve_command(config))
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


def test_two_workers_serve_the_same_bot_and_stop_when_the_main_process_is_killed(
    tmp_path: Path, graph: FakeGraphAPI, start
) -> None:
    config = write_bot(tmp_path, single_page())
    server = start(*serve_command(config, "--workers", "2"))
    server.wait_ready()
    for number in range(6):
        assert post(server, text("help", psid=f"40{number}")).status_code == 200
    replies = graph.wait_sync(6, within=20)
    assert sorted(r.psid for r in replies) == [f"40{n}" for n in range(6)]

    # kill -9 of the main process alone: its workers see it, finish and stop
    workers = _worker_pids(server, 2)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in workers):
        assert time.monotonic() < deadline, f"workers left serving:\n{server.log.read_text()}"
        time.sleep(0.1)
    assert server.log.read_text().count("the main process (pid ") == 2
    with socket.socket() as listener:  # the port is free for the next server
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", int(server.url.rsplit(":", 1)[1])))


def _worker_pids(server: Server, count: int) -> list[int]:
    deadline = time.monotonic() + 10
    while len(pids := re.findall(r"Starting worker \[(\d+)\]", server.log.read_text())) < count:
        assert time.monotonic() < deadline, server.log.read_text()
        time.sleep(0.05)
    return [int(pid) for pid in pids]


def _alive(pid: int) -> bool:
    """Whether `pid` still runs (an orphan nobody reaped is a zombie: it does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def test_a_sigterm_while_the_workers_start_stops_the_server(tmp_path: Path, start) -> None:
    config = write_bot(tmp_path, single_page())
    server = start(*serve_command(config, "--workers", "2"))
    deadline = time.monotonic() + 30
    while "Starting worker" not in server.log.read_text():
        assert time.monotonic() < deadline, server.log.read_text()
        time.sleep(0.01)
    # Sanic's manager alone waited forever for the stopped worker to say it was up
    assert server.stop() == 0
    assert "Traceback" not in server.log.read_text()


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


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_flow_link_to_nothing_stops_serve_with_exit_2(tmp_path: Path, workers: str) -> None:
    config = write_bot(tmp_path, single_page())
    (tmp_path / "flows" / "gone.json5").symlink_to("nowhere.json5")
    result = subprocess.run(
        [sys.executable, "-m", "runtime", "serve", "-c", str(config), "--workers", workers],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    [line] = [line for line in result.stderr.splitlines() if "gone.json5" in line]
    assert line.endswith(
        "flows/gone.json5: cannot read: No such file or directory (it is a symbolic link to "
        "'nowhere.json5', which does not exist); restore the target or remove the link"
    )
    assert "Traceback" not in result.stderr


def test_a_token_file_serve_may_not_read_stops_it_with_exit_2(tmp_path: Path) -> None:
    config = write_bot(tmp_path, single_page(pageAccessToken="", tokenFile='"page.token"'))
    (tmp_path / "page.token").write_text(TOKEN)
    with unreadable(tmp_path / "page.token"):
        result = subprocess.run(
            bound_by_file_modes(sys.executable, "-m", "runtime", "serve", "-c", str(config)),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{config}:1:144: channels.messenger.tokenFile: cannot read 'page.token': Permission"
        " denied; "
        "give the user running the runtime read access to it"
    ]
    assert TOKEN not in result.stdout + result.stderr


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
    retired = send(config, graph, "--to", PSID, "--text", "Shipped.", "--tag", "ACCOUNT_UPDATE")
    assert retired.returncode == 1
    assert "Meta retired the ACCOUNT_UPDATE tag on April 27, 2026" in retired.stderr
    assert graph.attempts() == []
    tagged = send(
        config,
        graph,
        "--to",
        PSID,
        "--text",
        "Your order shipped.",
        "--tag",
        "NON_PROMOTIONAL_SUBSCRIPTION",
    )
    assert tagged.returncode == 0, tagged.stderr
    [sent] = graph.messages()
    assert (sent.json["messaging_type"], sent.json["tag"], sent.text) == (
        "MESSAGE_TAG",
        "NON_PROMOTIONAL_SUBSCRIPTION",
        "Your order shipped.",
    )
    assert TOKEN not in tagged.stdout + tagged.stderr
