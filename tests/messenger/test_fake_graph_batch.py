"""The fake Graph API answers batch requests as `runtime.messenger.batch` sends them."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import httpx

from runtime.errors import PermanentSendError
from runtime.messenger.batch import BatchCall, decode_outcomes, encode_batch
from tests.fakes.graph_api import FakeGraphAPI

TOKEN = "EAAG-batch-token"


def seen(psid: str) -> BatchCall:
    return BatchCall(psid, {"recipient": {"id": psid}, "sender_action": "mark_seen"})


def reply(psid: str, text: str) -> BatchCall:
    body = {"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"text": text}}
    return BatchCall(psid, body)


def post(graph: FakeGraphAPI, calls: list[BatchCall]) -> httpx.Response:
    batch = encode_batch(TOKEN, calls)
    return httpx.post(
        f"{graph.base_url}/v25.0/",
        content=batch.content,
        headers={"Content-Type": batch.content_type},
    )


def test_a_batch_is_recorded_as_its_calls(graph: FakeGraphAPI) -> None:
    calls = [seen("A"), seen("B"), reply("A", "hi A"), reply("B", "hi B")]
    answer = post(graph, calls)
    assert answer.status_code == 200
    outcomes = decode_outcomes(4, answer.content)
    assert [o["recipient_id"] for o in outcomes if isinstance(o, dict)] == ["A", "B", "A", "B"]
    recorded = graph.attempts()
    assert [r.json for r in recorded] == [call.body for call in calls]
    assert {(r.path, r.token, r.batch, r.status) for r in recorded} == {
        ("/v25.0/me/messages", TOKEN, 1, 200)
    }
    assert [r.text for r in graph.messages()] == ["hi A", "hi B"]
    assert [r.psid for r in graph.actions()] == ["A", "B"]
    graph.reply_next()
    single = httpx.post(f"{graph.base_url}/v25.0/me/messages", json=calls[0].body)
    assert single.status_code == 200
    post(graph, [seen("C")])
    assert [r.batch for r in graph.attempts()[4:]] == [None, 2]


def test_a_failed_call_stops_its_chain_only(graph: FakeGraphAPI) -> None:
    graph.error_next(100, message="(#100) No matching user found")
    calls = [seen("A"), seen("B"), reply("A", "hi A"), reply("B", "hi B"), reply("A", "again")]
    outcomes = decode_outcomes(5, post(graph, calls).content)
    assert isinstance(outcomes[0], PermanentSendError)
    assert outcomes[0].code == 100
    assert outcomes[2] is None
    assert outcomes[4] is None
    assert isinstance(outcomes[1], dict)
    assert isinstance(outcomes[3], dict)
    assert [(r.psid, r.status) for r in graph.attempts()] == [("A", 400), ("B", 200), ("B", 200)]


def test_scripted_replies_are_taken_per_call_in_order(graph: FakeGraphAPI) -> None:
    graph.reply_next()
    graph.reply_next(200, {"recipient_id": "B", "message_id": "m_scripted"}, delay=0.05)
    outcomes = decode_outcomes(2, post(graph, [seen("A"), reply("B", "hi")]).content)
    assert outcomes[1] == {"recipient_id": "B", "message_id": "m_scripted"}


def test_a_batch_failed_as_a_whole_records_nothing(graph: FakeGraphAPI) -> None:
    graph.fail_next_batch(500)
    graph.error_next(100)  # for the next call: the failed batch runs none
    answer = post(graph, [seen("A"), reply("A", "hi")])
    assert answer.status_code == 500
    assert graph.attempts() == []
    assert graph.failed_batches == 1
    assert graph.batch_failures == [1]
    outcomes = decode_outcomes(1, post(graph, [reply("A", "hi")]).content)
    assert isinstance(outcomes[0], PermanentSendError)
    assert [r.batch for r in graph.attempts()] == [2]


def test_an_urlencoded_batch_works_too(graph: FakeGraphAPI) -> None:
    operation: dict[str, Any] = {
        "method": "POST",
        "relative_url": "me/messages",
        "body": urlencode({"recipient": json.dumps({"id": "A"}), "message": '{"text":"hi"}'}),
    }
    form = {"access_token": TOKEN, "include_headers": "false", "batch": json.dumps([operation])}
    answer = httpx.post(f"{graph.base_url}/v25.0", data=form)
    assert answer.status_code == 200
    assert answer.json()[0]["code"] == 200
    (recorded,) = graph.attempts()
    assert recorded.json == {"recipient": {"id": "A"}, "message": {"text": "hi"}}
    assert (recorded.path, recorded.token, recorded.batch) == ("/v25.0/me/messages", TOKEN, 1)


def test_an_unreadable_batch_is_a_400(graph: FakeGraphAPI) -> None:
    bad = [
        (b"--xyz\r\nno headers here\r\n--xyz--\r\n", "multipart/form-data; boundary=xyz"),
        (b"--xyz\r\n", "multipart/form-data; boundary=xyz"),
        (urlencode({"access_token": TOKEN, "batch": "{}"}).encode(), "text/plain"),
        (
            urlencode({"access_token": TOKEN, "batch": "{}"}).encode(),
            "application/x-www-form-urlencoded",
        ),
        (
            urlencode({"access_token": TOKEN, "batch": json.dumps([{}] * 51)}).encode(),
            "application/x-www-form-urlencoded",
        ),
        (urlencode({"batch": "[]"}).encode(), "application/x-www-form-urlencoded"),
    ]
    for content, content_type in bad:
        answer = httpx.post(
            f"{graph.base_url}/v25.0/", content=content, headers={"Content-Type": content_type}
        )
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == 100
    assert graph.attempts() == []
