"""The send path end to end: tokens per page, retries, permanent errors, the 24-hour window."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from runtime.build import build_bot
from runtime.errors import WindowClosedError
from runtime.messenger.graph import GraphClient
from runtime.messenger.proactive import SenderBlockedError, send_text
from runtime.messenger.tags import RETIRED_TAGS
from runtime.store.sqlite import SQLiteStore
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import running
from tests.fakes.webhooks import PAGE_ID, PSID, text
from tests.messenger.conftest import APP_SECRET, TOKEN, single_page, write_bot

SECOND_PAGE = "100000000000002"
SECOND_TOKEN = "EAAH-page-token-support-0987654321"
SECOND_SECRET = "app-secret-support-fedcba"


async def test_two_pages_are_each_answered_with_their_own_token(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    messenger = f"""verifyToken: "v", dmPolicy: "open", accounts: {{
        main: {{ pageAccessToken: "{TOKEN}", appSecret: "{APP_SECRET}", pageId: "{PAGE_ID}" }},
        support: {{ pageAccessToken: "{SECOND_TOKEN}", appSecret: "{SECOND_SECRET}",
                   pageId: "{SECOND_PAGE}" }} }}"""
    async with running(write_bot(tmp_path, messenger), env=env) as server:
        assert (await server.post(text("hi", psid="3001"), secret=APP_SECRET)).status_code == 200
        await graph.wait_for(1)
        second = text("help", psid="3002", page_id=SECOND_PAGE)
        assert (await server.post(second, secret=SECOND_SECRET)).status_code == 200
        # the per-account path routes by path, and verifies with that account's secret
        third = text("help", psid="3003", page_id=SECOND_PAGE)
        path = "/webhook/messenger/support"
        assert (await server.post(third, secret=APP_SECRET, path=path)).status_code == 403
        assert (await server.post(third, secret=SECOND_SECRET, path=path)).status_code == 200
        await graph.wait_for(3)
    tokens = {m.psid: m.token for m in graph.messages()}
    assert tokens == {"3001": TOKEN, "3002": SECOND_TOKEN, "3003": SECOND_TOKEN}


async def test_rate_limit_then_server_error_then_success_delivers_once_in_order(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    config = write_bot(tmp_path, single_page(senderActions="false"))
    graph.error_next(613, message="Calls to this api have exceeded the rate limit.")
    graph.reply_next(500, {"error": {"message": "An unexpected error has occurred.", "code": 2}})
    async with running(config, env=env) as server:
        await server.post(text("hi"), secret=APP_SECRET)
        await server.post(text("help"), secret=APP_SECRET)
        await graph.wait_for(2)
        await asyncio.sleep(0.2)
    assert [m.text for m in graph.messages()] == [
        "Hi there! What do you need?",
        "Help is on the way.",
    ]
    assert [a.status for a in graph.attempts()] == [400, 500, 200, 200]


async def test_an_expired_token_is_not_retried_and_names_the_account_not_the_token(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    graph.error_next(190, message="Error validating access token: Session has expired.")
    async with running(write_bot(tmp_path, single_page(senderActions="false")), env=env) as server:
        await server.post(text("hi"), secret=APP_SECRET)
        await server.post(text("help"), secret=APP_SECRET)
        await graph.wait_for(1)
        await asyncio.sleep(0.3)
        store = server.app.ctx.runtime.store
        [dead] = await store.list_dead_letters()
    assert [a.status for a in graph.attempts()] == [400, 200]  # the 190 was tried once
    assert "(#190) token expired or invalid: regenerate the Page Access Token" in dead.error
    assert "account 'default'" in caplog.text
    assert "(#190) token expired" in caplog.text
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(
    ("code", "subcode", "hint"),
    [
        (100, None, "(#100) invalid parameter"),
        (10, 2018278, "(#10) outside the 24-hour window"),
        (551, None, "(#551) this person is not available right now"),
        (200, None, "(#200) permission denied"),
    ],
)
async def test_permanent_errors_are_not_retried(
    tmp_path: Path,
    env: dict[str, str],
    graph: FakeGraphAPI,
    code: int,
    subcode: int | None,
    hint: str,
) -> None:
    graph.error_next(code, subcode=subcode)
    async with running(write_bot(tmp_path, single_page(senderActions="false")), env=env) as server:
        await server.post(text("hi"), secret=APP_SECRET)
        deadline = time.monotonic() + 5
        while not await server.app.ctx.runtime.store.list_dead_letters():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        [dead] = await server.app.ctx.runtime.store.list_dead_letters()
    assert hint in dead.error
    assert len(graph.attempts()) == 1


async def proactive(
    tmp_path: Path,
    env: dict[str, str],
    *,
    last_inbound: float | None,
    tag: str | None,
    blocked: bool = False,
) -> None:
    built = build_bot(write_bot(tmp_path, single_page()), env=env)
    store = SQLiteStore(tmp_path / "state.db")
    await store.open()
    client = GraphClient(built.bot.config.graph)
    await client.open()
    try:
        if last_inbound is not None:
            await store.record_inbound("default", PSID, last_inbound)
        if blocked:
            await store.block_sender("default", PSID, last_inbound or 0.0)
        await send_text(
            built.bot,
            store,
            client,
            psid=PSID,
            text="Your order shipped.",
            tag=tag,
            now=1_000_000.0,
        )
    finally:
        await client.close()
        await store.close()


async def test_a_send_inside_the_window_goes_out_as_an_update(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    await proactive(tmp_path, env, last_inbound=1_000_000.0 - 3600, tag=None)
    [sent] = graph.messages()
    assert sent.json["messaging_type"] == "UPDATE"
    assert sent.text == "Your order shipped."


@pytest.mark.parametrize("last_inbound", [None, 1_000_000.0 - 25 * 3600])
async def test_a_send_outside_the_window_without_a_tag_is_refused_before_any_call(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, last_inbound: float | None
) -> None:
    with pytest.raises(
        WindowClosedError, match="outside the 24-hour window; a send outside it needs --tag"
    ):
        await proactive(tmp_path, env, last_inbound=last_inbound, tag=None)
    assert graph.attempts() == []


async def test_a_send_outside_the_window_with_a_tag_goes_out_tagged(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    await proactive(tmp_path, env, last_inbound=1_000_000.0 - 25 * 3600, tag="HUMAN_AGENT")
    [sent] = graph.messages()
    assert (sent.json["messaging_type"], sent.json["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")


@pytest.mark.parametrize("tag", RETIRED_TAGS)
async def test_a_tag_meta_retired_is_refused_before_any_call_with_what_to_use(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, tag: str
) -> None:
    with pytest.raises(WindowClosedError) as refused:
        await proactive(tmp_path, env, last_inbound=1_000_000.0 - 25 * 3600, tag=tag)
    message = str(refused.value)
    assert f"Meta retired the {tag} tag on April 27, 2026" in message
    assert "HUMAN_AGENT" in message
    assert "utility message templates" in message
    assert graph.attempts() == []


async def test_an_unknown_tag_is_refused(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    with pytest.raises(WindowClosedError, match="unknown tag 'PROMOTION'"):
        await proactive(tmp_path, env, last_inbound=None, tag="PROMOTION")
    assert graph.attempts() == []


async def test_the_window_is_kept_from_webhooks(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    async with running(write_bot(tmp_path, single_page()), env=env) as server:
        await server.post(text("hi"), secret=APP_SECRET)
        await graph.wait_for(1)
        store = server.app.ctx.runtime.store
        last = await store.last_inbound("default", PSID)
    assert last is not None
    assert abs(last - 1764000000) < 100  # the event's own timestamp, in seconds


async def test_a_send_to_a_blocked_person_is_refused_before_any_call(
    tmp_path: Path, graph: FakeGraphAPI, env: dict[str, str]
) -> None:
    with pytest.raises(SenderBlockedError, match="is blocked on account 'default'"):
        await proactive(tmp_path, env, last_inbound=1_000_000.0 - 60, tag=None, blocked=True)
    assert graph.attempts() == []
