"""Graph API failures become errors that say whether to retry, and what to do."""

from __future__ import annotations

import json

import httpx
import pytest

from runtime.errors import (
    GraphUnavailableError,
    PermanentSendError,
    RateLimitError,
    TokenError,
    WindowClosedError,
)
from runtime.messenger.graph_errors import error_from_response, error_from_transport


def answer(code: int | None, *, status: int = 400, subcode: int | None = None) -> bytes:
    error: dict[str, object] = {"message": "m", "type": "OAuthException", "fbtrace_id": "AbC"}
    if code is not None:
        error["code"] = code
    if subcode is not None:
        error["error_subcode"] = subcode
    return json.dumps({"error": error}).encode()


@pytest.mark.parametrize(
    ("code", "status", "subcode", "kind", "retryable"),
    [
        (190, 400, None, TokenError, False),
        (100, 400, None, PermanentSendError, False),
        (10, 400, 2018278, WindowClosedError, False),
        (10, 400, None, PermanentSendError, False),
        (200, 403, None, PermanentSendError, False),
        (551, 400, None, PermanentSendError, False),
        (368, 400, None, PermanentSendError, False),
        (4, 400, None, RateLimitError, True),
        (17, 400, None, RateLimitError, True),
        (32, 400, None, RateLimitError, True),
        (613, 400, None, RateLimitError, True),
        (1, 500, None, GraphUnavailableError, True),
        (2, 503, None, GraphUnavailableError, True),
        (None, 502, None, GraphUnavailableError, True),
    ],
)
def test_each_code_is_classified(
    code: int | None, status: int, subcode: int | None, kind: type, retryable: bool
) -> None:
    error = error_from_response(status, answer(code, status=status, subcode=subcode))
    assert type(error) is kind
    assert error.retryable is retryable
    assert (error.code, error.subcode, error.status, error.fbtrace_id) == (
        code,
        subcode,
        status,
        "AbC",
    )


def test_a_token_error_says_what_to_do() -> None:
    message = str(error_from_response(400, answer(190)))
    assert message.startswith("(#190) token expired or invalid: regenerate the Page Access Token")


def test_a_body_that_is_not_json_is_still_classified_by_status() -> None:
    assert isinstance(error_from_response(502, b"<html>bad gateway</html>"), GraphUnavailableError)
    assert isinstance(error_from_response(404, b"nope"), PermanentSendError)


def test_a_refused_connection_was_not_sent_and_a_read_timeout_may_have_been() -> None:
    refused = error_from_transport(httpx.ConnectError("[Errno 111] Connection refused"))
    assert refused.retryable
    assert not refused.sent
    assert "not sent" in str(refused)
    timeout = error_from_transport(httpx.ReadTimeout("timed out"))
    assert timeout.retryable
    assert timeout.sent
