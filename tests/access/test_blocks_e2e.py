"""Blocking end to end: a real server, signed webhooks, the fake Graph API, the real CLI."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.access.conftest import FRIEND, STRANGER, bot_config, code_in, drained, pair, said
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import running
from tests.messenger.conftest import APP_SECRET

WELCOME = "Hi there! What do you need?"
BYSTANDER = "2000000000000199"  # nobody blocks them: their answer shows the server works


@pytest.mark.parametrize("policy", ["open", "pairing", "allowlist"])
async def test_a_blocked_person_gets_nothing_under_any_policy_not_even_from_allow_from(
    tmp_path: Path,
    env: dict[str, str],
    graph: FakeGraphAPI,
    caplog: pytest.LogCaptureFixture,
    policy: str,
) -> None:
    caplog.set_level(logging.INFO, logger="runtime.worker")
    caplog.set_level(logging.DEBUG, logger="runtime.access")  # last: the handler's level too
    config = bot_config(tmp_path, policy)
    async with running(config, env=env) as server:
        for psid in (STRANGER, FRIEND):  # FRIEND is in allowFrom
            blocked = await pair(config, "block", "messenger", psid)
            assert blocked.returncode == 0, blocked.stderr
        for psid in (STRANGER, FRIEND, FRIEND):
            accepted = await server.post(said("hi", psid=psid), secret=APP_SECRET)
            assert accepted.status_code == 200  # accepted, so Meta does not send it again
        await server.post(said("hi", psid=BYSTANDER), secret=APP_SECRET)
        await drained(server)
    # the bystander gets the welcome (open) or a code (pairing); the blocked, nothing at all
    answered = {r.psid for r in graph.attempts()}
    assert answered == (set() if policy == "allowlist" else {BYSTANDER})
    blocked_lines = [
        r
        for r in caplog.records
        if r.name == "runtime.access" and r.getMessage().endswith("blocked; event dropped")
    ]
    assert [r.levelno for r in blocked_lines] == [logging.DEBUG] * 3
    # nothing about them at info level either: a block silences them in the log too
    info = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert not [line for line in info if STRANGER in line or FRIEND in line]
    assert [line for line in info if f"psid={BYSTANDER}" in line]


async def test_a_block_reaches_a_running_server_at_once_and_so_does_unblocking(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    config = bot_config(tmp_path, "open")
    async with running(config, env=env) as server:
        await server.post(said("hi", psid=STRANGER), secret=APP_SECRET)
        await graph.wait_for(1)
        await drained(server)
        blocked = await pair(config, "block", "messenger", STRANGER)
        assert blocked.stdout == (
            f"blocked {STRANGER} on account 'default': they get nothing from the bot (no reply, "
            "no pairing code, no sender action) until "
            f"`runtime pair unblock messenger {STRANGER} --account default`\n"
        )
        before = len(graph.attempts())
        await server.post(said("hello?", psid=STRANGER), secret=APP_SECRET)
        await drained(server)
        assert len(graph.attempts()) == before

        unblocked = await pair(config, "unblock", "messenger", STRANGER)
        assert unblocked.stdout == (
            f"unblocked {STRANGER} on account 'default': their next message reaches the bot\n"
        )
        await server.post(said("hi", psid=STRANGER), secret=APP_SECRET)
        await graph.wait_for(2)
        await drained(server)
    assert [r.text for r in graph.messages(STRANGER)] == [WELCOME, WELCOME]


async def test_deny_with_block_stops_the_new_code_a_plain_deny_would_bring(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    config = bot_config(tmp_path, "pairing")
    async with running(config, env=env) as server:
        await server.post(said("hi", psid=STRANGER), secret=APP_SECRET)
        [first] = await graph.wait_for(1)
        denied = await pair(config, "deny", "messenger", code_in(first.text))
        assert "they will get a new code if they write again; use --block to stop that" in (
            denied.stdout
        )
        await server.post(said("please?", psid=STRANGER), secret=APP_SECRET)
        second = (await graph.wait_for(2))[1]
        assert code_in(second.text) != code_in(first.text)

        blocked = await pair(config, "deny", "messenger", code_in(second.text), "--block")
        assert blocked.returncode == 0, blocked.stderr
        assert blocked.stdout == (
            f"denied pairing code {code_in(second.text)} of {STRANGER} on account 'default' and "
            "blocked them: they get nothing from the bot, not even a new code, until "
            f"`runtime pair unblock messenger {STRANGER} --account default`\n"
        )
        await server.post(said("pretty please?", psid=STRANGER), secret=APP_SECRET)
        await drained(server)
        listed = await pair(config, "list", "messenger", "--blocked")
    assert len(graph.attempts()) == 2
    header, row = listed.stdout.splitlines()
    assert header.split() == ["ACCOUNT", "PSID", "BLOCKED"]
    assert row.split()[:2] == ["default", STRANGER]
