"""Every command that opens the store, on Redis, beside a running `runtime serve`: pair,
send, outbox, sessions, handover; and a Unix socket URL."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.access.conftest import APPROVED_MESSAGE, STRANGER, bot_config, code_in, said
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.processes import Server, serve_command
from tests.fakes.webhooks import encode, signed_headers
from tests.messenger.conftest import APP_SECRET
from tests.redis.redis_bots import run, with_redis_state
from tests.redis_servers import RedisServer, start_server, unique_prefix

Capsys = pytest.CaptureFixture[str]


def post(server: Server, data: dict[str, object]) -> None:
    raw = encode(data)
    answer = httpx.post(
        server.url + "/webhook/messenger", content=raw, headers=signed_headers(raw, APP_SECRET)
    )
    assert answer.status_code == 200


def texts(graph: FakeGraphAPI, count: int) -> list[str | None]:
    """The texts of the first `count` messages the page sent (waiting for them)."""
    return [message.text for message in graph.wait_sync(count)]


def dead_letter_id(capsys: Capsys, config: Path, within: float = 10.0) -> str:
    """The id of the one dead letter `runtime outbox list` shows, once there is one."""
    deadline = time.monotonic() + within
    while True:
        code, out, err = run(capsys, "outbox", "list", "-c", str(config))
        assert code == 0, err
        lines = out.splitlines()
        if lines[1] == "1 dead letter:":
            return lines[3].split()[0]
        assert time.monotonic() < deadline, out
        time.sleep(0.05)


def test_the_owner_pairs_sends_retries_and_reads_beside_a_server_on_redis(
    tmp_path: Path,
    graph: FakeGraphAPI,
    start: Callable[..., Server],
    redis_server: RedisServer,
    capsys: Capsys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MESSENGER_GRAPH_API_BASE", graph.base_url)  # for runtime send
    prefix = unique_prefix()
    config = bot_config(tmp_path, "pairing", senderActions="false")
    with_redis_state(config, redis_server.url, prefix)
    c = ("-c", str(config))
    server = start(*serve_command(config))
    server.wait_ready()

    post(server, said("hi", psid=STRANGER))
    [pairing] = texts(graph, 1)
    code = code_in(pairing)
    listed = run(capsys, "pair", "list", "messenger", *c)
    assert listed[0] == 0, listed[2]
    [row] = listed[1].splitlines()[1:]
    assert row.split()[:3] == [code, "default", STRANGER]
    assert run(capsys, "pair", "approve", "messenger", code, *c)[0] == 0
    assert texts(graph, 2)[1] == APPROVED_MESSAGE  # sent by the server, from the outbox

    post(server, said("hi", psid=STRANGER))
    assert texts(graph, 3)[2] == "Hi there! What do you need?"
    sessions = run(capsys, "sessions", "list", *c)
    assert sessions[0] == 0, sessions[2]
    assert [line.split()[0] for line in sessions[1].splitlines()[1:]] == [STRANGER]
    sent = run(capsys, "send", "messenger", "--to", STRANGER, "--text", "Your order shipped", *c)
    assert sent[0] == 0, sent[2]
    assert texts(graph, 4)[3] == "Your order shipped"

    graph.error_next(100, message="(#100) invalid parameter")  # refused for good
    post(server, said("help", psid=STRANGER))
    dead = dead_letter_id(capsys, config)
    retried = run(capsys, "outbox", "retry", dead, *c)
    assert retried[0] == 0, retried[2]
    assert f"dead letter {dead} is back in the outbox" in retried[1]
    assert texts(graph, 5)[4] == "Help is on the way."
    assert run(capsys, "outbox", "list", *c)[1].splitlines() == [
        "0 messages waiting to be sent",
        "no dead letters",
    ]

    handovers = run(capsys, "handover", "list", "--json", *c)
    assert handovers[:2] == (0, "[]\n"), handovers[2]
    assert run(capsys, "pair", "block", "messenger", STRANGER, *c)[0] == 0
    refused = run(capsys, "send", "messenger", "--to", STRANGER, "--text", "Hello?", *c)
    assert refused[0] == 1
    assert f"{STRANGER} is blocked on account 'default'" in refused[2]

    assert server.stop() == 0
    assert f"state redis {redis_server.url} (prefix {prefix})" in server.log.read_text()


@pytest.fixture
def socket_server() -> Iterator[tuple[RedisServer, Path]]:
    """A redis-server listening on a Unix socket too, wanting a password."""
    folder = Path(tempfile.mkdtemp(prefix="redis-", dir="/tmp"))  # a socket path is short
    socket = folder / "redis.sock"
    server = start_server(
        folder, "--unixsocket", str(socket), "--unixsocketperm", "700", "--requirepass", "pw-42"
    )
    yield server, socket
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


def test_a_unix_socket_url_with_its_password(
    tmp_path: Path, socket_server: tuple[RedisServer, Path], capsys: Capsys
) -> None:
    _, socket = socket_server
    config = bot_config(tmp_path, "pairing")
    with_redis_state(config, f"unix://:pw-42@{socket}?db=2", unique_prefix())
    code, out, err = run(capsys, "pair", "list", "messenger", "-c", str(config))
    assert (code, out) == (0, "no pending pairing requests\n"), err
