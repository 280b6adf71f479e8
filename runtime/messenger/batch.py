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

`decode_batch_request` is the inverse, for what plays the Graph API (the tests' fake and
the benchmark's): the wire format stays in this one module.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs, urlencode

from runtime.errors import GraphAPIError, GraphUnavailableError
from runtime.messenger.endpoints import MESSAGES, OUTBOX_ENDPOINTS
from runtime.messenger.graph_errors import error_from_response

MAX_CALLS: Final = 50  # Meta's limit of operations in one batch request
SEND_API_PATH: Final = MESSAGES
BATCH_PATHS: Final = OUTBOX_ENDPOINTS  # what a batch operation may call


@dataclass(frozen=True, slots=True)
class BatchCall:
    """One POST to `path` (a Send API call by default); calls with the same `chain` run in
    order, one after the other."""

    chain: str
    body: Mapping[str, Any]
    path: str = SEND_API_PATH


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
            "relative_url": call.path,
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


# -- the other side: reading a batch request, as Meta does --------------------------------
class MalformedBatch(ValueError):
    """A batch request that cannot be read; the message says what is wrong with it."""


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of a batch request, its body as the JSON a single call would carry."""

    name: str | None
    depends_on: str | None
    body: dict[str, Any]
    omit_response: bool
    path: str = SEND_API_PATH


@dataclass(frozen=True, slots=True)
class BatchRequest:
    token: str | None
    operations: list[Operation]
    fields: dict[str, str]  # every form field, as sent


_PART_NAME = re.compile(r'(?:^|;)\s*name="([^"]*)"')


def decode_batch_request(content_type: str, content: bytes) -> BatchRequest:
    """Read a batch request's form (multipart or urlencoded) and its Send API operations.

    Raises MalformedBatch for what Meta would refuse: not a form, no `batch` field, not 1 to
    50 operations, one that is not a POST to one of BATCH_PATHS, a `depends_on` naming no
    earlier one.
    """
    fields = _form_fields(content_type, content)
    return BatchRequest(fields.get("access_token"), _operations(fields.get("batch")), fields)


def _form_fields(content_type: str, raw: bytes) -> dict[str, str]:
    """The fields of a multipart or urlencoded form (the first of a repeated name)."""
    mime, _, params = content_type.partition(";")
    mime = mime.strip().lower()
    if mime == "application/x-www-form-urlencoded":
        try:
            text = raw.decode()
        except UnicodeDecodeError as err:
            raise MalformedBatch("the form is not UTF-8") from err
        return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
    if mime != "multipart/form-data":
        raise MalformedBatch(f"a batch is a form, not {mime or 'a body without Content-Type'}")
    boundary = ""
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary":
            boundary = value.strip('"')
    if not boundary:
        raise MalformedBatch("multipart/form-data without a boundary")
    return _multipart(raw, boundary.encode())


def _multipart(raw: bytes, boundary: bytes) -> dict[str, str]:
    """The fields of a multipart/form-data body (RFC 7578), files read as text."""
    pieces = raw.split(b"--" + boundary)
    if len(pieces) < 3 or not pieces[-1].startswith(b"--"):
        raise MalformedBatch("the multipart body has no parts or no closing boundary")
    fields: dict[str, str] = {}
    for piece in pieces[1:-1]:
        if not (piece.startswith(b"\r\n") and piece.endswith(b"\r\n")):
            raise MalformedBatch("a multipart part not framed by CRLF")
        head, blank, value = piece[2:-2].partition(b"\r\n\r\n")
        if not blank:
            raise MalformedBatch("a multipart part without a blank line after its headers")
        name = None
        for line in head.decode("latin-1").split("\r\n"):
            key, _, rest = line.partition(":")
            if key.strip().lower() == "content-disposition":
                found = _PART_NAME.search(rest)
                name = found.group(1) if found else None
        if name is None:
            raise MalformedBatch("a multipart part without a Content-Disposition name")
        try:
            fields.setdefault(name, value.decode())
        except UnicodeDecodeError as err:
            raise MalformedBatch(f"the multipart field {name!r} is not UTF-8") from err
    return fields


def _operations(batch: str | None) -> list[Operation]:
    """The operations of a `batch` field: Send API calls, `depends_on` naming earlier ones."""
    if batch is None:
        raise MalformedBatch("the batch request has no batch field")
    try:
        items = json.loads(batch)
    except ValueError as err:
        raise MalformedBatch("the batch field is not JSON") from err
    if not isinstance(items, list) or not 0 < len(items) <= MAX_CALLS:
        raise MalformedBatch(f"the batch field is not a list of 1 to {MAX_CALLS} operations")
    operations: list[Operation] = []
    names: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            raise MalformedBatch("an operation is not an object")
        relative = str(item.get("relative_url", "")).lstrip("/").partition("?")[0]
        if str(item.get("method", "")).upper() != "POST" or relative not in BATCH_PATHS:
            raise MalformedBatch(f"an operation is not a POST to one of {sorted(BATCH_PATHS)}")
        name, parent, body = item.get("name"), item.get("depends_on"), item.get("body", "")
        if not (name is None or isinstance(name, str)) or name in names:
            raise MalformedBatch(f"an operation name is not a new string: {name!r}")
        if parent is not None and parent not in names:
            raise MalformedBatch(f"depends_on {parent!r} names no earlier operation")
        if not isinstance(body, str):
            raise MalformedBatch("an operation body is not a form string")
        if name is not None:
            names.add(name)
        omit = item.get("omit_response_on_success") is True
        operations.append(Operation(name, parent, _send_body(body), omit, relative))
    return operations


def _send_body(form: str) -> dict[str, Any]:
    """The JSON body a single call would have had: `_form` undone."""
    return {
        key: _json_or_text(values[0])
        for key, values in parse_qs(form, keep_blank_values=True).items()
    }


def _json_or_text(value: str) -> Any:
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    return parsed if isinstance(parsed, dict | list) else value
