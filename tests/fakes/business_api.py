"""A fake business API: a real HTTP server on 127.0.0.1 that records what it gets.

The `http` step's tests call it as a bot calls the business's own systems. Every request
is recorded as a `Received` (method, raw path, raw query, headers, raw and parsed JSON
body), in arrival order, whatever it was answered.

Each route (method + raw path, as sent: `/orders/..%2Fadmin`) answers from its script,
set with `on(method, path, answer)`; a route without one answers `default` (404 JSON).
The answers (module functions) play what a real API does, good and bad:

- `json_answer(status, data)`, `text_answer(status, text)`, `html_page(status)`: whole
  answers with a Content-Length;
- `huge(size, declared=...)`: `size` bytes of JSON-looking data written in 64 KiB pieces
  as long as the caller reads; `declared="exact"` states the size, `"none"` sends it
  chunked (no Content-Length), `"lie"` claims 512 KiB and sends `size` all the same,
  `"cut"` claims twice `size` and hangs up after `size` (a server that died mid-answer);
- `trickle(size, gap)`: `size` bytes one at a time, `gap` seconds apart (each read is
  quick, the whole answer slow);
- `redirect(location)`: a 302; `api.redirect_loop(path)` makes a path redirect to itself;
- `held(gate, answer)`: waits until the test sets `gate` (a threading.Event), then
  answers; every request to the route waits on the same gate, so one `set()` releases
  them all. `never()` waits until the fake stops: an answer that never comes.

`refusing_url()` is a base URL where nothing listens: connections are refused.
`wait_for(count)` waits (with a deadline, never a fixed sleep) until requests arrived.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import urlsplit

from tests.fakes.processes import free_port

PIECE: Final = 64 * 1024  # bytes written at a time by a huge answer
LIE: Final = 512 * 1024  # what a lying Content-Length claims


@dataclass(frozen=True)
class Received:
    """One request as it arrived."""

    method: str
    path: str  # raw, as sent: percent-encoding kept
    query: str  # raw query string, "" when there is none
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        """The body parsed as JSON; None when there is none or it does not parse."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    @property
    def target(self) -> str:
        """The request target as sent: path, and `?query` when there is one."""
        return f"{self.path}?{self.query}" if self.query else self.path


@dataclass(frozen=True)
class Answer:
    """What the fake answers a request; build them with the functions below."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    size: int = 0  # > 0: a huge answer of this many bytes, written piece by piece
    declared: str = "exact"  # a huge answer's Content-Length: "exact", "none", "lie", "cut"
    gap: float = 0.0  # > 0: the body is written a byte at a time, this many seconds apart
    gate: threading.Event | None = None  # wait until it is set before answering


def json_answer(status: int = 200, data: Any = None) -> Answer:
    return Answer(status, json.dumps({} if data is None else data).encode())


def text_answer(status: int = 200, text: str = "", content_type: str = "text/plain") -> Answer:
    return Answer(status, text.encode(), f"{content_type}; charset=utf-8")


def html_page(status: int = 200) -> Answer:
    page = "<!doctype html><html><body><h1>Please sign in</h1></body></html>"
    return text_answer(status, page, "text/html")


def huge(size: int = 50 * 1024 * 1024, *, declared: str = "exact") -> Answer:
    return Answer(size=size, declared=declared)


def trickle(size: int, gap: float) -> Answer:
    return Answer(body=b"1" * size, gap=gap)


def redirect(location: str, status: int = 302) -> Answer:
    return Answer(status, b"", "text/plain", (("Location", location),))


def held(gate: threading.Event, answer: Answer | None = None) -> Answer:
    return replace(answer or json_answer(200, {}), gate=gate)


def refusing_url() -> str:
    """A base URL on a loopback port nothing listens on."""
    return f"http://127.0.0.1:{free_port()}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a burst of callers connecting at once is accepted, not dropped


@dataclass
class FakeBusinessAPI:
    host: str = "127.0.0.1"
    port: int = 0
    default: Answer = field(default_factory=lambda: json_answer(404, {"error": "no such route"}))
    requests: list[Received] = field(default_factory=list)
    _routes: dict[tuple[str, str], Answer] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- scripting -----------------------------------------------------------------------
    def on(self, method: str, path: str, answer: Answer) -> None:
        """Answer every `method` request to `path` (raw, as sent) with `answer`."""
        with self._lock:
            self._routes[(method.upper(), path)] = answer

    def redirect_loop(self, path: str) -> None:
        """`path` redirects to itself, forever."""
        self.on("GET", path, redirect(path))
        self.on("POST", path, redirect(path))

    def never(self) -> Answer:
        """An answer that never comes (the request waits until the fake stops)."""
        return held(self._stopping)

    # -- what arrived --------------------------------------------------------------------
    def received(self, path: str | None = None) -> list[Received]:
        """Every request (to `path`, when given), in arrival order."""
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    async def wait_for(
        self, count: int, *, path: str | None = None, within: float = 10.0
    ) -> list[Received]:
        """Wait (with a deadline) until `count` requests (to `path`) arrived."""
        deadline = time.monotonic() + within
        while len(found := self.received(path)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} requests, got {len(found)}: {found}")
            await asyncio.sleep(0.01)
        return found

    def wait_sync(
        self, count: int, *, path: str | None = None, within: float = 10.0
    ) -> list[Received]:
        """`wait_for` for tests without an event loop."""
        deadline = time.monotonic() + within
        while len(found := self.received(path)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} requests, got {len(found)}: {found}")
            time.sleep(0.01)
        return found

    # -- answering -----------------------------------------------------------------------
    def _record(self, handler: BaseHTTPRequestHandler, body: bytes) -> Answer:
        url = urlsplit(handler.path)
        received = Received(
            method=handler.command,
            path=url.path,
            query=url.query,
            headers={name.lower(): value for name, value in handler.headers.items()},
            body=body,
            at=time.monotonic(),
        )
        with self._lock:
            self.requests.append(received)
            return self._routes.get((handler.command, url.path), self.default)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> FakeBusinessAPI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._answer()

            do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                answer = fake._record(self, self.rfile.read(length))
                if answer.gate is not None:
                    answer.gate.wait()
                if fake._stopping.is_set():
                    self.close_connection = True
                    return
                try:
                    if answer.size:
                        self._huge(answer)
                    else:
                        self._whole(answer)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the caller stopped reading: as it should

            def _whole(self, answer: Answer) -> None:
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                for name, value in answer.headers:
                    self.send_header(name, value)
                self.end_headers()
                if not answer.gap:
                    self.wfile.write(answer.body)
                    return
                for byte in answer.body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    if fake._stopping.wait(answer.gap):
                        return

            def _huge(self, answer: Answer) -> None:
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                if answer.declared == "none":
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    declared = {"exact": answer.size, "cut": 2 * answer.size}.get(
                        answer.declared, LIE
                    )
                    self.send_header("Content-Length", str(declared))
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                piece = b'["' + b"x" * (PIECE - 4) + b'"]'
                for _ in range(answer.size // PIECE):
                    if answer.declared == "none":
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    else:
                        self.wfile.write(piece)
                if answer.declared == "none":
                    self.wfile.write(b"0\r\n\r\n")

            def log_message(self, format: str, *args: object) -> None:
                return

        server = _Server((self.host, self.port), Handler)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-api",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening; requests still held are let go without an answer."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
