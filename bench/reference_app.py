"""The issue's reference: a bare Sanic webhook doing only the unavoidable work for one "hi".

    python bench/reference_app.py --port 8100 --graph-base http://127.0.0.1:9000 \
        --secret s --workers 1

Verify the HMAC of the raw body, parse the JSON, answer 200; for each text message send the
Graph calls the project sends (mark_seen, typing_on, the welcome reply) through a fixed set
of sender coroutines fed by queues sharded by PSID, over a few httpx pools. No store.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import zlib
from functools import partial
from typing import Any

import httpx
from sanic import Request, Sanic, response
from sanic.worker.loader import AppLoader

SHARDS, POOLS = 16, 4  # as the project's SenderPool and GraphClient
QUICK_REPLIES = [("Pricing", "PRICING"), ("Our products", "PRODUCTS"), ("Sign up", "SIGNUP")]
QUICK_REPLIES += [("Talk to a human", "HUMAN")]
REPLY = {
    "text": "Hi there! What do you need?",
    "quick_replies": [{"content_type": "text", "title": t, "payload": p} for t, p in QUICK_REPLIES],
}


def create_app(graph_base: str, secret: str) -> Sanic[Any, Any]:
    app: Sanic[Any, Any] = Sanic("reference", configure_logging=False)
    url, key = f"{graph_base.rstrip('/')}/v25.0/me/messages", secret.encode()

    async def send_loop(queue: asyncio.Queue[dict[str, Any]], client: httpx.AsyncClient) -> None:
        while True:
            body = await queue.get()
            try:
                answer = await client.post(
                    url,
                    params={"access_token": "bench-token"},
                    content=json.dumps(body, separators=(",", ":")).encode(),
                    headers={"Content-Type": "application/json"},
                )
                if answer.status_code >= 400:
                    print(f"reference: Graph API answered {answer.status_code}", flush=True)
            except httpx.HTTPError as err:
                print(f"reference: send failed: {err!r}", flush=True)

    @app.before_server_start
    async def start(app: Sanic[Any, Any]) -> None:
        timeout = httpx.Timeout(10.0, connect=5.0, pool=5.0)
        limits = httpx.Limits(max_connections=16)
        clients = [httpx.AsyncClient(timeout=timeout, limits=limits) for _ in range(POOLS)]
        app.ctx.queues = [asyncio.Queue() for _ in range(SHARDS)]
        for number, queue in enumerate(app.ctx.queues):
            app.add_task(send_loop(queue, clients[number % POOLS]), name=f"sender-{number}")

    @app.post("/webhook/messenger")
    async def receive(request: Request) -> response.HTTPResponse:
        expected = "sha256=" + hmac.new(key, request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("x-hub-signature-256", "")):
            return response.text("bad signature", status=403)
        for entry in json.loads(request.body).get("entry", ()):
            for event in entry.get("messaging", ()):
                if "text" in event.get("message", {}):
                    psid = event["sender"]["id"]
                    queue = request.app.ctx.queues[zlib.crc32(psid.encode()) % SHARDS]
                    for action in ("mark_seen", "typing_on"):
                        queue.put_nowait({"recipient": {"id": psid}, "sender_action": action})
                    reply = {"recipient": {"id": psid}, "messaging_type": "RESPONSE"}
                    queue.put_nowait(reply | {"message": REPLY})
        return response.text("EVENT_RECEIVED")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    for flag in ("--port", "--workers"):
        parser.add_argument(flag, type=int, required=flag == "--port", default=1)
    parser.add_argument("--graph-base", required=True)
    parser.add_argument("--secret", required=True)
    args = parser.parse_args()
    loader = AppLoader(factory=partial(create_app, args.graph_base, args.secret))
    app = loader.load()
    app.prepare(host="127.0.0.1", port=args.port, workers=args.workers, access_log=False,
                motd=False, single_process=args.workers == 1)  # fmt: skip
    if args.workers == 1:
        Sanic.serve_single(primary=app)
    else:
        Sanic.serve(primary=app, app_loader=loader)


if __name__ == "__main__":
    main()
