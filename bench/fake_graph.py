"""A fast fake Graph API for the load benchmark: answers Send API calls and counts them.

    python bench/fake_graph.py --port 9000 [--probe-prefix 9]

Raw asyncio (uvloop when installed) with a minimal HTTP/1.1 keep-alive parser, so that it
costs far less CPU per call than the servers it measures. `POST /{version}/me/messages`
answers `{"recipient_id": ..., "message_id": ...}` and counts message requests and sender
actions; it keeps the wall-clock arrival (`time.time()`) of the first and last message and
of the first message to each PSID that starts with the probe prefix.

`POST /{version}/` (or `/{version}`) is a Graph batch request (runtime/messenger/batch.py):
a multipart or urlencoded form whose `batch` field is a JSON list of Send API operations
(`relative_url` "me/messages", the Send API fields form-encoded in `body`). Each operation
is counted as a single call is, and the answer is one `{"code": 200, "body": ...}` per
operation, in order; a malformed batch gets a 400. HTTP requests (single calls and batches)
and batches are counted apart from the calls they carry.

`GET /{version}/{psid}?fields=...` is the User Profile API: it answers the fields asked
of one made-up profile (PROFILE) and counts the calls and the people asked about.

`GET /stats` returns all of it as JSON; `POST /reset` clears it. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qs

from runtime.messenger.batch import MalformedBatch, decode_batch_request

HEADER_END = b"\r\n\r\n"
MAX_HEAD = 64 * 1024
BAD_REQUEST = b'{"error":{"message":"bad request","code":100}}'
PROFILE = {"first_name": "Ada", "last_name": "Lovelace", "name": "Ada Lovelace", "locale": "en_GB"}


@dataclass(slots=True)
class Counts:
    """What the fake has seen since the last reset."""

    probe_prefix: str
    messages: int = 0
    actions: int = 0
    other: int = 0  # calls that are neither, and malformed batches (should stay 0)
    requests: int = 0  # HTTP POSTs to the Send API or the batch endpoint
    batches: int = 0  # of which batch requests
    first_message_at: float | None = None
    last_message_at: float | None = None
    probes: dict[str, float] = field(default_factory=dict)  # psid -> first message arrival
    message_ids: int = 0
    profile_calls: int = 0  # User Profile API calls
    profile_people: set[str] = field(default_factory=set)  # the PSIDs they asked about

    def single(self, body: bytes) -> bytes:
        """Count one HTTP request carrying one Send API call (JSON); the answer's JSON."""
        self.requests += 1
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        return self.record(data)

    def batch(self, content_type: str, body: bytes) -> tuple[int, bytes]:
        """Count one batch request and each call in it; the answer's status and JSON."""
        self.requests += 1
        self.batches += 1
        try:
            operations = decode_batch_request(content_type, body).operations
        except MalformedBatch as error:
            self.other += 1
            message = json.dumps(f"bad batch: {error}")
            return 400, b'{"error":{"message":%s,"code":100}}' % message.encode()
        results = []
        for operation in operations:
            answer = self.record(operation.body)
            code = 400 if answer is BAD_REQUEST else 200
            results.append({"code": code, "body": answer.decode()})
        return 200, json.dumps(results, separators=(",", ":")).encode()

    def record(self, data: Any) -> bytes:
        """Count one Send API call (its body, decoded as JSON) and return the answer's JSON."""
        now = time.time()
        try:
            psid = str(data["recipient"]["id"])
        except (KeyError, TypeError):
            self.other += 1
            return BAD_REQUEST
        if "sender_action" in data:
            self.actions += 1
            return b'{"recipient_id":"%s"}' % psid.encode()
        if "message" not in data:
            self.other += 1
        self.messages += 1
        if self.first_message_at is None:
            self.first_message_at = now
        self.last_message_at = now
        if psid.startswith(self.probe_prefix) and psid not in self.probes:
            self.probes[psid] = now
        self.message_ids += 1
        return b'{"recipient_id":"%s","message_id":"m_fake%d"}' % (
            psid.encode(),
            self.message_ids,
        )

    def profile(self, psid: str, query: str) -> bytes:
        """Count one User Profile API call; the fields asked for, of PROFILE."""
        self.profile_calls += 1
        self.profile_people.add(psid)
        asked = parse_qs(query).get("fields", [""])[0].split(",")
        return json.dumps({"id": psid, **{k: v for k, v in PROFILE.items() if k in asked}}).encode()

    def snapshot(self) -> dict[str, object]:
        return {
            "messages": self.messages,
            "actions": self.actions,
            "other": self.other,
            "requests": self.requests,
            "batches": self.batches,
            "first_message_at": self.first_message_at,
            "last_message_at": self.last_message_at,
            "probes": self.probes,
            "profile_calls": self.profile_calls,
            "profile_people": len(self.profile_people),
        }

    def reset(self) -> None:
        self.messages = self.actions = self.other = self.requests = self.batches = 0
        self.first_message_at = self.last_message_at = None
        self.probes = {}
        self.profile_calls = 0
        self.profile_people = set()


class GraphProtocol(asyncio.Protocol):
    """One keep-alive connection: parse requests as they complete, answer each in order."""

    def __init__(self, counts: Counts) -> None:
        self.counts = counts
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(HEADER_END)
            if end < 0:
                if len(self.buffer) > MAX_HEAD:
                    self.close()
                return
            head = self.buffer[:end].decode("latin-1")
            length, content_type = _read_head(head)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            self.answer(head.split(" ", 2), content_type, body)

    def answer(self, request_line: list[str], content_type: str, body: bytes) -> None:
        method, target = request_line[0], request_line[1] if len(request_line) > 1 else ""
        self.send(*respond(self.counts, method, target, content_type, body))

    def send(self, status: int, payload: bytes) -> None:
        if self.transport is None:
            return
        reason = b"OK" if status == 200 else b"Error"
        self.transport.write(
            b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (status, reason, len(payload), payload)
        )

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def respond(
    counts: Counts, method: str, target: str, content_type: str, body: bytes
) -> tuple[int, bytes]:
    """The status and JSON answer to one request, whatever HTTP version carried it."""
    path, _, query = target.partition("?")
    if method == "GET" and _is_profile_path(path):
        return 200, counts.profile(path.rsplit("/", 1)[1], query)
    if method == "POST" and path.endswith("/me/messages"):
        return 200, counts.single(body)
    if method == "POST" and _is_batch_path(path):
        return counts.batch(content_type, body)
    if method == "GET" and path == "/stats":
        return 200, json.dumps(counts.snapshot()).encode()
    if method == "POST" and path == "/reset":
        counts.reset()
        return 200, b"{}"
    return 404, b'{"error":{"message":"unknown path","code":803}}'


def _read_head(head: str) -> tuple[int, str]:
    """Content-Length (0 when absent) and Content-Type ("" when absent) of a request head."""
    length, content_type = 0, ""
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "content-type":
            content_type = value.strip()
    return length, content_type


def _is_profile_path(path: str) -> bool:
    """`/{version}/{psid}`: a version, then a PSID (digits)."""
    version, _, psid = path.strip("/").partition("/")
    return bool(version) and psid.isdigit()


def _is_batch_path(path: str) -> bool:
    """`/{version}/` or `/{version}`: one path segment, not one of the fake's own."""
    segment = path.strip("/")
    return bool(segment) and "/" not in segment and segment not in ("reset", "stats")


async def serve(port: int, probe_prefix: str) -> None:
    counts = Counts(probe_prefix=probe_prefix)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: GraphProtocol(counts), "127.0.0.1", port)
    print(f"fake graph on http://127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--probe-prefix", default="9")
    args = parser.parse_args()
    run(serve(args.port, args.probe_prefix))


def run(main: Coroutine[None, None, None]) -> None:
    """Run on uvloop when it is installed (Sanic uses it too), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


if __name__ == "__main__":
    main()
