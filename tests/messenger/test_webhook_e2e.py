"""The webhook end to end: a real server on a socket, the fake Graph API, real signatures."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import RunningApp, running
from tests.fakes.webhooks import (
    PAGE_ID,
    PSID,
    body,
    encode,
    event,
    new_mid,
    postback,
    quick_reply,
    sample,
    text,
)
from tests.messenger.conftest import APP_SECRET, TOKEN, VERIFY_TOKEN, single_page, write_bot

MIB = 1024 * 1024


async def test_the_handshake_echoes_the_challenge(server: RunningApp) -> None:
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    for path in ("/webhook/messenger", "/webhook/messenger/default"):
        answer = await server.get(path, **params)
        assert (answer.status_code, answer.text) == (200, "1158201444")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.challenge": "1"},
    ],
)
async def test_a_bad_handshake_gets_403(server: RunningApp, params: dict[str, str]) -> None:
    answer = await server.get("/webhook/messenger", **params)
    assert answer.status_code == 403
    assert answer.text != "1"


async def test_a_signed_message_is_answered(server: RunningApp, graph: FakeGraphAPI) -> None:
    answer = await server.post(text("hi"), secret=APP_SECRET)
    assert answer.status_code == 200
    [reply] = await graph.wait_for(1)
    assert reply.json == {
        "recipient": {"id": PSID},
        "messaging_type": "RESPONSE",
        "message": {
            "text": "Hi there! What do you need?",
            "quick_replies": [
                {"content_type": "text", "title": "Pricing", "payload": "PRICING"},
                {"content_type": "text", "title": "Long", "payload": "LONG"},
            ],
        },
    }
    assert reply.path == "/v27.0/me/messages"
    assert reply.token == TOKEN


@pytest.mark.parametrize("secret", ["not-the-app-secret", None])
async def test_a_wrong_or_missing_signature_gets_403_and_nothing_is_processed(
    server: RunningApp, graph: FakeGraphAPI, secret: str | None
) -> None:
    answer = await server.post(text("hi"), secret=secret)
    assert answer.status_code == 403
    # a correctly signed message afterwards is the only one answered
    await server.post(text("help"), secret=APP_SECRET)
    [reply] = await graph.wait_for(1)
    assert reply.text == "Help is on the way."
    await asyncio.sleep(0.2)
    assert len(graph.messages()) == 1


async def test_without_app_secret_posts_are_accepted_and_a_warning_logged(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    config = write_bot(tmp_path, single_page(appSecret=""))
    async with running(config, env=env) as server:
        assert (await server.post(text("hi"), secret=None)).status_code == 200
        await graph.wait_for(1)
    assert "signatures NOT verified" in caplog.text


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not JSON"),
        (b'{"object": "instagram", "entry": []}', "not 'page'"),
        (b'["page"]', "not a JSON object"),
        (b'{"object": "page"}', "no `entry` list"),
    ],
)
async def test_a_malformed_body_gets_400(server: RunningApp, raw: bytes, reason: str) -> None:
    answer = await server.post(raw, secret=APP_SECRET)
    assert answer.status_code == 400
    assert reason in answer.text


async def test_a_body_over_one_mebibyte_gets_413(server: RunningApp) -> None:
    data = text("x" * (MIB + 10))
    answer = await server.post(data, secret=APP_SECRET)
    assert answer.status_code == 413


async def test_a_mebibyte_of_text_is_read_up_to_20000_characters_and_echoed_in_10_messages(
    server: RunningApp, graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    said = ("Never log what people say. " * 33_334)[:900_000]
    data = text(said)
    data["entry"][0]["pad"] = "x" * (MIB - len(encode(data)) - 100)  # Meta sends up to 1 MiB
    assert MIB - 100 < len(encode(data)) <= MIB
    assert (await server.post(data, secret=APP_SECRET)).status_code == 200
    # the server keeps answering; this person's replies leave in order, so the eleventh
    # message is the answer to "help" only if the long text got ten
    await server.post(text("help"), secret=APP_SECRET)
    replies = await graph.wait_for(11, within=20)
    assert replies[-1].text == "Help is on the way."
    echoed = [reply.text or "" for reply in replies[:-1]]
    assert all(len(part) <= 2000 for part in echoed)
    assert echoed[0].startswith("You said: Never log what people say.")
    lines = [record.getMessage() for record in caplog.records]
    [inbound] = [line for line in lines if "cut to 20000" in line]
    assert f"message from {PSID} to account 'default': text of 900000 characters" in inbound
    [outbound] = [line for line in lines if "messages of 2000 hold" in line]
    assert "flows.fallback.steps.0.text: is 20010 characters after rendering" in outbound
    assert "Never log" not in caplog.text


async def test_a_batched_body_is_processed_whole_in_order_per_sender(
    server: RunningApp, graph: FakeGraphAPI
) -> None:
    data = sample("batched")  # user 1: "hi" then a PRICING postback; user 2: "help"
    assert (await server.post(data, secret=APP_SECRET)).status_code == 200
    await graph.wait_for(3)
    first = graph.messages("2000000000000001")
    assert [m.text for m in first] == ["Hi there! What do you need?", None]
    assert first[1].json["message"]["attachment"]["payload"]["template_type"] == "button"
    assert [m.text for m in graph.messages("2000000000000002")] == ["Help is on the way."]


async def test_a_redelivered_message_is_answered_once(
    server: RunningApp, graph: FakeGraphAPI
) -> None:
    data = text("hi", mid="m_redelivered_1")
    for _ in range(3):
        assert (await server.post(data, secret=APP_SECRET)).status_code == 200
    await server.post(text("help"), secret=APP_SECRET)
    await graph.wait_for(2)
    await asyncio.sleep(0.2)
    assert [m.text for m in graph.messages()] == [
        "Hi there! What do you need?",
        "Help is on the way.",
    ]


@pytest.mark.parametrize("name", ["echo", "delivery", "read", "reaction"])
async def test_echoes_deliveries_reads_and_reactions_get_no_reply(
    server: RunningApp, graph: FakeGraphAPI, name: str
) -> None:
    assert (await server.post(sample(name), secret=APP_SECRET)).status_code == 200
    await server.post(text("help", psid="2000000000000009"), secret=APP_SECRET)
    await graph.wait_for(1)
    await asyncio.sleep(0.2)
    assert [m.psid for m in graph.messages()] == ["2000000000000009"]
    assert [a.psid for a in graph.actions()] == ["2000000000000009", "2000000000000009"]


async def test_a_long_reply_arrives_as_ordered_chunks(
    server: RunningApp, graph: FakeGraphAPI
) -> None:
    await server.post(text("long"), secret=APP_SECRET)
    chunks = await graph.wait_for(3)
    await asyncio.sleep(0.2)
    texts = [m.text or "" for m in graph.messages()]
    assert len(texts) == 3
    assert all(len(t) <= 2000 for t in texts)
    assert 5000 <= sum(len(t) for t in texts) <= 5100
    numbers = [int(word) for t in texts for word in t.split() if word.isdigit()]
    assert numbers == list(range(90))  # every sentence, once, in order
    assert chunks[0].json["messaging_type"] == "RESPONSE"


async def test_mark_seen_and_typing_on_come_before_the_reply(
    server: RunningApp, graph: FakeGraphAPI
) -> None:
    await server.post(text("hi"), secret=APP_SECRET)
    await graph.wait_for(1)
    sequence = [r.sender_action or "message" for r in graph.all()]
    assert sequence == ["mark_seen", "typing_on", "message"]
    assert graph.all()[0].json == {"recipient": {"id": PSID}, "sender_action": "mark_seen"}


async def test_sender_actions_can_be_turned_off(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    async with running(write_bot(tmp_path, single_page(senderActions="false")), env=env) as server:
        await server.post(text("hi"), secret=APP_SECRET)
        await graph.wait_for(1)
        await asyncio.sleep(0.1)
    assert [r.sender_action for r in graph.all()] == [None]


async def test_a_postback_and_a_quick_reply_tap_reach_their_flows(
    server: RunningApp, graph: FakeGraphAPI
) -> None:
    await server.post(postback("Help", "HELP"), secret=APP_SECRET)
    await graph.wait_for(1)
    await server.post(quick_reply("Pricing", "PRICING"), secret=APP_SECRET)
    replies = await graph.wait_for(2)
    assert replies[0].text == "Help is on the way."
    assert replies[1].json["message"]["attachment"]["payload"]["text"] == "Plans start at 9.90 EUR."


async def test_the_real_samples_reach_their_flows(server: RunningApp, graph: FakeGraphAPI) -> None:
    await server.post(sample("postback"), secret=APP_SECRET)  # HELP
    await graph.wait_for(1)
    await server.post(sample("text"), secret=APP_SECRET)
    replies = await graph.wait_for(2)
    assert replies[0].text == "Help is on the way."
    assert replies[1].text is not None


async def test_messy_traffic_gets_200_and_no_reply(server: RunningApp, graph: FakeGraphAPI) -> None:
    someone = {"id": "2000000000000077"}
    bodies = [
        {
            "object": "page",
            "entry": [
                {
                    "id": PAGE_ID,
                    "time": 1,
                    "standby": [event("message", {"mid": new_mid(), "text": "hi"})],
                }
            ],
        },
        {
            "object": "page",
            "entry": [{"id": PAGE_ID, "time": 1, "changes": [{"field": "feed", "value": {}}]}],
        },
        body(
            {
                "sender": {"user_ref": "ref-1"},
                "recipient": {"id": PAGE_ID},
                "timestamp": 1,
                "optin": {"ref": "x"},
            }
        ),
        body(
            {
                "sender": someone,
                "recipient": {"id": PAGE_ID},
                "pass_thread_control": {"new_owner_app_id": "1"},
            }
        ),
        body(
            {
                "sender": someone,
                "recipient": {"id": PAGE_ID},
                "timestamp": 1,
                "payment": {"amount": 1},
            }
        ),
        body(
            {
                "sender": someone,
                "recipient": {"id": PAGE_ID},
                "timestamp": 1,
                "policy_enforcement": {"action": "block"},
            }
        ),
        body(
            {
                "sender": someone,
                "recipient": {"id": PAGE_ID},
                "timestamp": 1,
                "brand_new_kind": {"x": [1, 2]},
            }
        ),
        body("not an event", 42, None),
        {"object": "page", "entry": ["not an entry", {"id": PAGE_ID, "messaging": "nope"}]},
        body({"sender": "nobody", "recipient": {"id": PAGE_ID}, "message": {"text": "hi"}}),
    ]
    for data in bodies:
        answer = await server.post(data, secret=APP_SECRET)
        assert answer.status_code == 200, data
    await server.post(text("help"), secret=APP_SECRET)
    await graph.wait_for(1)
    await asyncio.sleep(0.2)
    assert [m.text for m in graph.messages()] == ["Help is on the way."]


async def test_a_postback_without_mid_and_an_event_without_timestamp_are_answered(
    server: RunningApp, graph: FakeGraphAPI
) -> None:
    no_mid = body(
        {
            "sender": {"id": PSID},
            "recipient": {"id": PAGE_ID},
            "timestamp": 1764000000000,
            "postback": {"title": "Help", "payload": "HELP"},
        }
    )
    no_time = body(
        {
            "sender": {"id": PSID},
            "recipient": {"id": PAGE_ID},
            "message": {"mid": new_mid(), "text": "help"},
        }
    )
    await server.post(no_mid, secret=APP_SECRET)
    await server.post(no_time, secret=APP_SECRET)
    assert [m.text for m in await graph.wait_for(2)] == ["Help is on the way."] * 2


async def test_an_entry_for_an_unknown_page_is_ignored(
    server: RunningApp, graph: FakeGraphAPI
) -> None:
    assert (await server.post(text("hi", page_id="999"), secret=APP_SECRET)).status_code == 200
    await server.post(text("help"), secret=APP_SECRET)
    await graph.wait_for(1)
    await asyncio.sleep(0.2)
    assert [m.text for m in graph.messages()] == ["Help is on the way."]


async def test_healthz_reports_the_bot_version(server: RunningApp) -> None:
    answer = await server.get("/healthz")
    assert answer.status_code == 200
    data = answer.json()
    assert data["status"] == "ok"
    assert len(data["version"]) == 12
    assert data["version"] == server.app.ctx.runtime.bot.version


async def test_a_message_redelivered_after_a_restart_is_not_answered_again(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    config = write_bot(tmp_path, single_page())
    data = text("hi", mid="m_before_restart")
    async with running(config, env=env) as server:
        await server.post(data, secret=APP_SECRET)
        await graph.wait_for(1)
    async with running(config, env=env) as server:
        assert (await server.post(data, secret=APP_SECRET)).status_code == 200
        await server.post(text("help"), secret=APP_SECRET)
        await graph.wait_for(2)
        await asyncio.sleep(0.2)
    assert [m.text for m in graph.messages()] == [
        "Hi there! What do you need?",
        "Help is on the way.",
    ]


async def test_a_post_the_store_cannot_keep_gets_503_so_meta_sends_it_again(
    server: RunningApp, graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    await server.app.ctx.runtime.store.close()  # the state store is gone
    answer = await server.post(text("hi"), secret=APP_SECRET)
    assert answer.status_code == 503
    assert "webhook POST not kept (1 events)" in caplog.text


async def test_a_burst_from_one_person_is_answered_in_order_without_waiting_for_polls(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    # each message waits for the reply to the one before; the sender wakes the worker when
    # that reply is out (a 1-second poll per message would blow the deadline below)
    flows = '{ flows: { fallback: { steps: [{ text: "Got {{ message.text }}" }] } } }'
    config = write_bot(tmp_path, single_page(senderActions="false"), flows=flows)
    async with running(config, env=env) as server:
        for number in range(30):
            await server.post(text(f"m{number}"), secret=APP_SECRET)
        replies = await graph.wait_for(30, within=10)
    assert [m.text for m in replies] == [f"Got m{number}" for number in range(30)]
