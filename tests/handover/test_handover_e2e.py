"""Handover to a human through the real pipeline: signed webhooks, the server, SQLite, the
fake Graph API recording what the bot sends."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from runtime.dialog.effects import PAGE_INBOX_APP_ID
from runtime.messenger.endpoints import MESSAGES, PASS_THREAD_CONTROL
from tests.access.conftest import drained
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import running
from tests.fakes.webhooks import PSID
from tests.handover.conftest import (
    HANDED_OVER,
    WELCOME,
    calls_to,
    human_bot,
    outbox_calls,
    passed_back,
    said,
    standby,
    standby_postback,
    standby_text,
    taken,
    thread_event,
)
from tests.messenger.conftest import APP_SECRET

OTHER = "2000000000000002"  # someone else, whom the bot keeps answering


async def test_the_step_sends_its_reply_then_passes_the_thread_to_the_page_inbox(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    async with running(human_bot(tmp_path), env=env) as server:
        await server.post(said("signup"), secret=APP_SECRET)
        await server.post(said("ada@example.com"), secret=APP_SECRET)
        await server.post(said("human"), secret=APP_SECRET)
        [passed] = await calls_to(graph, PASS_THREAD_CONTROL)
        await drained(server)
    assert outbox_calls(graph) == [
        (MESSAGES, "Your email?"),
        (MESSAGES, "Thanks, ada@example.com."),
        (MESSAGES, HANDED_OVER),
        (PASS_THREAD_CONTROL, None),
    ]
    assert passed.json == {
        "recipient": {"id": PSID},
        "target_app_id": PAGE_INBOX_APP_ID,
        "metadata": "ada@example.com asked for a human",
    }


async def test_while_a_human_has_the_thread_nothing_is_answered_not_even_seen(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="runtime.worker")
    async with running(human_bot(tmp_path), env=env) as server:
        store = server.app.ctx.runtime.store
        await server.post(said("human"), secret=APP_SECRET)
        await calls_to(graph, PASS_THREAD_CONTROL)
        await drained(server)
        before = len(graph.calls())
        await server.post(said("hello? anyone?"), secret=APP_SECRET)  # before Meta knows
        tap = standby_postback("Talk to a human")  # the person's last message, stamped by Meta
        await server.post(standby(standby_text("hi"), tap), secret=APP_SECRET)
        await server.post(said("hi", psid=OTHER), secret=APP_SECRET)
        await graph.wait_for(2)
        await drained(server)
        last_inbound = await store.last_inbound("default", PSID)
    # the other person got their answer; ours got nothing: no reply, no mark_seen, no typing
    assert [(r.psid, r.text or r.sender_action) for r in graph.calls()[before:]] == [
        (OTHER, "mark_seen"),
        (OTHER, "typing_on"),
        (OTHER, WELCOME),
    ]
    lines = [r.getMessage() for r in caplog.records if f"psid={PSID}" in r.getMessage()]
    turns = [line.split(" flow=")[1].split(" messages=")[0] for line in lines if "turn " in line]
    assert turns == ["human", '"with a human"', '"with a human"', '"with a human"']
    assert any("handover: account=default" in line and "Page Inbox" in line for line in lines)
    # a message in standby still counts as the person's last one (24 hours, HUMAN_AGENT's 7 days)
    assert last_inbound == tap["timestamp"] / 1000


async def test_standby_events_are_never_answered_even_when_no_handover_is_known(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="runtime.worker")
    async with running(human_bot(tmp_path), env=env) as server:
        await server.post(standby(standby_text("hi")), secret=APP_SECRET)
        await drained(server)
    assert graph.calls() == []
    assert f"turn account=default psid={PSID} flow=standby messages=0" in caplog.text


async def test_the_thread_passed_back_resumes_the_bot_with_the_variables_kept(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="runtime.worker")
    async with running(human_bot(tmp_path), env=env) as server:
        for text in ("signup", "ada@example.com", "human"):
            await server.post(said(text), secret=APP_SECRET)
        await calls_to(graph, PASS_THREAD_CONTROL)
        await server.post(said("still there?"), secret=APP_SECRET)
        await server.post(passed_back(), secret=APP_SECRET)
        await server.post(said("me"), secret=APP_SECRET)
        await graph.wait_for(4)
        await drained(server)
    texts = [r.text for r in graph.messages(PSID)]
    assert texts == [
        "Your email?",
        "Thanks, ada@example.com.",
        HANDED_OVER,
        "You are ada@example.com.",
    ]
    assert f"handover ended: account=default psid={PSID}" in caplog.text
    assert "from Page Inbox" in caplog.text


async def test_a_human_taking_the_thread_in_the_inbox_quiets_the_bot_and_drops_its_question(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="runtime.worker")
    async with running(human_bot(tmp_path), env=env) as server:
        await server.post(said("signup"), secret=APP_SECRET)
        await graph.wait_for(1)
        await server.post(taken(), secret=APP_SECRET)  # while the bot waits for an email
        await server.post(said("ada@example.com"), secret=APP_SECRET)  # the human answers it
        await drained(server)
        assert [r.text for r in graph.messages(PSID)] == ["Your email?"]
        await server.post(passed_back(), secret=APP_SECRET)
        # back with the bot: the old question is gone, so this is no answer to it
        await server.post(said("bob@example.com"), secret=APP_SECRET)
        await graph.wait_for(2)
        await drained(server)
    assert [r.text for r in graph.messages(PSID)][1:] == ["You said: bob@example.com"]
    assert f"handover started: account=default psid={PSID}; thread taken by Page Inbox" in (
        caplog.text
    )


async def test_a_request_for_the_thread_is_logged_and_changes_nothing(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="runtime.worker")
    async with running(human_bot(tmp_path), env=env) as server:
        request = thread_event(
            "request_thread_control", requested_owner_app_id=PAGE_INBOX_APP_ID, metadata="mine?"
        )
        await server.post(request, secret=APP_SECRET)
        await server.post(said("hi"), secret=APP_SECRET)
        await graph.wait_for(1)
        await drained(server)
    assert [r.text for r in graph.messages(PSID)] == [WELCOME]
    assert f"thread requested: account=default psid={PSID}; Page Inbox asks for the thread" in (
        caplog.text
    )


async def test_a_handover_survives_a_restart(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    config = human_bot(tmp_path)
    async with running(config, env=env) as server:
        await server.post(said("human"), secret=APP_SECRET)
        await calls_to(graph, PASS_THREAD_CONTROL)
        await drained(server)
    before = len(graph.calls())
    async with running(config, env=env) as server:
        await server.post(said("hello again"), secret=APP_SECRET)
        await drained(server)
        assert len(graph.calls()) == before
        await server.post(passed_back(), secret=APP_SECRET)
        await server.post(said("hi"), secret=APP_SECRET)
        await graph.wait_for(2)
    assert graph.messages(PSID)[-1].text == WELCOME


async def test_a_temporary_graph_error_on_the_pass_is_retried_in_order(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    graph.error_next(2, status=500, endpoint=PASS_THREAD_CONTROL, message="unexpected error")
    async with running(human_bot(tmp_path), env=env) as server:
        await server.post(said("human"), secret=APP_SECRET)
        failed, passed = await calls_to(graph, PASS_THREAD_CONTROL, 2)
        await drained(server)
        waiting = await server.app.ctx.runtime.store.count_outbound()
    assert (failed.status, passed.status) == (500, 200)
    assert passed.json == failed.json
    assert waiting == 0


async def test_a_refused_pass_is_dead_lettered_like_a_message(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="runtime.send")
    message = "(#10) This app does not have permission to pass the thread"
    graph.error_next(10, endpoint=PASS_THREAD_CONTROL, message=message)
    async with running(human_bot(tmp_path), env=env) as server:
        await server.post(said("human"), secret=APP_SECRET)
        await calls_to(graph, PASS_THREAD_CONTROL)
        await drained(server)
        [dead] = await server.app.ctx.runtime.store.list_dead_letters()
    assert dead.endpoint == PASS_THREAD_CONTROL
    assert "does not have permission" in dead.error
    assert "moved to the dead letters" in caplog.text
    assert [r.text for r in graph.messages(PSID)] == [HANDED_OVER]  # the reply went before it


async def test_after_a_refused_pass_the_bot_keeps_the_thread_and_answers_again(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="runtime.send")
    graph.error_next(10, endpoint=PASS_THREAD_CONTROL, message="(#10) no permission")
    async with running(human_bot(tmp_path), env=env) as server:
        await server.post(said("human"), secret=APP_SECRET)
        await calls_to(graph, PASS_THREAD_CONTROL)
        await drained(server)
        await server.post(said("hi"), secret=APP_SECRET)
        await graph.wait_for(2, psid=PSID)
        await drained(server)
    assert [r.text for r in graph.messages(PSID)] == [HANDED_OVER, WELCOME]
    assert "the thread stays with the bot" in caplog.text
