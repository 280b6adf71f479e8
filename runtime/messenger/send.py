"""SendClient: Send API calls over a few small keep-alive connection pools.

One httpx client serving many concurrent requests degrades sharply under a burst (measured
on this stack), so calls are spread over `pools` small clients: the sender coroutines each
keep to one. Timeouts are explicit. A single call's token travels in the query string
(a batch's in the body), so no URL is ever logged or put in an error message;
`raise_for_status()` is never called (its message holds the URL).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

import httpx

from runtime.config.model import Account, GraphSettings
from runtime.errors import GraphAPIError
from runtime.messenger.batch import BatchCall, CallOutcome, decode_outcomes, encode_batch
from runtime.messenger.graph_errors import error_from_response, error_from_transport

DEFAULT_TIMEOUT: Final = httpx.Timeout(10.0, connect=5.0, pool=5.0)

# httpx logs every request URL at INFO, query string (our token) included: keep it quiet
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)


class SendClient:
    """Makes Send API calls for any account; `open()` before use, `close()` after."""

    def __init__(
        self,
        graph: GraphSettings,
        *,
        pools: int = 4,
        connections_per_pool: int = 16,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self._url = graph.messages_url
        self._batch_url = graph.batch_url
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

    async def call(
        self, account: Account, body: Mapping[str, Any], *, pool: int = 0
    ) -> Mapping[str, Any]:
        """POST one request to `/me/messages` as `account`; the answer's JSON on success.

        Raises a GraphAPIError subclass: `retryable` ones may be sent again.
        """
        response = await self._post(
            pool,
            self._url,
            params={"access_token": account.page_access_token.reveal()},
            content=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            answer = response.json()
        except ValueError:
            return {}
        return answer if isinstance(answer, dict) else {}

    async def call_batch(
        self, account: Account, calls: Sequence[BatchCall], *, pool: int = 0
    ) -> list[CallOutcome]:
        """POST up to 50 calls as one batch request; the outcome of each, in order.

        Raises a GraphAPIError subclass when the request as a whole failed: then none of
        the calls is known to have gone through.
        """
        batch = encode_batch(account.page_access_token.reveal(), calls)
        response = await self._post(
            pool,
            self._batch_url,
            content=batch.content,
            headers={"Content-Type": batch.content_type},
        )
        return decode_outcomes(len(calls), response.content)

    async def _post(self, pool: int, url: str, **request: Any) -> httpx.Response:
        if not self._clients:
            raise GraphAPIError("the send client is not open", sent=False)
        client = self._clients[pool % len(self._clients)]
        try:
            response = await client.post(url, **request)
        except httpx.TransportError as err:
            raise error_from_transport(err) from None  # the chained error would hold the URL
        if response.status_code >= 400:
            raise error_from_response(response.status_code, response.content)
        return response
