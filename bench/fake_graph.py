"""A fast fake Graph API for the load benchmark: answers Send API calls and counts them.

    python bench/fake_graph.py --port 9000 [--probe-prefix 9]

Raw asyncio (uvloop when installed) with a minimal HTTP/1.1 keep-alive parser, so that it
costs far less CPU per call than the servers it measures. `POST /{version}/me/messages`
answers `{"recipient_id": ..., "message_id": ...}` and counts message requests and sender
actions; it keeps the wall-clock arrival (`time.time()`) of the first and last message and
of the first message to each PSID that starts with the probe prefix. `GET /stats` returns
all of it as JSON; `POST /reset` clears it. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import cast

HEADER_END = b"\r\n\r\n"
MAX_HEAD = 64 * 1024


@dataclass(slots=True)
class Counts:
    """What the fake has seen since the last reset."""

    probe_prefix: str
    messages: int = 0
    actions: int = 0
    other: int = 0  # POSTs that are neither (should stay 0)
    first_message_at: float | None = None
    last_message_at: float | None = None
    probes: dict[str, float] = field(default_factory=dict)  # psid -> first message arrival
    message_ids: int = 0

    def record(self, body: bytes) -> bytes:
        """Count one Send API call and return the answer's JSON."""
        now = time.time()
        try:
            data = json.loads(body)
            psid = str(data["recipient"]["id"])
        except (ValueError, KeyError, TypeError):
            self.other += 1
            return b'{"error":{"message":"bad request","code":100}}'
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

    def snapshot(self) -> dict[str, object]:
        return {
            "messages": self.messages,
            "actions": self.actions,
            "other": self.other,
            "first_message_at": self.first_message_at,
            "last_message_at": self.last_message_at,
            "probes": self.probes,
        }

    def reset(self) -> None:
        self.messages = self.actions = self.other = 0
        self.first_message_at = self.last_message_at = None
        self.probes = {}


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
            length = _content_length(head)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            self.answer(head.split(" ", 2), body)

    def answer(self, request_line: list[str], body: bytes) -> None:
        method, target = request_line[0], request_line[1] if len(request_line) > 1 else ""
        path = target.split("?", 1)[0]
        if method == "POST" and path.endswith("/me/messages"):
            self.send(200, self.counts.record(body))
        elif method == "GET" and path == "/stats":
            self.send(200, json.dumps(self.counts.snapshot()).encode())
        elif method == "POST" and path == "/reset":
            self.counts.reset()
            self.send(200, b"{}")
        else:
            self.send(404, b'{"error":{"message":"unknown path","code":803}}')

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


def _content_length(head: str) -> int:
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            return int(value.strip())
    return 0


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
