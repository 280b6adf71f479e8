"""Graph API batch requests: several Send API calls in one HTTP request.

    POST {base}/{version}/   multipart form: access_token, include_headers=false,
                             batch=[{"method": "POST", "relative_url": "me/messages",
                                     "name": "c1", "depends_on": "c0", "body": <form>}, ...]

Meta runs up to 50 operations a request and answers with one result per operation, in
order: `{"code": 200, "body": "<JSON text>"}`, or `null` for one it did not run (a batch
that ran out of time, or an operation whose `depends_on` parent failed). Independent
operations run in parallel, so the calls of one person are chained with `depends_on`:
they run in order, and after a failure the rest of that person's calls do not run.

Why: one httpx request costs about 1 ms of CPU here whatever it carries, and a message
takes three calls (mark_seen, typing_on, the reply). A batch pays that once for up to 50
calls, and its calls are still counted one by one against Meta's rate limits.

The outer body is multipart, as `curl -F` sends it: it needs no percent-encoding of the
batch, which urlencoding would cost about 80 µs a message.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

from runtime.errors import GraphAPIError, GraphUnavailableError
from runtime.messenger.graph_errors import error_from_response

MAX_CALLS: Final = 50  # Meta's limit of operations in one batch request
SEND_API_PATH: Final = "me/messages"


@dataclass(frozen=True, slots=True)
class BatchCall:
    """One Send API call; calls with the same `chain` run in order, one after the other."""

    chain: str
    body: Mapping[str, Any]


# What became of one call: the answer's JSON, the error, or None when it did not run.
CallOutcome = Mapping[str, Any] | GraphAPIError | None


@dataclass(frozen=True, slots=True)
class EncodedBatch:
    content: bytes
    content_type: str


def encode_batch(token: str, calls: Sequence[BatchCall]) -> EncodedBatch:
    """The HTTP body of a batch request carrying `calls` as `token`."""
    if not 0 < len(calls) <= MAX_CALLS:
        raise ValueError(f"a batch carries 1 to {MAX_CALLS} calls, not {len(calls)}")
    last_in_chain: dict[str, str] = {}
    operations = []
    for number, call in enumerate(calls):
        name = f"c{number}"
        operation: dict[str, Any] = {
            "method": "POST",
            "relative_url": SEND_API_PATH,
            "name": name,
            "omit_response_on_success": False,
            "body": _form(call.body),
        }
        parent = last_in_chain.get(call.chain)
        if parent is not None:
            operation["depends_on"] = parent
        last_in_chain[call.chain] = name
        operations.append(operation)
    batch = json.dumps(operations, ensure_ascii=False, separators=(",", ":")).encode()
    fields = (
        (b"access_token", token.encode()),
        (b"include_headers", b"false"),
        (b"batch", batch),
    )
    boundary = secrets.token_hex(16).encode()
    while any(boundary in value for _, value in fields):  # never, in practice
        boundary = secrets.token_hex(16).encode()
    parts = [
        b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (boundary, name, value)
        for name, value in fields
    ]
    content = b"".join(parts) + b"--%s--\r\n" % boundary
    return EncodedBatch(content, f"multipart/form-data; boundary={boundary.decode()}")


def decode_outcomes(count: int, content: bytes) -> list[CallOutcome]:
    """The outcome of each of `count` calls from a batch's 2xx answer.

    Raises a retryable error when the answer is not a list of `count` results: what went
    through is then unknown, and sending again is the side that loses nothing.
    """
    try:
        results = json.loads(content)
    except ValueError:
        results = None
    if not isinstance(results, list) or len(results) != count:
        raise GraphUnavailableError(
            f"the Graph API answered a batch of {count} calls with something else "
            "than a list of their results"
        )
    return [_outcome(result) for result in results]


def _outcome(result: object) -> CallOutcome:
    if not isinstance(result, dict):
        return None
    code = result.get("code")
    body = result.get("body")
    text = body if isinstance(body, str) else ""
    if not isinstance(code, int) or code >= 400:
        status = code if isinstance(code, int) else 500
        return error_from_response(status, text.encode())
    try:
        answer = json.loads(text) if text else {}
    except ValueError:
        answer = {}
    return answer if isinstance(answer, dict) else {}


def _form(body: Mapping[str, Any]) -> str:
    """A Send API body as form fields: objects as JSON text, strings as they are."""
    return urlencode(
        {
            key: value
            if isinstance(value, str)
            else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            for key, value in body.items()
        }
    )
