"""A fake Graph API: a real HTTP server on 127.0.0.1 that records what it gets.

It answers `POST /{version}/me/messages` like the Send API, or from a script of replies
(`reply_next`): error codes, 500s, slow answers. `refuse()` closes its listening socket so
connections are refused (an outage) until `accept()` opens the same port again.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Recorded:
    path: str
    query: dict[str, str]
    json: dict[str, Any]
    at: float
    status: int  # what the fake answered

    @property
    def delivered(self) -> bool:
        return self.status < 400

    @property
    def psid(self) -> str:
        return str(self.json.get("recipient", {}).get("id"))

    @property
    def sender_action(self) -> str | None:
        return self.json.get("sender_action")

    @property
    def text(self) -> str | None:
        return self.json.get("message", {}).get("text")

    @property
    def token(self) -> str | None:
        return self.query.get("access_token")


@dataclass(frozen=True)
class Reply:
    status: int = 200
    json: dict[str, Any] | None = None
    delay: float = 0.0


@dataclass
class FakeGraphAPI:
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Recorded] = field(default_factory=list)
    _script: deque[Reply] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _counter: int = 0

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- scripting -----------------------------------------------------------------------
    def reply_next(
        self, status: int = 200, json: dict[str, Any] | None = None, delay: float = 0.0
    ) -> None:
        """Answer the next request (in arrival order) with this, instead of success."""
        with self._lock:
            self._script.append(Reply(status, json, delay))

    def error_next(
        self, code: int, *, status: int = 400, subcode: int | None = None, message: str = "error"
    ) -> None:
        error: dict[str, Any] = {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "fbtrace_id": "Atrace",
        }
        if subcode is not None:
            error["error_subcode"] = subcode
        self.reply_next(status, {"error": error})

    # -- what arrived --------------------------------------------------------------------
    def messages(self, psid: str | None = None) -> list[Recorded]:
        """Messages delivered (answered 2xx; sender actions not counted), in arrival order."""
        return [
            r for r in self.all() if r.sender_action is None and (psid is None or r.psid == psid)
        ]

    def actions(self, psid: str | None = None) -> list[Recorded]:
        """Sender actions delivered, in arrival order."""
        return [
            r
            for r in self.all()
            if r.sender_action is not None and (psid is None or r.psid == psid)
        ]

    def all(self) -> list[Recorded]:
        """Every request answered 2xx, in arrival order."""
        with self._lock:
            return [r for r in self.requests if r.delivered]

    def attempts(self) -> list[Recorded]:
        """Every request, failed ones included."""
        with self._lock:
            return list(self.requests)

    async def wait_for(
        self, count: int, *, kind: str = "messages", psid: str | None = None, within: float = 10.0
    ) -> list[Recorded]:
        """Wait (with a deadline) until `count` message sends (or `kind="all"` requests) arrived."""
        deadline = time.monotonic() + within
        while True:
            found = (
                self.all()
                if kind == "all"
                else self.messages(psid)
                if kind == "messages"
                else self.actions(psid)
            )
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"expected {count} {kind}, got {len(found)}: {[r.json for r in found]}"
                )
            await asyncio.sleep(0.01)

    def wait_sync(self, count: int, *, within: float = 10.0) -> list[Recorded]:
        """`wait_for` for tests without an event loop (a server in another process)."""
        deadline = time.monotonic() + within
        while len(self.messages()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} messages, got {len(self.messages())}")
            time.sleep(0.01)
        return self.messages()

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> FakeGraphAPI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                try:
                    body = json.loads(raw)
                except ValueError:  # a sender killed mid-request: Meta would refuse it too
                    body = {"_raw": raw.decode(errors="replace")}
                with fake._lock:
                    reply = (fake._script.popleft() if fake._script else None) or Reply()
                    if "_raw" in body:
                        reply = Reply(400, {"error": {"message": "malformed body", "code": 100}})
                    fake.requests.append(
                        Recorded(url.path, query, body, time.monotonic(), reply.status)
                    )
                    fake._counter += 1
                    number = fake._counter
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.json
                if payload is None:
                    payload = {
                        "recipient_id": str(body.get("recipient", {}).get("id")),
                        "message_id": f"m_fake{number}",
                    }
                data = json.dumps(payload).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                return

        server = ThreadingHTTPServer((self.host, self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="fake-graph", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def refuse(self) -> None:
        """An outage: close the listening socket, so connections are refused."""
        self.stop()

    def accept(self) -> None:
        """The outage ends: listen on the same port again."""
        self.start()
