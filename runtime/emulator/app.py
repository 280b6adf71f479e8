"""add_emulator: emulator mode on a server app: the page, its API and the Graph API stand-in.

`create_app(..., emulator=EmulatorSettings(...))` calls it. The emulator lives on
`app.ctx.emulator` in the server's one process (`runtime serve --emulator` needs one worker:
the stand-in keeps each person's events in memory, and a long poll must reach the process
that recorded them).
"""

from __future__ import annotations

import time
from typing import Any, Final

import httpx
from sanic import Sanic

from runtime.emulator import routes
from runtime.emulator.graph_standin import GraphStandIn
from runtime.emulator.settings import API_PATH, GRAPH_PATH, PAGE_PATH, EmulatorSettings
from runtime.emulator.state import Emulator, emulator_of
from runtime.emulator.streams import PersonStreams
from runtime.server import runtime_of
from runtime.testing.conversation import choose_account

WEBHOOK_TIMEOUT: Final = httpx.Timeout(30.0, connect=5.0)  # the server's own webhook
UPLOAD_MAX_BYTES: Final = 26 * 1024 * 1024  # an attachment of 25 MB and its form around it


def add_emulator(app: Sanic[Any, Any], settings: EmulatorSettings) -> None:
    """The emulator's routes and listeners on `app`. Raises ConfigError when the config
    has no account `settings.account_id`."""
    state = runtime_of(app)
    if settings.account_id is not None:
        choose_account(state.bot, settings.account_id)
    if settings.offline:  # it signs with an appSecret of its own: the webhook does check them
        state.warnings = tuple(w for w in state.warnings if not w.path.endswith(".appSecret"))
    # the stand-in takes the bot's uploads, up to Meta's 25 MB (the webhook's 1 MB is for Meta)
    app.config.REQUEST_MAX_SIZE = max(app.config.REQUEST_MAX_SIZE, UPLOAD_MAX_BYTES)
    streams = PersonStreams()

    async def pending_code(account_id: str, psid: str) -> str | None:
        store = runtime_of(app).store
        if store is None:
            return None
        request = await store.pending_pairing(account_id, psid, now=time.time())
        return request.code if request is not None else None

    graph = GraphStandIn(streams, lambda: runtime_of(app).bot.accounts, pairing_codes=pending_code)
    app.ctx.emulator = Emulator(settings=settings, streams=streams, graph=graph)
    app.before_server_start(_open)
    app.after_server_start(_announce)
    app.before_server_stop(_close_streams)
    app.after_server_stop(_close)
    app.add_route(routes.page, PAGE_PATH, methods=["GET"], name="emulator_page")
    app.static(f"{PAGE_PATH}/static", routes.STATIC_DIR, name="emulator_static")
    for path, handler, method in (
        ("bot", routes.bot, "GET"),
        ("events", routes.events, "GET"),
        ("send", routes.send, "POST"),
        ("person", routes.person, "POST"),
        ("reset", routes.reset, "POST"),
        ("approve", routes.approve, "POST"),
    ):
        app.add_route(handler, f"{API_PATH}/{path}", methods=[method], name=f"emulator_{path}")
    app.add_route(
        routes.media, f"{API_PATH}/media/<attachment_id>", methods=["GET"], name="emulator_media"
    )
    methods = ["GET", "POST", "DELETE"]
    app.add_route(routes.graph, f"{GRAPH_PATH}/<version>", methods=methods, name="emulator_graph")
    app.add_route(
        routes.graph,
        f"{GRAPH_PATH}/<version>/<path:path>",
        methods=methods,
        name="emulator_graph_path",
    )


async def _open(app: Sanic[Any, Any]) -> None:
    emulator = emulator_of(app)
    emulator.client = httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT)


async def _announce(app: Sanic[Any, Any]) -> None:
    """The one line to open, on stdout, once the server listens."""
    print(f"Emulator: {emulator_of(app).settings.page_url}", flush=True)


async def _close_streams(app: Sanic[Any, Any]) -> None:
    # long polls answer now: the server does not wait for them to time out as it stops
    emulator_of(app).streams.close()


async def _close(app: Sanic[Any, Any]) -> None:
    emulator = emulator_of(app)
    if emulator.client is not None:
        await emulator.client.aclose()
        emulator.client = None
