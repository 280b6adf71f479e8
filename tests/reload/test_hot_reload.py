"""Hot reload with a real server: edit, save, and the next message gets the new version."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.permissions import bound_by_file_modes, unreadable
from tests.fakes.processes import Server, serve_command
from tests.fakes.server import RunningApp, running
from tests.fakes.webhooks import PSID, postback, quick_reply, text
from tests.messenger.conftest import APP_SECRET, single_page, write_bot

DISABLED = '"disabled"'
TOKEN_FROM_ENV = '"${PAGE_TOKEN}"'
WELCOME = """{ flows: {
  welcome: { triggers: [{ keywords: ["hi"] }], steps: [{ text: "%s" }] },
  signup: {
    triggers: [{ payload: "SIGNUP" }],
    steps: [
      { ask: "Your email?", save_as: "email", validate: "email" },
      { text: "%s {{ vars.email }}" },
    ],
  },
  fallback: { steps: [{ text: "Sorry?" }] },
} }"""


PRICES = """{ flows: { prices: { triggers: [{ keywords: ["prices"] }],
  steps: [{ text: "From 9 EUR" }] } } }"""


def flows(greeting: str = "Hello v1", thanks: str = "Thanks v1") -> str:
    return WELCOME % (greeting, thanks)


async def version_change(server: RunningApp, old: str, *, within: float = 5.0) -> str:
    """Wait until /healthz reports a version other than `old`; return it."""
    deadline = time.monotonic() + within
    while True:
        version = (await server.get("/healthz")).json()["version"]
        if version != old:
            return version
        if time.monotonic() > deadline:
            raise AssertionError(f"still version {old} after {within}s")
        await asyncio.sleep(0.02)


async def current_version(server: RunningApp) -> str:
    version: str = (await server.get("/healthz")).json()["version"]
    return version


async def say(
    server: RunningApp, graph: FakeGraphAPI, message: str, *, psid: str = PSID
) -> str | None:
    before = len(graph.messages(psid))
    await server.post(text(message, psid=psid), secret=APP_SECRET)
    replies = await graph.wait_for(before + 1, psid=psid)
    return replies[-1].text


@pytest.fixture
def bot_dir(tmp_path: Path) -> Path:
    write_bot(tmp_path, single_page(senderActions="false"), flows=flows())
    return tmp_path


async def test_a_changed_reply_is_served_without_a_restart(
    bot_dir: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    async with running(bot_dir / "config.json5", env=env) as server:
        assert await say(server, graph, "hi") == "Hello v1"
        old = await current_version(server)
        (bot_dir / "flows" / "main.json5").write_text(flows(greeting="Hello v2"))
        await version_change(server, old)
        assert await say(server, graph, "hi") == "Hello v2"


async def test_a_new_flow_file_is_reached_and_a_deleted_one_is_gone(
    bot_dir: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    extra = bot_dir / "flows" / "nested" / "extra.json5"
    async with running(bot_dir / "config.json5", env=env) as server:
        assert await say(server, graph, "prices") == "Sorry?"
        old = await current_version(server)
        extra.parent.mkdir()
        extra.write_text(
            '{ flows: { prices: { triggers: [{ keywords: ["prices"] }],'
            ' steps: [{ text: "From 9 EUR" }] } } }'
        )
        old = await version_change(server, old)
        assert await say(server, graph, "prices") == "From 9 EUR"
        extra.unlink()
        await version_change(server, old)
        assert await say(server, graph, "prices") == "Sorry?"


async def test_a_broken_edit_keeps_the_last_good_version_until_fixed(
    bot_dir: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    main = bot_dir / "flows" / "main.json5"
    async with running(bot_dir / "config.json5", env=env) as server:
        good = await current_version(server)
        broken = [
            "{ flows: { welcome: { steps: [{ text: 'x' }], } ",  # JSON5 syntax
            '{ flows: { welcome: { steps: [{ txt: "x" }] } } }',  # schema
            '{ flows: { welcome: { steps: [{ goto: "nowhere" }] } } }',  # goto to nowhere
            '{ flows: { welcome: { steps: [{ text: "{{ oops" }] } } }',  # Jinja syntax
        ]
        for number, content in enumerate(broken, start=1):
            main.write_text(content)
            deadline = time.monotonic() + 5
            while caplog.text.count(f"keeping version {good}") < number:
                assert time.monotonic() < deadline, caplog.text
                await asyncio.sleep(0.02)
            assert await current_version(server) == good
            assert await say(server, graph, "hi") == "Hello v1"
        assert "flows/main.json5:1:" in caplog.text  # the syntax error, with line and column
        assert "flows.welcome.steps.0.txt: unknown key; did you mean `text`?" in caplog.text
        assert "flows.welcome.steps.0.goto: no flow is named 'nowhere'" in caplog.text
        assert "flows.welcome.steps.0.text: Jinja syntax error" in caplog.text
        main.write_text(flows(greeting="Hello fixed"))
        await version_change(server, good)
        assert await say(server, graph, "hi") == "Hello fixed"


async def logged(caplog: pytest.LogCaptureFixture, *texts: str, within: float = 5.0) -> None:
    """Wait until the log holds every one of `texts`."""
    deadline = time.monotonic() + within
    while not all(text in caplog.text for text in texts):
        assert time.monotonic() < deadline, caplog.text
        await asyncio.sleep(0.02)


async def test_a_link_to_nothing_is_rejected_until_sighup_finds_its_target(
    bot_dir: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    target = bot_dir / "prices.json5"  # outside the flows folder: its creation is not watched
    async with running(bot_dir / "config.json5", env=env) as server:
        good = await current_version(server)
        (bot_dir / "flows" / "prices.json5").symlink_to(target)
        await logged(
            caplog,
            "flows/prices.json5: cannot read: No such file or directory (it is a symbolic link",
            f"rejected; keeping version {good}",
        )
        assert await current_version(server) == good
        assert await say(server, graph, "hi") == "Hello v1"
        target.write_text(PRICES)
        os.kill(os.getpid(), signal.SIGHUP)
        await version_change(server, good)
        assert await say(server, graph, "prices") == "From 9 EUR"


async def test_a_flows_link_pointed_at_another_file_is_reloaded(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    config = write_bot(tmp_path, single_page(senderActions="false"), flows=flows())
    config.write_text(config.read_text().replace("'flows/'", "'current.json5'"))
    (tmp_path / "current.json5").symlink_to(tmp_path / "flows" / "main.json5")
    (tmp_path / "next").mkdir()
    (tmp_path / "next" / "main.json5").write_text(flows(greeting="Hello v2"))
    async with running(config, env=env) as server:
        assert await say(server, graph, "hi") == "Hello v1"
        old = await current_version(server)
        # as a deployment swaps a link: a new one, renamed over the old
        (tmp_path / "current.tmp").symlink_to(tmp_path / "next" / "main.json5")
        (tmp_path / "current.tmp").replace(tmp_path / "current.json5")
        await version_change(server, old)
        assert await say(server, graph, "hi") == "Hello v2"


def healthz_version(server: Server) -> str:
    version: str = httpx.get(server.url + "/healthz", timeout=5).json()["version"]
    return version


def wait_for_log(server: Server, text: str, *, count: int = 1, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while server.log.read_text().count(text) < count:
        assert time.monotonic() < deadline, server.log.read_text()
        time.sleep(0.05)


def test_a_flow_file_made_unreadable_keeps_the_last_good_version_until_readable(
    bot_dir: Path, start
) -> None:
    # a server of its own, which the file modes keep out even when the tests run as root
    server = start(*bound_by_file_modes(*serve_command(bot_dir / "config.json5")))
    server.wait_ready()
    good = healthz_version(server)
    main = bot_dir / "flows" / "main.json5"
    rejected = f"rejected; keeping version {good}"
    with unreadable(main):
        wait_for_log(server, rejected)
        assert "main.json5: cannot read: Permission denied" in server.log.read_text()
        assert healthz_version(server) == good
        main.write_text(flows(greeting="Hello v2"))  # an edit the server may not read yet
        wait_for_log(server, rejected, count=2)
        assert healthz_version(server) == good
    deadline = time.monotonic() + 10  # readable again: the next reload reads it
    while healthz_version(server) == good:
        assert time.monotonic() < deadline, server.log.read_text()
        time.sleep(0.05)
    assert "reload OK again (changed: main.json5)" in server.log.read_text()


async def test_an_edit_during_an_ask_keeps_the_answer_and_uses_the_new_flow(
    bot_dir: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    async with running(bot_dir / "config.json5", env=env) as server:
        await server.post(postback("Sign up", "SIGNUP"), secret=APP_SECRET)
        assert (await graph.wait_for(1))[-1].text == "Your email?"
        old = await current_version(server)
        (bot_dir / "flows" / "main.json5").write_text(flows(thanks="Welcome aboard,"))
        await version_change(server, old)
        assert await say(server, graph, "me@example.com") == "Welcome aboard, me@example.com"


async def test_a_session_whose_ask_was_removed_falls_back_cleanly(
    bot_dir: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    async with running(bot_dir / "config.json5", env=env) as server:
        await server.post(postback("Sign up", "SIGNUP"), secret=APP_SECRET)
        await graph.wait_for(1)
        old = await current_version(server)
        without_signup = '{ flows: { fallback: { steps: [{ text: "Sorry?" }] } } }'
        (bot_dir / "flows" / "main.json5").write_text(without_signup)
        await version_change(server, old)
        assert await say(server, graph, "me@example.com") == "Sorry?"


async def test_config_changes_apply_live_and_restart_only_keys_are_reported(
    bot_dir: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    config = bot_dir / "config.json5"
    async with running(config, env=env) as server:
        assert await say(server, graph, "hi") == "Hello v1"
        old = await current_version(server)
        disabled = single_page(dmPolicy=DISABLED)
        config.write_text(
            f"{{ channels: {{ messenger: {{ {disabled} }} }}, flows: 'flows/',"
            " server: { port: 9999 } }"
        )
        await version_change(server, old)
        await server.post(text("hi", psid="5001"), secret=APP_SECRET)
        await server.post(quick_reply("x", "NOPE", psid="5001"), secret=APP_SECRET)
        await asyncio.sleep(0.3)
        assert graph.messages("5001") == []  # dmPolicy disabled, live
    assert "restart required for server.port" in caplog.text


async def test_sighup_reloads_on_demand(
    bot_dir: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    config = bot_dir / "config.json5"
    from_env = single_page(pageAccessToken=TOKEN_FROM_ENV)
    config.write_text(f"{{ channels: {{ messenger: {{ {from_env} }} }}, flows: 'flows/' }}")
    variables = {**env, "PAGE_TOKEN": "EAAG-first-token"}
    async with running(config, env=variables) as server:
        await say(server, graph, "hi")
        old = await current_version(server)
        variables["PAGE_TOKEN"] = "EAAG-second-token"  # nothing on disk changed
        os.kill(os.getpid(), signal.SIGHUP)
        deadline = time.monotonic() + 5
        while (
            server.app.ctx.runtime.bot.accounts["default"].page_access_token.reveal()
            != "EAAG-second-token"
        ):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        await say(server, graph, "hi")
        assert old != await current_version(server)  # the resolved config changed
    assert [m.token for m in graph.messages()] == ["EAAG-first-token", "EAAG-second-token"]


async def test_every_webhook_is_answered_once_while_the_flows_are_rewritten(
    bot_dir: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    main = bot_dir / "flows" / "main.json5"
    users = [f"600{number}" for number in range(8)]
    per_user = 25
    statuses: list[int] = []

    async with running(bot_dir / "config.json5", env=env) as server:

        async def load(psid: str) -> None:
            for _ in range(per_user):
                answer = await server.post(text("hi", psid=psid), secret=APP_SECRET)
                statuses.append(answer.status_code)

        async def rewrite() -> None:
            for number in range(20):
                main.write_text(flows(greeting=f"Hello v{number + 2}"))
                await asyncio.sleep(0.06)

        await asyncio.gather(rewrite(), *(load(psid) for psid in users))
        await graph.wait_for(len(users) * per_user, within=30)
        await asyncio.sleep(0.3)
    assert statuses == [200] * (len(users) * per_user)
    for psid in users:
        replies = [m.text or "" for m in graph.messages(psid)]
        assert len(replies) == per_user
        assert all(reply.startswith("Hello v") for reply in replies)
