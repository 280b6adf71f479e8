"""A stand-in for a business's API that takes its time: every call answers after a delay.

    python bench/slow_api.py --port 9100 --delay 1.0

Raw asyncio (uvloop when installed) on loopback, like bench/fake_graph.py, whose HTTP/1.1
request reading it reuses. Any request to `/orders/...` is answered after `--delay` seconds
(`asyncio.sleep`: the server keeps taking other calls meanwhile) with
`{"number": ..., "status": "shipped"}`, JSON, keep-alive. `GET /stats` answers at once with
how many calls came and how many were answered; `POST /reset` clears them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fake_graph import HEADER_END, MAX_HEAD, _read_head, run


@dataclass(slots=True)
class Counts:
    calls: int = 0  # `/orders/...` requests received
    answered: int = 0  # of which answered


class ApiProtocol(asyncio.Protocol):
    """One keep-alive connection. httpx sends one request at a time on a connection, so a
    request's answer is written when its delay is over, in order."""

    def __init__(self, counts: Counts, delay: float) -> None:
        self.counts = counts
        self.delay = delay
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.pending: asyncio.Task[None] | None = None  # the answers being written, in order

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(HEADER_END)
            if end < 0:
                if len(self.buffer) > MAX_HEAD and self.transport is not None:
                    self.transport.close()
                return
            head = self.buffer[:end].decode("latin-1")
            length, _ = _read_head(head)
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            method, target = [*head.split(" ", 2), "", ""][:2]
            self.pending = asyncio.ensure_future(self.answer(method, target, self.pending))

    async def answer(self, method: str, target: str, before: asyncio.Task[None] | None) -> None:
        path = target.partition("?")[0]
        status, payload = 404, b'{"error":"unknown path"}'
        if path.startswith("/orders/"):
            self.counts.calls += 1
            await asyncio.sleep(self.delay)
            self.counts.answered += 1
            number = path.rsplit("/", 1)[1]
            status, payload = 200, json.dumps({"number": number, "status": "shipped"}).encode()
        elif method == "GET" and path == "/stats":
            status, payload = (
                200,
                json.dumps({"calls": self.counts.calls, "answered": self.counts.answered}).encode(),
            )
        elif method == "POST" and path == "/reset":
            self.counts.calls = self.counts.answered = 0
            status, payload = 200, b"{}"
        if before is not None:
            await before  # answers leave in the order the requests came
        if self.transport is not None and not self.transport.is_closing():
            reason = b"OK" if status == 200 else b"Not Found"
            self.transport.write(
                b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                b"\r\n%s" % (status, reason, len(payload), payload)
            )

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(port: int, delay: float) -> None:
    counts = Counts()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: ApiProtocol(counts, delay), "127.0.0.1", port)
    print(f"slow API on http://127.0.0.1:{port}, answering after {delay:g} s", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=1.0, help="seconds before each answer")
    args = parser.parse_args()
    run(serve(args.port, args.delay))


if __name__ == "__main__":
    main()
