"""`runtime outbox list` / `retry`: dead letters seen and sent again, on the server's store."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from runtime.messenger.endpoints import PASS_THREAD_CONTROL
from runtime.store.base import NewOutbound
from runtime.store.sqlite import SQLiteStore
from tests.durability.conftest import echo_bot
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import running
from tests.fakes.webhooks import text
from tests.messenger.conftest import APP_SECRET, single_page, write_bot

BODY = json.dumps(
    {
        "recipient": {"id": "42"},
        "messaging_type": "RESPONSE",
        "message": {"text": "Your order shipped today, with love"},
    }
)


def runtime(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runtime", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def make_dead_letter(state: Path) -> int:
    store = SQLiteStore(state)
    await store.open()
    try:
        [message_id] = await store.enqueue_outbound(
            [NewOutbound(account_id="default", psid="42", body=BODY)], now=1000.0
        )
        await store.dead_letter_outbound(
            message_id, now=1000.0, error="(#100) invalid parameter [x]"
        )
        return message_id
    finally:
        await store.close()


def test_list_shows_the_dead_letters_and_retry_requeues_one(tmp_path: Path) -> None:
    config = echo_bot(tmp_path)
    dead = asyncio.run(make_dead_letter(tmp_path / ".runtime" / "state.db"))
    listing = runtime("outbox", "list", "-c", str(config))
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0] == "0 messages waiting to be sent"
    assert lines[1] == "1 dead letter:"
    assert lines[2].split() == ["ID", "ACCOUNT", "PSID", "FAILED", "TRIES", "MESSAGE", "ERROR"]
    assert lines[3].startswith(f"{dead}  ")
    assert '"Your order shipped today, with love"' in lines[3]
    assert lines[3].endswith("(#100) invalid parameter [x]")
    retried = runtime("outbox", "-c", str(config), "retry", str(dead))
    assert retried.returncode == 0, retried.stderr
    assert f"dead letter {dead} is back in the outbox" in retried.stdout
    after = runtime("outbox", "list", "-c", str(config)).stdout.splitlines()
    assert after == ["1 message waiting to be sent", "no dead letters"]


def test_a_dead_thread_control_call_is_listed_by_what_it_does(tmp_path: Path) -> None:
    config = echo_bot(tmp_path)
    asyncio.run(_dead_pass_thread_control(tmp_path / ".runtime" / "state.db"))
    listing = runtime("outbox", "list", "-c", str(config))
    assert listing.returncode == 0, listing.stderr
    [row] = listing.stdout.splitlines()[3:]
    assert "[pass_thread_control]" in row
    assert row.endswith("(#10) the app has no permission to pass threads")


async def _dead_pass_thread_control(state: Path) -> None:
    store = SQLiteStore(state)
    await store.open()
    try:
        body = json.dumps({"recipient": {"id": "42"}, "target_app_id": "263902037430900"})
        call = NewOutbound(account_id="default", psid="42", body=body, endpoint=PASS_THREAD_CONTROL)
        [message_id] = await store.enqueue_outbound([call], now=1000.0)
        await store.dead_letter_outbound(
            message_id, now=1000.0, error="(#10) the app has no permission to pass threads"
        )
    finally:
        await store.close()


def test_retrying_an_unknown_id_says_which_there_are(tmp_path: Path) -> None:
    config = echo_bot(tmp_path)
    dead = asyncio.run(make_dead_letter(tmp_path / ".runtime" / "state.db"))
    result = runtime("outbox", "retry", "999", "-c", str(config))
    assert result.returncode == 1
    assert f"runtime outbox retry: no dead letter 999; dead letters: {dead}" in result.stderr


async def test_a_retried_dead_letter_is_sent_by_the_running_server(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    config = echo_bot(tmp_path)
    graph.error_next(100, message="(#100) No matching user found")
    async with running(config, env=env) as server:
        await server.post(text("first"), secret=APP_SECRET)
        store = server.app.ctx.runtime.store
        for _ in range(500):
            dead = await store.list_dead_letters()
            if dead:
                break
            await asyncio.sleep(0.01)
        [letter] = dead
        result = await asyncio.to_thread(
            runtime, "outbox", "retry", str(letter.id), "-c", str(config)
        )
        assert result.returncode == 0, result.stderr
        [sent] = await graph.wait_for(1)
    assert sent.text == "You said: first"


def test_commands_refuse_the_memory_backend(tmp_path: Path) -> None:
    config = write_bot(tmp_path, single_page())
    config.write_text(
        config.read_text().replace(
            "flows: 'flows/'", "flows: 'flows/', state: { backend: 'memory' }"
        )
    )
    for args in (
        ("outbox", "list"),
        ("pair", "list", "messenger"),
        ("send", "messenger", "--to", "1", "--text", "hi"),
    ):
        result = runtime(*args, "-c", str(config))
        assert result.returncode == 1
        assert "state.backend 'memory' lives inside the server process" in result.stderr
    serve = runtime("serve", "-c", str(config), "--workers", "2")
    assert serve.returncode == 2
    assert "each worker would have its own" in serve.stderr
