"""Each dmPolicy end to end: a real server, the fake Graph API, the real `runtime pair` CLI."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.access.conftest import (
    APPROVED_MESSAGE,
    FRIEND,
    STRANGER,
    bot_config,
    code_in,
    drained,
    pair,
    said,
)
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import running
from tests.fakes.webhooks import PAGE_ID
from tests.messenger.conftest import APP_SECRET, TOKEN, VERIFY_TOKEN, write_bot

WELCOME = "Hi there! What do you need?"


async def test_a_stranger_gets_a_code_and_after_approval_reaches_the_flows(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    config = bot_config(tmp_path, "pairing")
    async with running(config, env=env) as server:
        await server.post(said("hi", psid=STRANGER), secret=APP_SECRET)
        [reply] = await graph.wait_for(1)
        code = code_in(reply.text)
        assert f"runtime pair approve messenger {code}" in (reply.text or "")
        assert reply.json["recipient"] == {"id": STRANGER}
        assert reply.json["messaging_type"] == "RESPONSE"

        await server.post(said("hello? anyone?", psid=STRANGER), secret=APP_SECRET)
        await drained(server)
        assert [r.json for r in graph.all()] == [reply.json]  # one message, no sender action

        approved = await pair(config, "approve", "messenger", code)
        assert approved.returncode == 0, approved.stderr
        assert f"approved {STRANGER} on account 'default' (code {code})" in approved.stdout
        assert "confirmation queued" in approved.stdout
        # the running server picks the confirmation up from the outbox: no restart
        confirmation = (await graph.wait_for(2))[1]
        assert (confirmation.psid, confirmation.text) == (STRANGER, APPROVED_MESSAGE)
        assert confirmation.json["messaging_type"] == "UPDATE"

        await server.post(said("hi", psid=STRANGER), secret=APP_SECRET)
        welcome = (await graph.wait_for(3))[2]
        assert welcome.text == WELCOME
        await drained(server)
    sequence = [r.sender_action or r.text for r in graph.all()]
    assert sequence == [reply.text, APPROVED_MESSAGE, "mark_seen", "typing_on", WELCOME]


async def test_friends_in_allow_from_need_no_code_under_pairing(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    async with running(bot_config(tmp_path, "pairing"), env=env) as server:
        await server.post(said("hi", psid=FRIEND), secret=APP_SECRET)
        [reply] = await graph.wait_for(1)
    assert reply.text == WELCOME
    assert [r.sender_action for r in graph.actions()] == ["mark_seen", "typing_on"]


async def test_a_custom_pairing_message_is_what_the_stranger_gets(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    message = '"{{ account.name }}: send {{ code }} to Anna ({{ psid }})."'
    config = bot_config(tmp_path, "pairing", name='"Bakery"', pairingMessage=message)
    async with running(config, env=env) as server:
        await server.post(said("hi", psid=STRANGER), secret=APP_SECRET)
        [reply] = await graph.wait_for(1)
    code = code_in(reply.text)
    assert reply.text == f"Bakery: send {code} to Anna ({STRANGER})."


async def test_allowlist_answers_listed_senders_only_and_logs_others_without_text(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running(bot_config(tmp_path, "allowlist"), env=env) as server:
        await server.post(said("my secret words", psid=STRANGER), secret=APP_SECRET)
        await server.post(said("hi", psid=FRIEND), secret=APP_SECRET)
        [reply] = await graph.wait_for(1)
        await drained(server)
    assert reply.psid == FRIEND
    assert reply.text == WELCOME
    assert graph.all() == [*graph.actions(FRIEND), reply]  # nothing at all to the stranger
    ignored = [r for r in caplog.records if r.name == "runtime.access" and STRANGER in r.message]
    assert [r.levelno for r in ignored] == [logging.INFO]
    assert "not in allowFrom" in ignored[0].message
    assert "my secret words" not in caplog.text


async def test_an_approved_sender_is_not_admitted_under_allowlist(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    async with running(bot_config(tmp_path, "allowlist"), env=env) as server:
        await server.app.ctx.runtime.store.approve_sender("default", STRANGER, 0.0)
        await server.post(said("hi", psid=STRANGER), secret=APP_SECRET)
        await drained(server)
    assert graph.attempts() == []


async def test_disabled_ignores_everyone_even_allow_from(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    async with running(bot_config(tmp_path, "disabled"), env=env) as server:
        await server.app.ctx.runtime.store.approve_sender("default", STRANGER, 0.0)
        for psid in (STRANGER, FRIEND, "2000000000000199"):
            assert (await server.post(said("hi", psid=psid), secret=APP_SECRET)).status_code == 200
        await drained(server)
    assert graph.attempts() == []


async def test_open_answers_a_stranger_at_once(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    async with running(bot_config(tmp_path, "open"), env=env) as server:
        await server.post(said("hi", psid=STRANGER), secret=APP_SECRET)
        [reply] = await graph.wait_for(1)
    assert reply.text == WELCOME
    assert [r.sender_action for r in graph.actions(STRANGER)] == ["mark_seen", "typing_on"]


async def test_an_approval_on_one_page_admits_nobody_on_another(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    other_page = "100000000000002"
    account = 'pageAccessToken: "{token}", pageId: "{page}"'
    config = write_bot(
        tmp_path,
        f'appSecret: "{APP_SECRET}", verifyToken: "{VERIFY_TOKEN}", dmPolicy: "pairing", '
        "accounts: { "
        f"main: {{ {account.format(token=TOKEN, page=PAGE_ID)} }}, "
        f"shop: {{ {account.format(token=TOKEN + '-shop', page=other_page)} }} }}",
    )
    async with running(config, env=env) as server:
        await server.post(said("hi", psid=STRANGER), secret=APP_SECRET)
        [first] = await graph.wait_for(1)
        approved = await pair(config, "approve", "messenger", code_in(first.text))
        assert approved.returncode == 0, approved.stderr
        assert "on account 'main'" in approved.stdout
        await graph.wait_for(2)  # the confirmation, on the main page

        await server.post(said("hi", psid=STRANGER, page_id=other_page), secret=APP_SECRET)
        shop = (await graph.wait_for(3))[2]
        await server.post(said("hi", psid=STRANGER), secret=APP_SECRET)
        main = (await graph.wait_for(4))[3]
    assert shop.token == TOKEN + "-shop"
    assert code_in(shop.text) != code_in(first.text)  # a stranger there: a code of its own
    assert (main.token, main.text) == (TOKEN, WELCOME)


async def test_a_refused_pairing_reply_sends_no_typing_off_to_the_stranger(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    graph.error_next(551, message="This person isn't available right now.")
    async with running(bot_config(tmp_path, "pairing"), env=env) as server:
        await server.post(said("hi", psid=STRANGER), secret=APP_SECRET)
        await drained(server)
        assert len(await server.app.ctx.runtime.store.list_dead_letters()) == 1
    assert [r.sender_action for r in graph.attempts()] == [None]


async def test_a_refused_reply_to_an_admitted_sender_clears_the_typing_bubble(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    async with running(bot_config(tmp_path, "pairing"), env=env) as server:
        graph.reply_next()  # mark_seen
        graph.reply_next()  # typing_on
        graph.error_next(551, message="This person isn't available right now.")
        await server.post(said("hi", psid=FRIEND), secret=APP_SECRET)
        await graph.wait_for(3, kind="all")
        await drained(server)
    assert [r.sender_action for r in graph.attempts()] == [
        "mark_seen",
        "typing_on",
        None,
        "typing_off",
    ]
