"""HttpCaller: makes the `http` steps' calls to the business's APIs, and never raises.

Every outcome is an HttpResult: a 2xx answer read whole is `ok`; a non-2xx answer, no
answer within the step's `timeout` (the whole call, however slowly bytes trickle in), a
refused connection, a redirect loop, an answer over 1 MiB or an HTML page where an API
answer was expected is `ok: false` with an `error` that says which, in words of our own:
an httpx message may hold the URL, and a URL may hold a secret once `${VAR}` is filled in.

What a person typed cannot steer a request. The URL template percent-encodes what it
prints (`dialog/templates.py`); here a path segment that is `.` or `..` is refused (a
client or server would resolve it and climb the path), as is a header value with a line
break (it would start another header). A header that names a `${VAR}` goes to the host the
flow names only: a redirect elsewhere loses it. No cookie is kept from one call to the
next, so one person's session at an API never rides along with another person's call.

The calls run on the event loop through one client with a bounded pool of connections, so
a slow API holds a connection and a coroutine, never a thread or another person's turn.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Mapping
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Final
from urllib.parse import unquote, urlsplit

import httpx

from runtime.config.json5file import env_names_in, fill_env
from runtime.dialog.effects import HttpCall, HttpResult
from runtime.http_step import IDEMPOTENCY_HEADER, has_control_character

MAX_BODY: Final = 1024 * 1024  # bytes of an answer read; past that the call fails
MAX_REDIRECTS: Final = 5
MAX_CONNECTIONS: Final = 100  # to all the APIs together; more calls wait for one
USER_AGENT: Final = "messenger-runtime (http step)"


# the errors a call that got no answer, or a non-2xx one, gives (runtime test's offline
# answers give the same: runtime/testing/http_answers.py)
NOT_CONNECTED: Final = "could not connect (refused, or no such host)"


def no_answer_within(timeout: float) -> str:
    return f"no answer within {timeout:g} s"


def answered(status: int, reason: str) -> str:
    """`the API answered 404 Not Found`: a non-2xx answer's error."""
    return f"the API answered {status} {reason}".rstrip()


class HttpCaller:
    """Makes HttpCalls; `open()` before use (or `async with`), `close()` after.

    `environ` fills in `${VAR}` (default: the process's environment).
    """

    def __init__(
        self,
        *,
        environ: Mapping[str, str] | None = None,
        max_connections: int = MAX_CONNECTIONS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._environ = os.environ if environ is None else environ
        self._limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    async def open(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(
                limits=self._limits,
                follow_redirects=False,  # followed in _send, which decides what goes along
                transport=self._transport,
                headers={"User-Agent": USER_AGENT},
                cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),  # keeps none
                # HTTPS_PROXY / NO_PROXY and SSL_CERT_FILE apply, as to the Graph API calls:
                # an operator behind an egress proxy or with a private CA sets them once
                trust_env=True,
            )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> HttpCaller:
        await self.open()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def call(self, call: HttpCall) -> HttpResult:
        """Make `call`: its answer, or why there is none."""
        started = time.perf_counter()
        try:
            result = await self._call(call)
        except Exception as err:  # a case not foreseen must fail one call, not the turn
            result = HttpResult(ok=False, error=f"the call failed ({type(err).__name__})")
        return HttpResult(
            ok=result.ok,
            status=result.status,
            body=result.body,
            error=result.error,
            seconds=time.perf_counter() - started,
        )

    async def _call(self, call: HttpCall) -> HttpResult:
        client = self._client
        if client is None:
            raise RuntimeError("HttpCaller.open() was not called")
        missing: list[str] = []
        url = self._fill(call.url, missing)
        headers = {name: self._fill(value, missing) for name, value in call.headers}
        body = self._fill_body(call.json, missing)
        if missing:
            names = sorted(set(missing))
            return HttpResult(ok=False, error=_unset(names))
        refusal = _url_refusal(url) or _header_refusal(headers)
        if refusal is not None:
            return HttpResult(ok=False, error=f"{refusal}; not called")
        headers[IDEMPOTENCY_HEADER] = call.idempotency_key
        if not any(name.lower() == "accept" for name in headers):
            headers["Accept"] = "application/json"
        progress = _Progress()
        try:
            async with asyncio.timeout(call.timeout):
                request = client.build_request(
                    call.method,
                    url,
                    headers={name.encode(): value.encode() for name, value in headers.items()},
                    json=body if call.has_body else None,
                    timeout=httpx.Timeout(call.timeout),
                    extensions={"trace": progress.trace},
                )
                return await _send(client, request, call)
        except (TimeoutError, httpx.TimeoutException):
            if progress.connected:
                return HttpResult(ok=False, error=no_answer_within(call.timeout))
            return HttpResult(
                ok=False,
                error=f"no connection free within {call.timeout:g} s: all"
                f" {self._limits.max_connections} wait on answers; not called",
            )
        except httpx.ConnectError:
            return HttpResult(ok=False, error=NOT_CONNECTED)
        except (httpx.UnsupportedProtocol, httpx.InvalidURL):
            return HttpResult(ok=False, error="the URL (or a redirect's) is not a valid http URL")
        except httpx.RemoteProtocolError:
            return HttpResult(ok=False, error="the API broke off or garbled its answer")
        except httpx.HTTPError as err:  # the message may hold the URL: the class says enough
            return HttpResult(ok=False, error=f"the call failed ({type(err).__name__})")

    def _fill(self, text: str, missing: list[str]) -> str:
        filled, unset = fill_env(text, self._environ)
        missing.extend(unset)
        return filled

    def _fill_body(self, value: object, missing: list[str]) -> object:
        if isinstance(value, str):
            return self._fill(value, missing)
        if isinstance(value, list):
            return [self._fill_body(item, missing) for item in value]
        if isinstance(value, dict):
            return {key: self._fill_body(item, missing) for key, item in value.items()}
        return value


class _Progress:
    """Whether a request got a connection: before, it waits for one in the pool (httpcore
    traces nothing there), and a timeout then is too many calls at once, not a slow API."""

    __slots__ = ("connected",)

    def __init__(self) -> None:
        self.connected = False

    async def trace(self, event: str, info: Mapping[str, object]) -> None:
        self.connected = True


def _unset(names: list[str]) -> str:
    if len(names) == 1:
        return f"environment variable {names[0]} is not set"
    return f"environment variables {', '.join(names)} are not set"


def _url_refusal(url: str) -> str | None:
    """Why `url` is not called, if it is not: not http(s), or a `.`/`..` path segment."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return "the URL is not an http:// or https:// URL"
    if any(unquote(segment) in (".", "..") for segment in parts.path.split("/")):
        return "the URL's path has a '.' or '..' segment (from a value put in it?)"
    return None


def _header_refusal(headers: Mapping[str, str]) -> str | None:
    for name, value in headers.items():
        if has_control_character(value):
            return f"the {name} header holds a line break or a control character"
    return None


async def _send(client: httpx.AsyncClient, request: httpx.Request, call: HttpCall) -> HttpResult:
    """Send the request, following at most MAX_REDIRECTS redirects; read at most MAX_BODY
    bytes of the answer."""
    for _ in range(MAX_REDIRECTS + 1):
        response = await client.send(request, stream=True)
        try:
            onward = response.next_request
            if onward is None:
                return await _read(response)
        finally:
            await response.aclose()
        followed = _follow(request, onward, call)
        if isinstance(followed, str):
            return HttpResult(ok=False, status=response.status_code, error=followed)
        request = followed
    return HttpResult(ok=False, error=f"more than {MAX_REDIRECTS} redirects (a loop?)")


def _follow(request: httpx.Request, onward: httpx.Request, call: HttpCall) -> httpx.Request | str:
    """The redirect's request, without what names a secret if it leaves the flow's host;
    or why it is not followed (its body, which names a secret, would go along)."""
    if _same_origin(request.url, onward.url):
        return onward
    if call.has_body and onward.method == request.method and env_names_in(call.json):
        return "the API redirected a body holding a secret to another host; not followed"
    for name, value in call.headers:
        if env_names_in(value):
            onward.headers.pop(name, None)
    return onward


def _same_origin(before: httpx.URL, after: httpx.URL) -> bool:
    """The same host and port, the scheme kept or raised from http to https."""
    if before.host != after.host:
        return False
    if (before.scheme, before.port) == (after.scheme, after.port):
        return True
    return (before.scheme, after.scheme) == ("http", "https") and before.port is after.port is None


async def _read(response: httpx.Response) -> HttpResult:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return _too_big(response.status_code)
    content = bytearray()
    async for chunk in response.aiter_bytes():
        content += chunk
        if len(content) > MAX_BODY:
            return _too_big(response.status_code)
    return _result(response, bytes(content))


def _too_big(status: int) -> HttpResult:
    return HttpResult(ok=False, status=status, error="the answer is larger than 1 MiB; not read")


def _result(response: httpx.Response, content: bytes) -> HttpResult:
    """The answer read: JSON when it parses, else text; `ok` for a 2xx that is not HTML."""
    status = response.status_code
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    text = content.decode(response.encoding or "utf-8", errors="replace")
    body: object = text
    error = None
    is_json = media_type == "application/json" or media_type.endswith("+json")
    if content.strip() and (is_json or not media_type or media_type == "text/plain"):
        try:
            body = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested thousands deep
            if is_json:
                error = "the answer says it is JSON but does not parse"
    if not 200 <= status < 300:
        error = answered(status, response.reason_phrase)
    elif media_type == "text/html":
        error = "the API answered an HTML page, not data (a login or error page?)"
    return HttpResult(ok=error is None, status=status, body=body, error=error)


def describe_call(call: HttpCall, result: HttpResult) -> str:
    """`POST https://api.example.com/orders/A1 -> 200 in 42 ms`: for log lines and the chat.

    The URL is as rendered, before `${VAR}` is filled in, so no secret is in it.
    """
    outcome = str(result.status) if result.status is not None else "no answer"
    line = f"{call.method} {call.url} -> {outcome} in {result.seconds * 1000:.0f} ms"
    return line if result.ok else f"{line}: {result.error}"
