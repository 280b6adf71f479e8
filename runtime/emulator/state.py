"""Emulator: what emulator mode keeps on `app.ctx.emulator` (one per server process)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sanic import Sanic

from runtime.emulator.graph_standin import GraphStandIn
from runtime.emulator.settings import EmulatorSettings
from runtime.emulator.streams import PersonStreams


@dataclass(slots=True)
class Emulator:
    settings: EmulatorSettings
    streams: PersonStreams  # what the bot did to each person, for the page's long poll
    graph: GraphStandIn
    client: httpx.AsyncClient | None = None  # posts the page's webhooks to the server


def emulator_of(app: Sanic[Any, Any]) -> Emulator:
    emulator: Emulator = app.ctx.emulator
    return emulator
