"""Running the real app on a real loopback socket inside the test's event loop."""

from __future__ import annotations

import contextlib
import itertools
import socket
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
from sanic import Sanic

from runtime.leases import LEASE_SECONDS
from runtime.messenger.sender import RetryPolicy
from runtime.server import create_app
from tests.fakes.webhooks import encode, signed_headers

FAST_RETRY = RetryPolicy(base=0.01, cap=0.05)
_names = itertools.count(1)


class RunningApp:
    def __init__(self, app: Sanic[Any, Any], base_url: str, client: httpx.AsyncClient) -> None:
        self.app = app
        self.base_url = base_url
        self.client = client

    async def post(
        self,
        data: dict[str, Any] | bytes,
        *,
        secret: str | None,
        path: str = "/webhook/messenger",
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        raw = data if isinstance(data, bytes) else encode(data)
        all_headers = {**signed_headers(raw, secret), **(headers or {})}
        return await self.client.post(self.base_url + path, content=raw, headers=all_headers)

    async def get(self, path: str, **params: str) -> httpx.Response:
        return await self.client.get(self.base_url + path, params=params)


@contextlib.asynccontextmanager
async def running(
    config_path: Path,
    *,
    env: Mapping[str, str],
    retry: RetryPolicy = FAST_RETRY,
    lease: float = LEASE_SECONDS,
) -> AsyncIterator[RunningApp]:
    """Start create_app(config_path) on 127.0.0.1:<free port>; stop it (gracefully) after."""
    app = create_app(
        config_path, name=f"test-app-{next(_names)}", env=env, retry=retry, lease=lease
    )
    # Sanic rewrites its HTTP classes' code at startup ("touchup"); doing that for many apps
    # in one process breaks it, and tests gain nothing from it
    app.config.TOUCHUP = False
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # a free port chosen by the kernel (Sanic reads port=0 as 8000)
    sock.listen(128)
    port = sock.getsockname()[1]
    server = await app.create_server(sock=sock, return_asyncio_server=True)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            yield RunningApp(app, f"http://127.0.0.1:{port}", client)
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()
        sock.close()
