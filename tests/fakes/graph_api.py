"""A fake Graph API: a real HTTP server on 127.0.0.1 that records what it gets.

It answers `POST /{version}/me/messages` like the Send API, or from a script of replies
(`reply_next`): error codes, 500s, slow answers. `refuse()` closes its listening socket and
the connections open on it, so connections are refused (an outage) until `accept()` opens
the same port again.

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

Beyond the Send API it plays the rest of what the runtime calls, keeping state like Meta:

- `GET/POST/DELETE /{version}/me/messenger_profile`: `page_profiles[token]` holds each
  page's fields; GET answers `{"data": [{...}]}` (`[]` when nothing is set), POST merges and
  answers `{"result": "success"}`, DELETE `{"fields": [...]}` removes. A nested menu is
  refused with Meta's (#11), a persistent menu without get_started with (#100).
- `GET/POST /{version}/me/subscribed_apps`: `subscriptions[token]`, the fields subscribed.
- `GET /{version}/{psid}?fields=...`: `people[psid]`, the fields asked for that it has
  (and `id` when asked); `{}` for anyone else (as Meta answers when it may not say). A
  request naming a field of `unpermitted` (the app lacks its permission: `locale` without
  `pages_user_locale`) fails whole, as Meta's: (#100) subcode 2018247, HTTP 400.
- `POST /{version}/me/pass_thread_control` and `take_thread_control`: `{"success": true}`.
- `POST /{version}/me/message_attachments` (multipart): a new `attachment_id`; the file's
  bytes are in the `Recorded`'s `files`. As Meta, a message may send an `attachment_id`
  only with the token of the page that uploaded it (`uploaded[id]`), and an attachment
  payload with neither `url` nor `attachment_id` is refused (#100).

`reply_next` scripts the Send API (messages, sender actions, thread control: what an
outbox row carries); `reply_next_to(endpoint, ...)` scripts any other endpoint, or one
outbox endpoint alone (`me/pass_thread_control`: its next call, whatever comes before it).
`calls()` lists every request of any endpoint; `messages()`, `actions()` and `all()` only
Send API calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from runtime.messenger.batch import SEND_API_PATH, MalformedBatch, decode_batch_request
from runtime.messenger.endpoints import (
    MESSAGE_ATTACHMENTS,
    MESSENGER_PROFILE,
    OUTBOX_ENDPOINTS,
    PASS_THREAD_CONTROL,
    SUBSCRIBED_APPS,
    TAKE_THREAD_CONTROL,
)

FAKE_APP_ID = "1100000000000001"  # the app the fake says is subscribed, and owns threads


@dataclass(frozen=True)
class Recorded:
    path: str
    query: dict[str, str]
    json: dict[str, Any]
    at: float
    status: int  # what the fake answered
    batch: int | None = None  # the batch request it came in (1, 2, ...); None: a single call
    method: str = "POST"
    files: dict[str, bytes] = field(default_factory=dict)  # multipart files, by field name

    @property
    def endpoint(self) -> str:
        """The path after the version: `me/messages`, `me/messenger_profile`, a PSID."""
        return self.path.strip("/").partition("/")[2]

    @property
    def is_send(self) -> bool:
        """A Send API call: a message or a sender action."""
        return self.endpoint == SEND_API_PATH

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
    page_profiles: dict[str, dict[str, Any]] = field(default_factory=dict)  # by token
    subscriptions: dict[str, list[str]] = field(default_factory=dict)  # by token
    people: dict[str, dict[str, Any]] = field(default_factory=dict)  # by PSID
    unpermitted: set[str] = field(default_factory=set)  # profile fields the app may not read
    uploaded: dict[str, str] = field(default_factory=dict)  # attachment id -> page token
    _script: deque[Reply] = field(default_factory=deque)
    _scripts: dict[str, deque[Reply]] = field(default_factory=dict)  # by endpoint
    _batch_script: deque[Reply] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _connections: set[socket.socket] = field(default_factory=set)  # open, kept alive
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

    def reply_next_to(
        self,
        endpoint: str,
        status: int = 200,
        json: dict[str, Any] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Answer the next call to `endpoint` (`me/messenger_profile`, `psid`: any but the
        Send API's) with this, instead of what the fake would answer."""
        with self._lock:
            self._scripts.setdefault(endpoint, deque()).append(Reply(status, json, delay))

    def error_next(
        self,
        code: int,
        *,
        status: int = 400,
        subcode: int | None = None,
        message: str = "error",
        endpoint: str | None = None,
    ) -> None:
        """Fail the next Send API call (or the next call to `endpoint`) with a Graph error."""
        body = {"error": graph_error(code, subcode=subcode, message=message)}
        if endpoint is None:
            self.reply_next(status, body)
        else:
            self.reply_next_to(endpoint, status, body)

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

    def calls(self, endpoint: str | None = None, *, method: str | None = None) -> list[Recorded]:
        """Every request to any endpoint (or to `endpoint`), failed ones included."""
        with self._lock:
            return [
                r
                for r in self.requests
                if (endpoint is None or r.endpoint == endpoint)
                and (method is None or r.method == method)
            ]

    def actions(self, psid: str | None = None) -> list[Recorded]:
        """Sender actions delivered, in arrival order."""
        return [
            r
            for r in self.all()
            if r.sender_action is not None and (psid is None or r.psid == psid)
        ]

    def all(self) -> list[Recorded]:
        """Every Send API call answered 2xx, in arrival order."""
        with self._lock:
            return [r for r in self.requests if r.delivered and r.is_send]

    def attempts(self) -> list[Recorded]:
        """Every Send API call, failed ones included."""
        with self._lock:
            return [r for r in self.requests if r.is_send]

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
            reply = self._next_reply(path.strip("/").partition("/")[2])
            if "_raw" in body:
                reply = Reply(400, {"error": {"message": "malformed body", "code": 100}})
            status, payload = self._call(path, query, body, reply, batch=None)
        return _Answer(status, payload, reply.delay)

    def _next_reply(self, endpoint: str) -> Reply:
        """An outbox call's scripted reply: its endpoint's own first, else the Send API's
        next, else a success. Holds the lock."""
        own = self._scripts.get(endpoint)
        if own:
            return own.popleft()
        return (self._script.popleft() if self._script else None) or Reply()

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
        refusal = self._attachment_refusal(query.get("access_token"), body)
        if refusal is not None:
            reply = Reply(400, {"error": graph_error(100, message=refusal)})
        self.requests.append(Recorded(path, query, body, time.monotonic(), reply.status, batch))
        self._counter += 1
        if reply.json is not None:
            return reply.status, reply.json
        if not path.endswith(SEND_API_PATH):  # thread control
            return reply.status, {"success": True}
        recipient = body.get("recipient")
        psid = recipient.get("id") if isinstance(recipient, dict) else None
        return reply.status, {"recipient_id": str(psid), "message_id": f"m_fake{self._counter}"}

    def _attachment_refusal(self, token: str | None, body: dict[str, Any]) -> str | None:
        """What Meta says to a message whose attachment it cannot send. Holds the lock."""
        message = body.get("message")
        attachment = message.get("attachment") if isinstance(message, dict) else None
        payload = attachment.get("payload") if isinstance(attachment, dict) else None
        if not isinstance(payload, dict) or attachment.get("type") == "template":
            return None
        if "attachment_id" in payload:
            if self.uploaded.get(str(payload["attachment_id"])) != token:
                return "(#100) The attachment_id is not valid for this page"
            return None
        if "url" not in payload:
            return "(#100) Attachment payload needs a url or an attachment_id"
        return None

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
                reply = self._next_reply(operation.path)
                delay += reply.delay
                status, payload = self._call(
                    f"/{version}/{operation.path}",
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

    def _other(
        self,
        method: str,
        path: str,
        endpoint: str,
        query: dict[str, str],
        content_type: str,
        raw: bytes,
    ) -> _Answer:
        """A call to anything but the Send API, answered as Meta would (or as scripted)."""
        files: dict[str, bytes] = {}
        if content_type.startswith("multipart/form-data"):
            fields, files = read_multipart(content_type, raw)
            body: dict[str, Any] = {k: _json_or_text(v) for k, v in fields.items()}
        else:
            try:
                loaded = json.loads(raw) if raw else {}
            except ValueError:
                loaded = {"_raw": raw.decode(errors="replace")}
            body = loaded if isinstance(loaded, dict) else {"_raw": loaded}
        token = query.get("access_token", "")
        with self._lock:
            script = self._scripts.get(endpoint)
            reply = script.popleft() if script else None
            if reply is not None and reply.json is not None:
                status, payload = reply.status, reply.json
            else:
                status, payload = self._meta(method, endpoint, token, query, body, files)
            self._counter += 1
            recorded = Recorded(path, query, body, time.monotonic(), status, None, method, files)
            self.requests.append(recorded)
        return _Answer(status, payload, reply.delay if reply else 0.0)

    def _meta(
        self,
        method: str,
        endpoint: str,
        token: str,
        query: dict[str, str],
        body: dict[str, Any],
        files: dict[str, bytes],
    ) -> tuple[int, Any]:
        """What Meta answers a call to `endpoint`, and the state it keeps. Holds the lock."""
        if endpoint == MESSENGER_PROFILE:
            return self._messenger_profile(method, token, query, body)
        if endpoint == SUBSCRIBED_APPS:
            fields = self.subscriptions.get(token)
            if method == "GET":
                app = {"id": FAKE_APP_ID, "name": "Fake App", "subscribed_fields": fields}
                return 200, {"data": [app] if fields is not None else []}
            wanted = query.get("subscribed_fields") or str(body.get("subscribed_fields", ""))
            self.subscriptions[token] = [field for field in wanted.split(",") if field]
            return 200, {"success": True}
        if endpoint in (PASS_THREAD_CONTROL, TAKE_THREAD_CONTROL):
            return 200, {"success": True}
        if endpoint == MESSAGE_ATTACHMENTS:
            if "filedata" not in files:
                return 400, {"error": graph_error(100, message="(#100) filedata is missing")}
            attachment_id = f"{7_000_000_000_000 + self._counter}"
            self.uploaded[attachment_id] = token
            return 200, {"attachment_id": attachment_id}
        if method == "GET" and endpoint.isdigit():  # the User Profile API
            person = self.people.get(endpoint, {})
            wanted = query.get("fields", "").split(",")
            if self.unpermitted.intersection(wanted):
                return 400, {"error": INSUFFICIENT_PERMISSION}
            found = {key: value for key, value in person.items() if key in wanted}
            return 200, {"id": endpoint, **found} if "id" in wanted else found
        return 404, {"error": graph_error(803, message=f"unknown path {endpoint}")}

    def _messenger_profile(
        self, method: str, token: str, query: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, Any]:
        page = self.page_profiles.setdefault(token, {})
        if method == "GET":
            wanted = query.get("fields", "").split(",")
            fields = {key: value for key, value in page.items() if key in wanted}
            return 200, {"data": [fields] if fields else []}
        if method == "DELETE":
            for name in body.get("fields", []):
                page.pop(name, None)
            return 200, {"result": "success"}
        menus = body.get("persistent_menu") or []
        for menu in menus:
            for item in menu.get("call_to_actions", []):
                if item.get("type") == "nested":
                    message = (
                        "(#11) Setting of Nested Persistent Menu has been deprecated for v8.0 "
                        "and higher"
                    )
                    return 400, {"error": graph_error(11, message=message)}
        if menus and "get_started" not in body and "get_started" not in page:
            message = (
                "(#100) You must set a Get Started button if you also wish to use persistent menu."
            )
            return 400, {"error": graph_error(100, message=message)}
        page.update(body)
        return 200, {"result": "success"}

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> FakeGraphAPI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with fake._lock:
                    fake._connections.add(self.connection)

            def finish(self) -> None:
                with fake._lock:
                    fake._connections.discard(self.connection)
                super().finish()

            def do_GET(self) -> None:
                self._answer("GET")

            def do_DELETE(self) -> None:
                self._answer("DELETE")

            def do_POST(self) -> None:
                self._answer("POST")

            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                version, _, endpoint = url.path.strip("/").partition("/")
                content_type = self.headers.get("Content-Type") or ""
                if method == "POST" and version and not endpoint:
                    answer = fake._batch(version, query, content_type, raw)
                elif method == "POST" and endpoint in OUTBOX_ENDPOINTS:
                    answer = fake._single(url.path, query, raw)
                else:
                    answer = fake._other(method, url.path, endpoint, query, content_type, raw)
                if answer.delay:
                    time.sleep(answer.delay)
                data = json.dumps(answer.payload).encode()
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the caller stopped waiting (a slow reply)

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
        """An outage: close the listening socket, so connections are refused, and the
        connections a client keeps alive, so they see the outage too."""
        self.stop()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def accept(self) -> None:
        """The outage ends: listen on the same port again."""
        self.start()


def graph_error(code: int, *, subcode: int | None = None, message: str = "error") -> dict[str, Any]:
    """A Graph API error object, as Meta shapes it."""
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "Atrace",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return error


# what the User Profile API answers a request naming a field the app has no permission for
INSUFFICIENT_PERMISSION = graph_error(
    100, subcode=2018247, message="(#100) Insufficient permission to access user profile."
)


def read_multipart(content_type: str, raw: bytes) -> tuple[dict[str, str], dict[str, bytes]]:
    """The text fields and the files (by field name, as bytes) of a multipart/form-data body."""
    boundary = content_type.partition("boundary=")[2].strip('"').encode()
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    for piece in raw.split(b"--" + boundary)[1:-1]:
        head, _, value = piece[2:-2].partition(b"\r\n\r\n")
        disposition = head.decode("latin-1")
        name = disposition.partition('name="')[2].partition('"')[0]
        if 'filename="' in disposition:
            files[name] = value
        else:
            fields[name] = value.decode()
    return fields, files


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value
