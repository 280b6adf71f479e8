"""HTTP/1.1 against HTTP/2 for the Send API client: the CPU an httpx request costs us.

    pip install "httpx[http2]"     # h2, for this benchmark only
    python bench/http2_bench.py [--requests 4000] [--reps 3]

The project's send path is httpx: 16 sender coroutines over 4 `AsyncClient`s. This sends
the same requests the senders send (a batch of 10 calls, the size the load benchmark sees
under a burst, and a single call) to a Graph API fake speaking HTTP/1.1 (bench/fake_graph.py)
or HTTP/2 without TLS (prior knowledge, below), and reports what the client process spent:
CPU microseconds a request and requests a second. The server runs in its own process on
CPU 1, the client on CPU 0. Against the real Graph API, HTTP/2 would be negotiated over TLS
(ALPN); TLS costs both the same, so loopback cleartext compares the protocols themselves.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import rig
from bench.fake_graph import Counts, respond, run
from runtime.messenger.batch import BatchCall, encode_batch

SENDERS, POOLS = 16, 4  # as the project's SenderPool and GraphClient
REPLY = {
    "text": "Hi there! What do you need?",
    "quick_replies": [
        {"content_type": "text", "title": title, "payload": title.upper()}
        for title in ("Pricing", "Our products", "Sign up", "Talk to a human")
    ],
}


# -- the HTTP/2 fake ---------------------------------------------------------------------
class H2Protocol(asyncio.Protocol):
    """HTTP/2 with prior knowledge: answers Send API and batch POSTs as fake_graph does."""

    def __init__(self, counts: Counts) -> None:
        from h2.config import H2Configuration
        from h2.connection import H2Connection

        self.counts = counts
        self.conn = H2Connection(config=H2Configuration(client_side=False))
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, tuple[dict[str, str], bytearray]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.conn.initiate_connection()
        self.transport.write(self.conn.data_to_send())

    def data_received(self, data: bytes) -> None:
        from h2 import events

        for event in self.conn.receive_data(data):
            if isinstance(event, events.RequestReceived):
                headers = {_text(name): _text(value) for name, value in event.headers}
                self.streams[event.stream_id] = (headers, bytearray())
            elif isinstance(event, events.DataReceived):
                self.streams[event.stream_id][1].extend(event.data)
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, events.StreamEnded):
                headers, body = self.streams.pop(event.stream_id)
                self.answer(event.stream_id, headers, bytes(body))
        if self.transport is not None:
            self.transport.write(self.conn.data_to_send())

    def answer(self, stream_id: int, headers: dict[str, str], body: bytes) -> None:
        status, payload = respond(
            self.counts,
            headers.get(":method", ""),
            headers.get(":path", ""),
            headers.get("content-type", ""),
            body,
        )
        self.conn.send_headers(
            stream_id,
            [
                (":status", str(status)),
                ("content-type", "application/json"),
                ("content-length", str(len(payload))),
            ],
        )
        self.conn.send_data(stream_id, payload, end_stream=True)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def serve_h2(port: int) -> None:
    counts = Counts(probe_prefix="9")
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: H2Protocol(counts), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


# -- the client --------------------------------------------------------------------------
def batch_body(first_psid: int, calls: int) -> tuple[bytes, str]:
    """A batch like the senders send: mark_seen, typing_on and the reply of a few people."""
    batch: list[BatchCall] = []
    person = first_psid
    while len(batch) < calls:
        psid = str(person)
        batch.append(BatchCall(psid, {"recipient": {"id": psid}, "sender_action": "mark_seen"}))
        batch.append(BatchCall(psid, {"recipient": {"id": psid}, "sender_action": "typing_on"}))
        reply = {"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": REPLY}
        batch.append(BatchCall(psid, reply))
        person += 1
    encoded = encode_batch("bench-token", batch[:calls])
    return encoded.content, encoded.content_type


async def drive(base: str, *, http2: bool, calls: int, requests: int) -> tuple[float, float]:
    """Send `requests` requests of `calls` calls each; (CPU s, wall s) of this process."""
    clients = [
        httpx.AsyncClient(
            http1=not http2,
            http2=http2,
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
            timeout=httpx.Timeout(10.0),
        )
        for _ in range(POOLS)
    ]
    if calls == 1:
        one = {"recipient": {"id": "1000"}, "messaging_type": "RESPONSE", "message": REPLY}
        url, content, content_type = f"{base}/v25.0/me/messages", None, "application/json"
        json_body: dict[str, Any] | None = one
    else:
        url, json_body = f"{base}/v25.0/", None
        content, content_type = batch_body(1000, calls)

    async def sender(number: int, count: int) -> None:
        client = clients[number % POOLS]
        for _ in range(count):
            if json_body is not None:
                answer = await client.post(url, json=json_body, params={"access_token": "t"})
            else:
                headers = {"Content-Type": content_type}
                answer = await client.post(url, content=content, headers=headers)
            if answer.status_code != 200:
                raise RuntimeError(f"the fake answered {answer.status_code}")

    await asyncio.gather(*(sender(n, 20) for n in range(SENDERS)))  # warm the connections
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(sender(n, requests // SENDERS) for n in range(SENDERS)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    for client in clients:
        await client.aclose()
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--serve", choices=("h2",), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve == "h2":
        run(serve_h2(args.port))
        return
    os.sched_setaffinity(0, {0})
    servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    for protocol in ("h1", "h2"):
        port = rig.free_port()
        command = [sys.executable, str(Path(__file__).parent / "fake_graph.py")]
        if protocol == "h2":
            command = [sys.executable, __file__, "--serve", "h2"]
        command = ["taskset", "-c", "1", *command, "--port", str(port)]
        servers[protocol] = (subprocess.Popen(command), port)
    time.sleep(1.5)
    results: dict[tuple[str, int], list[tuple[float, float]]] = {}
    try:
        for _ in range(args.reps):
            for calls in (10, 1):
                for protocol, (_, port) in servers.items():
                    figures = asyncio.run(
                        drive(
                            f"http://127.0.0.1:{port}",
                            http2=protocol == "h2",
                            calls=calls,
                            requests=args.requests,
                        )
                    )
                    results.setdefault((protocol, calls), []).append(figures)
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=10)
    print(f"{args.requests} requests a run, medians of {args.reps}; client on one core\n")
    print("| Request | Protocol | Client CPU a request (µs) | a call (µs) | Requests/s |")
    print("|---|---|---:|---:|---:|")
    for (protocol, calls), runs in results.items():
        cpu = statistics.median(run[0] for run in runs) / args.requests * 1e6
        rate = statistics.median(args.requests / run[1] for run in runs)
        what = f"batch of {calls} calls" if calls > 1 else "single call"
        name = "HTTP/1.1" if protocol == "h1" else "HTTP/2"
        print(f"| {what} | {name} | {cpu:,.0f} | {cpu / calls:,.0f} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
