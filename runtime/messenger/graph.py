"""GraphClient: the one door for every Graph API call the runtime makes.

Messages and sender actions, thread control, the Messenger Profile, the person's profile,
attachment uploads and batch requests all go through here, so they share the same
connection pools, timeouts, error mapping (`graph_errors.py`) and token hygiene:

- the token travels in the query string of a single call (in the body of a batch, in a
  multipart field of an upload), so no URL is ever logged or put in an error message;
- `raise_for_status()` is never called (its message holds the URL), and a transport error
  is re-raised without its chain (which would hold it too).

One httpx client serving many concurrent requests degrades sharply under a burst (measured
on this stack), so calls are spread over `pools` small clients: the sender coroutines each
keep to one. Paths are relative to `{base}/{version}/` (`endpoints.py`), as in a batch.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import httpx

from runtime.config.model import Account, GraphSettings
from runtime.errors import GraphAPIError
from runtime.messenger.batch import BatchCall, CallOutcome, decode_outcomes, encode_batch
from runtime.messenger.endpoints import (
    MESSAGE_ATTACHMENTS,
    MESSAGES,
    MESSENGER_PROFILE,
    PASS_THREAD_CONTROL,
    SUBSCRIBED_APPS,
    TAKE_THREAD_CONTROL,
)
from runtime.messenger.graph_errors import error_from_response, error_from_transport
from runtime.observe import NULL_OBSERVER, Observer

DEFAULT_TIMEOUT: Final = httpx.Timeout(10.0, connect=5.0, pool=5.0)

# the endpoints a metric names as they are; a batch request is `batch`, a person's profile
# (`GET /<psid>`) `user_profile`: a label never holds a PSID
NAMED_ENDPOINTS: Final = frozenset(
    {
        MESSAGES,
        PASS_THREAD_CONTROL,
        TAKE_THREAD_CONTROL,
        MESSENGER_PROFILE,
        SUBSCRIBED_APPS,
        MESSAGE_ATTACHMENTS,
    }
)
BATCH: Final = "batch"
NO_ANSWER: Final = "transport"  # the status of a request that got no HTTP answer

# httpx logs every request URL at INFO, query string (our token) included: keep it quiet
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)


@dataclass(frozen=True, slots=True)
class Upload:
    """A file for a multipart upload: the form field `name`, its file name, type and bytes."""

    name: str
    filename: str
    content_type: str
    content: bytes


class GraphClient:
    """Makes Graph API calls for any account; `open()` before use, `close()` after."""

    def __init__(
        self,
        graph: GraphSettings,
        *,
        pools: int = 4,
        connections_per_pool: int = 16,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        observer: Observer = NULL_OBSERVER,
    ) -> None:
        self._observer = observer  # each request's endpoint, latency and status
        self._root = f"{graph.api_base.rstrip('/')}/{graph.api_version}/"
        self.batching = graph.batch
        self._pools = pools
        self._limits = httpx.Limits(
            max_connections=connections_per_pool, max_keepalive_connections=connections_per_pool
        )
        self._timeout = timeout
        self._clients: list[httpx.AsyncClient] = []

    @property
    def pools(self) -> int:
        return self._pools

    async def open(self) -> None:
        if not self._clients:
            self._clients = [
                httpx.AsyncClient(timeout=self._timeout, limits=self._limits)
                for _ in range(self._pools)
            ]

    async def close(self) -> None:
        clients, self._clients = self._clients, []
        for client in clients:
            await client.aclose()

    async def __aenter__(self) -> GraphClient:
        await self.open()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    # -- single calls ----------------------------------------------------------------------
    async def post(
        self, account: Account, path: str, body: Mapping[str, Any], *, pool: int = 0
    ) -> Mapping[str, Any]:
        """POST a JSON body to `path` as `account`; the answer's JSON object on success.

        Raises a GraphAPIError subclass: `retryable` ones may be sent again.
        """
        return await self._json(pool, "POST", path, account, content=_json_bytes(body))

    async def get(
        self,
        account: Account,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        within: float | None = None,
        pool: int = 0,
    ) -> Mapping[str, Any]:
        """GET `path` with query `params` as `account`; the answer's JSON object.

        `within` (seconds) caps each phase of the call (connect, read), for a caller that
        must not wait longer than the usual timeouts.
        """
        return await self._json(pool, "GET", path, account, params=params, within=within)

    async def delete(
        self, account: Account, path: str, body: Mapping[str, Any], *, pool: int = 0
    ) -> Mapping[str, Any]:
        """DELETE `path` with a JSON body (the Messenger Profile's way to unset fields)."""
        return await self._json(pool, "DELETE", path, account, content=_json_bytes(body))

    async def upload(
        self,
        account: Account,
        path: str,
        fields: Mapping[str, str],
        file: Upload,
        *,
        pool: int = 0,
    ) -> Mapping[str, Any]:
        """POST a multipart form (`fields` and one file) as `account`, as `curl -F` would."""
        return await self._json(
            pool,
            "POST",
            path,
            account,
            data=dict(fields),
            files={file.name: (file.filename, file.content, file.content_type)},
            json_body=False,
        )

    # -- batches ---------------------------------------------------------------------------
    async def call_batch(
        self, account: Account, calls: Sequence[BatchCall], *, pool: int = 0
    ) -> list[CallOutcome]:
        """POST up to 50 calls as one batch request; the outcome of each, in order.

        Raises a GraphAPIError subclass when the request as a whole failed: then none of
        the calls is known to have gone through.
        """
        batch = encode_batch(account.page_access_token.reveal(), calls)
        self._observer.batch(len(calls))
        response = await self._send(
            pool,
            BATCH,
            "POST",
            self._root,
            content=batch.content,
            headers={"Content-Type": batch.content_type},
        )
        return decode_outcomes(len(calls), response.content)

    # -- the wire --------------------------------------------------------------------------
    async def _json(
        self,
        pool: int,
        method: str,
        path: str,
        account: Account,
        *,
        params: Mapping[str, str] | None = None,
        within: float | None = None,
        json_body: bool = True,
        **request: Any,
    ) -> Mapping[str, Any]:
        query = {**(params or {}), "access_token": account.page_access_token.reveal()}
        if json_body and "content" in request:
            request["headers"] = {"Content-Type": "application/json"}
        if within is not None:
            request["timeout"] = httpx.Timeout(within)
        endpoint = (
            path if path in NAMED_ENDPOINTS else "user_profile" if path.isdigit() else "other"
        )
        response = await self._send(
            pool, endpoint, method, self._root + path, params=query, **request
        )
        try:
            answer = response.json()
        except ValueError:
            return {}
        return answer if isinstance(answer, dict) else {}

    async def _send(
        self, pool: int, endpoint: str, method: str, url: str, **request: Any
    ) -> httpx.Response:
        if not self._clients:
            raise GraphAPIError("the Graph API client is not open", sent=False)
        client = self._clients[pool % len(self._clients)]
        started = time.perf_counter()
        try:
            response = await client.request(method, url, **request)
        except httpx.TransportError as err:
            self._observer.graph_call(endpoint, time.perf_counter() - started, NO_ANSWER)
            raise error_from_transport(err) from None  # the chained error would hold the URL
        self._observer.graph_call(
            endpoint, time.perf_counter() - started, str(response.status_code)
        )
        if response.status_code >= 400:
            raise error_from_response(response.status_code, response.content)
        return response


def _json_bytes(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
