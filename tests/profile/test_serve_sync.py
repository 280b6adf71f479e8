"""`runtime serve` syncs the Messenger Profile at start and after a reload that changed it,
in the background, once per server, and serves on whatever the Graph API answers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import pytest

from runtime.config.load import load_config
from runtime.messenger.endpoints import MESSENGER_PROFILE, SUBSCRIBED_APPS
from runtime.messenger.graph import GraphClient
from runtime.profile_keeper import ProfileKeeper
from runtime.profile_sync import WEBHOOK_FIELDS
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.processes import Server, serve_command
from tests.fakes.server import RunningApp, running
from tests.fakes.webhooks import text
from tests.profile.conftest import PROFILE, TOKEN, ProfileBot
from tests.profile.test_profile_sync import WANTED

APP_SECRET = "profile-app-secret"


def keeper_of(server: RunningApp) -> ProfileKeeper:
    keeper = server.app.ctx.runtime.page_profiles
    assert isinstance(keeper, ProfileKeeper)
    return keeper


def profile_calls(graph: FakeGraphAPI) -> list[tuple[str, str]]:
    return [(r.method, r.endpoint) for r in graph.calls(MESSENGER_PROFILE)]


async def reloaded(server: RunningApp, edit: Callable[[], object], within: float = 10.0) -> None:
    """Make `edit`, wait until the server serves the new version and its syncs are done."""
    old = (await server.get("/healthz")).json()["version"]
    edit()
    deadline = time.monotonic() + within
    while (await server.get("/healthz")).json()["version"] == old:
        if time.monotonic() > deadline:
            raise AssertionError(f"still version {old} after {within}s")
        await asyncio.sleep(0.02)
    await keeper_of(server).settled()


async def test_serve_syncs_the_page_at_start_and_logs_one_line(
    bot: ProfileBot, graph: FakeGraphAPI, env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="runtime.profile")
    async with running(bot.write(), env=env) as server:
        await keeper_of(server).settled()
        assert graph.page_profiles[TOKEN] == WANTED
        assert graph.subscriptions[TOKEN] == list(WEBHOOK_FIELDS)
        lines = [r.getMessage() for r in caplog.records if r.name == "runtime.profile"]
        assert lines == [
            "Messenger Profile of account 'default': written get_started, greeting,"
            f" ice_breakers, persistent_menu; the app was not subscribed to"
            f" {', '.join(WEBHOOK_FIELDS)}: subscribed (this is why a bot receives nothing)"
        ]


async def test_a_flows_only_reload_costs_no_call_and_a_profile_edit_one_sync(
    bot: ProfileBot, graph: FakeGraphAPI, env: dict[str, str]
) -> None:
    async with running(bot.write(), env=env) as server:
        await keeper_of(server).settled()
        graph.requests.clear()
        flows = bot.root / "flows" / "main.json5"
        await reloaded(server, lambda: flows.write_text(flows.read_text().replace("9 to 5", "8")))
        assert graph.calls() == []

        edited = PROFILE.replace('"Hi {{user_first_name}}!"', '"Welcome!"')
        await reloaded(server, lambda: bot.write(edited))
        assert profile_calls(graph) == [("GET", MESSENGER_PROFILE), ("POST", MESSENGER_PROFILE)]
        [post] = graph.calls(MESSENGER_PROFILE, method="POST")
        assert post.json == {
            "greeting": [{"locale": "default", "text": "Welcome!"}, WANTED["greeting"][1]]
        }


async def test_sync_false_leaves_the_page_to_runtime_profile_sync(
    bot: ProfileBot, graph: FakeGraphAPI, env: dict[str, str]
) -> None:
    async with running(bot.write(PROFILE.replace("{", "{ sync: false,", 1)), env=env) as server:
        await keeper_of(server).settled()
        await server.post(text("hi"), secret=APP_SECRET)
        await graph.wait_for(1)
        assert graph.calls(MESSENGER_PROFILE) == []
        assert graph.calls(SUBSCRIBED_APPS) == []


async def test_a_graph_failure_is_logged_and_the_server_answers_on(
    bot: ProfileBot, graph: FakeGraphAPI, env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    graph.error_next(190, message="Error validating access token", endpoint=MESSENGER_PROFILE)
    async with running(bot.write(), env=env) as server:
        await keeper_of(server).settled()
        response = await server.post(text("hi"), secret=APP_SECRET)
        assert response.status_code == 200
        [reply] = await graph.wait_for(1)
        assert reply.text == "Hi!"
    [failure] = [r for r in caplog.records if r.name == "runtime.profile"]
    assert failure.levelno == logging.ERROR
    assert failure.getMessage() == (
        "Messenger Profile of account 'default' not synced: GET me/messenger_profile: (#190)"
        " Error validating access token; the page token expired or was revoked: regenerate it"
        " in the App Dashboard"
    )
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(
    ("worker", "syncs"), [("Sanic-Server-0-1", True), ("Sanic-Server-1-0", False)]
)
async def test_only_the_first_worker_of_a_server_syncs(
    bot: ProfileBot,
    graph: FakeGraphAPI,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    worker: str,
    syncs: bool,
) -> None:
    monkeypatch.setenv("SANIC_WORKER_NAME", worker)
    async with running(bot.write(), env=env) as server:
        keeper = server.app.ctx.runtime.page_profiles
        assert (keeper is not None) is syncs
        if keeper is not None:
            await keeper.settled()
    assert bool(graph.calls(MESSENGER_PROFILE)) is syncs


def test_a_server_of_two_workers_syncs_the_page_once(
    bot: ProfileBot, graph: FakeGraphAPI, start: Callable[..., Server]
) -> None:
    server = start(*serve_command(bot.write(), "--workers", "2"))
    server.wait_ready()
    deadline = time.monotonic() + 20
    while "Messenger Profile of account 'default'" not in server.log.read_text():
        assert time.monotonic() < deadline, server.log.read_text()
        time.sleep(0.05)
    assert server.stop() == 0
    assert profile_calls(graph) == [("GET", MESSENGER_PROFILE), ("POST", MESSENGER_PROFILE)]
    assert server.log.read_text().count("Messenger Profile of account") == 1


async def test_a_rate_limited_sync_is_tried_again_later(
    bot: ProfileBot, graph: FakeGraphAPI, env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="runtime.profile")
    graph.subscriptions[TOKEN] = list(WEBHOOK_FIELDS)
    config = load_config(bot.write(), env=env).config
    graph.error_next(
        613,
        message="(#613) Calls to this API have exceeded the rate limit.",
        endpoint=MESSENGER_PROFILE,
    )
    async with GraphClient(config.graph, pools=1) as client:
        keeper = ProfileKeeper(client, lambda: config.accounts, retry_after=0.05)
        keeper.start()
        try:
            await keeper.settled()
            assert "trying again in" in caplog.text
            deadline = time.monotonic() + 10
            while TOKEN not in graph.page_profiles or not graph.page_profiles[TOKEN]:
                assert time.monotonic() < deadline, caplog.text
                await asyncio.sleep(0.02)
            await keeper.settled()
        finally:
            await keeper.stop()
    assert graph.page_profiles[TOKEN] == WANTED
