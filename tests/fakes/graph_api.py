"""A fake Graph API: a real HTTP server on 127.0.0.1 that records what it gets.

It answers `POST /{version}/me/messages` like the Send API, or from a script of replies
(`reply_next`): error codes, 500s, slow answers. `refuse()` closes its listening socket so
connections are refused (an outage) until `accept()` opens the same port again.

It also answers batch requests, `POST /{version}/` with the form fields `access_token`,
`include_headers` and `batch` (multipart or urlencoded, as `runtime/messenger/batch.py`
sends them). Each operation of a batch is one Send API call, treated exactly like a single
call: it takes the next scripted reply and is recorded as a `Recorded` with the path,
token and JSON body a single call would have had, plus `batch`, the number of the batch
request it came in. An operation whose `depends_on` parent failed or did not run is not
run: not recorded, no scripted reply taken, `null` in the answer. The answer is a JSON
list, one `{"code": ..., "body": "<JSON text>"}` (or `null`) per operation, in order.
A batch that cannot be parsed is answered 400 with nothing recorded; `fail_next_batch`
fails the next batch request as a whole, before any of its operations runs.
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

from runtime.messenger.batch import SEND_API_PATH, MalformedBatch, decode_batch_request


@dataclass(frozen=True)
class Recorded:
    path: str
    query: dict[str, str]
    json: dict[str, Any]
    at: float
    status: int  # what the fake answered
    batch: int | None = None  # the batch request it came in (1, 2, ...); None: a single call

    @property
    def delivered(self) -> bool:
        return self.status < 400

    @property
    def psid(self) -> str:
        return str(self.json.get("recipient", {}).get("id"))

    @property
    def sender_action(self) -> str | None:
        action = self.json.get("sender_action")
        return None if action is None else str(action)

    @property
    def text(self) -> str | None:
        text = self.json.get("message", {}).get("text")
        return None if text is None else str(text)

    @property
    def token(self) -> str | None:
        return self.query.get("access_token")


@dataclass(frozen=True)
class Reply:
    status: int = 200
    json: dict[str, Any] | None = None
    delay: float = 0.0


@dataclass(frozen=True)
class _Answer:
    """One HTTP answer of the fake: status, JSON payload, and how long to wait first."""

    status: int
    payload: Any
    delay: float = 0.0


@dataclass
class FakeGraphAPI:
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Recorded] = field(default_factory=list)
    batch_failures: list[int] = field(default_factory=list)  # numbers of batches failed whole
    _script: deque[Reply] = field(default_factory=deque)
    _batch_script: deque[Reply] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _counter: int = 0
    _batches: int = 0

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- scripting -----------------------------------------------------------------------
    def reply_next(
        self, status: int = 200, json: dict[str, Any] | None = None, delay: float = 0.0
    ) -> None:
        """Answer the next call (in arrival order, single or batched) with this."""
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

    def fail_next_batch(
        self, status: int = 500, json: dict[str, Any] | None = None, *, delay: float = 0.0
    ) -> None:
        """Answer the next batch request as a whole with this; none of its calls runs.

        Single calls are not affected. Without `json`, a transient Graph API error (code 2).
        """
        if json is None:
            json = {
                "error": {
                    "message": "An unexpected error has occurred. Please retry your request later.",
                    "type": "OAuthException",
                    "is_transient": True,
                    "code": 2,
                    "fbtrace_id": "Atrace",
                }
            }
        with self._lock:
            self._batch_script.append(Reply(status, json, delay))

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
        """Every call answered 2xx, in arrival order."""
        with self._lock:
            return [r for r in self.requests if r.delivered]

    def attempts(self) -> list[Recorded]:
        """Every call, failed ones included."""
        with self._lock:
            return list(self.requests)

    @property
    def batches(self) -> int:
        """How many batch requests arrived (failed and unreadable ones included)."""
        with self._lock:
            return self._batches

    @property
    def failed_batches(self) -> int:
        """How many batch requests `fail_next_batch` failed as a whole."""
        with self._lock:
            return len(self.batch_failures)

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

    # -- answering -----------------------------------------------------------------------
    def _single(self, path: str, query: dict[str, str], raw: bytes) -> _Answer:
        """One Send API call with a JSON body."""
        try:
            body = json.loads(raw)
        except ValueError:  # a sender killed mid-request: Meta would refuse it too
            body = {"_raw": raw.decode(errors="replace")}
        with self._lock:
            reply = (self._script.popleft() if self._script else None) or Reply()
            if "_raw" in body:
                reply = Reply(400, {"error": {"message": "malformed body", "code": 100}})
            status, payload = self._call(path, query, body, reply, batch=None)
        return _Answer(status, payload, reply.delay)

    def _call(
        self,
        path: str,
        query: dict[str, str],
        body: dict[str, Any],
        reply: Reply,
        *,
        batch: int | None,
    ) -> tuple[int, Any]:
        """Record one call answered `reply`; its status and JSON answer. Holds the lock."""
        self.requests.append(Recorded(path, query, body, time.monotonic(), reply.status, batch))
        self._counter += 1
        if reply.json is not None:
            return reply.status, reply.json
        recipient = body.get("recipient")
        psid = recipient.get("id") if isinstance(recipient, dict) else None
        return reply.status, {"recipient_id": str(psid), "message_id": f"m_fake{self._counter}"}

    def _batch(self, version: str, query: dict[str, str], content_type: str, raw: bytes) -> _Answer:
        """A batch request: run its operations in order, as single calls would run."""
        with self._lock:
            self._batches += 1
            number = self._batches
        try:
            request = decode_batch_request(content_type, raw)
            token = request.token or query.get("access_token")
            if not token:
                raise MalformedBatch("the batch request carries no access_token")
        except MalformedBatch as err:
            error = {"message": f"(#100) {err}", "type": "OAuthException", "code": 100}
            return _Answer(400, {"error": error})
        headers = request.fields.get("include_headers", "true").lower() != "false"
        with self._lock:
            if self._batch_script:
                failure = self._batch_script.popleft()
                self.batch_failures.append(number)
                return _Answer(failure.status, failure.json, failure.delay)
            succeeded: set[str] = set()
            results: list[dict[str, Any] | None] = []
            delay = 0.0
            for operation in request.operations:
                if operation.depends_on is not None and operation.depends_on not in succeeded:
                    results.append(None)
                    continue
                reply = (self._script.popleft() if self._script else None) or Reply()
                delay += reply.delay
                status, payload = self._call(
                    f"/{version}/{SEND_API_PATH}",
                    {"access_token": token},
                    operation.body,
                    reply,
                    batch=number,
                )
                if status < 400 and operation.name is not None:
                    succeeded.add(operation.name)
                if status < 400 and operation.omit_response:
                    results.append(None)
                    continue
                result: dict[str, Any] = {"code": status, "body": json.dumps(payload)}
                if headers:
                    result["headers"] = [
                        {"name": "Content-Type", "value": "application/json; charset=UTF-8"}
                    ]
                results.append(result)
        return _Answer(200, results, delay)

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
                version = url.path.strip("/")
                if version and "/" not in version:
                    content_type = self.headers.get("Content-Type") or ""
                    answer = fake._batch(version, query, content_type, raw)
                else:
                    answer = fake._single(url.path, query, raw)
                if answer.delay:
                    time.sleep(answer.delay)
                data = json.dumps(answer.payload).encode()
                self.send_response(answer.status)
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
