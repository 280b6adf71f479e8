"""The batch request's wire format: what encode_batch writes, decode_batch_request reads back."""

from __future__ import annotations

import pytest

from runtime.messenger.batch import (
    MAX_CALLS,
    BatchCall,
    MalformedBatch,
    decode_batch_request,
    encode_batch,
)


def test_a_batch_reads_back_as_sent_each_persons_calls_chained() -> None:
    reply = {
        "recipient": {"id": "501"},
        "messaging_type": "RESPONSE",
        "message": {"text": "Prix: 9,90 € & plus = 100% + tax?", "quick_replies": []},
    }
    calls = [
        BatchCall("501", {"recipient": {"id": "501"}, "sender_action": "mark_seen"}),
        BatchCall("502", {"recipient": {"id": "502"}, "sender_action": "typing_on"}),
        BatchCall("501", reply),
    ]
    encoded = encode_batch("EAAG-token", calls)
    request = decode_batch_request(encoded.content_type, encoded.content)
    assert request.token == "EAAG-token"
    assert [operation.body for operation in request.operations] == [call.body for call in calls]
    assert [operation.depends_on for operation in request.operations] == [None, None, "c0"]
    assert request.fields["include_headers"] == "false"


def test_a_batch_carries_one_to_fifty_calls() -> None:
    call = BatchCall("501", {"recipient": {"id": "501"}, "sender_action": "mark_seen"})
    with pytest.raises(ValueError, match="1 to 50"):
        encode_batch("t", [])
    with pytest.raises(ValueError, match="1 to 50"):
        encode_batch("t", [call] * (MAX_CALLS + 1))


@pytest.mark.parametrize(
    ("content_type", "content", "problem"),
    [
        ("application/json", b"[]", "is a form"),
        ("multipart/form-data", b"", "without a boundary"),
        ("multipart/form-data; boundary=b", b"--b\r\nno blank line\r\n--b--", "blank line"),
        ("application/x-www-form-urlencoded", b"access_token=t", "no batch field"),
        ("application/x-www-form-urlencoded", b"batch=%5B%5D", "1 to 50"),
        (
            "application/x-www-form-urlencoded",
            b'batch=[{"method":"POST","relative_url":"me/messages","depends_on":"c9","body":""}]',
            "names no earlier operation",
        ),
    ],
)
def test_what_meta_would_refuse_is_named(content_type: str, content: bytes, problem: str) -> None:
    with pytest.raises(MalformedBatch, match=problem):
        decode_batch_request(content_type, content)
