"""Bots on disk whose flows call the fake business API, for the real server."""

from __future__ import annotations

from pathlib import Path

from tests.http.conftest import ENVIRON
from tests.messenger.conftest import single_page, write_bot

# `BASE` becomes the API's base URL; `TIMEOUT` the calls' timeout
ORDER_FLOWS = """{ flows: {
  order: {
    triggers: [{ regex: "^order (?P<number>[A-Z0-9]+)$" }],
    steps: [
      { text: "Looking up order {{ match.number }}..." },
      { http: { method: "POST", url: "BASE/orders/{{ match.number }}",
                headers: { Authorization: "Bearer ${ORDERS_TOKEN}" },
                json: { psid: "{{ user.psid }}", number: "{{ match.number }}" },
                timeout: TIMEOUT, save_as: "order", on_error: "order_down" } },
      { text: "Order {{ match.number }}: {{ vars.order.body.status }}" },
    ],
  },
  order_down: { steps: [{ text: "Our order desk is not answering; try again in a while." }] },
  track: {
    triggers: [{ regex: "^track (?P<number>[A-Z0-9]+)$" }],
    steps: [
      { http: { url: "BASE/parcels/{{ match.number }}", timeout: TIMEOUT, save_as: "parcel" } },
      { when: "vars.parcel.ok",
        text: "Parcel {{ match.number }} is in {{ vars.parcel.body.city }}." },
      { when: "not vars.parcel.ok", text: "No tracking right now ({{ vars.parcel.error }})." },
    ],
  },
  fallback: { steps: [{ text: "You said: {{ message.text }}" }] },
} }"""


def order_bot(directory: Path, base_url: str, *, timeout: float = 5, **options: str) -> Path:
    """The order bot's config, its flows calling `base_url`; `options` go to the account."""
    flows = ORDER_FLOWS.replace("BASE", base_url).replace("TIMEOUT", f"{timeout:g}")
    return write_bot(directory, single_page(**options), flows=flows)


def server_env(env: dict[str, str]) -> dict[str, str]:
    """The server's environment: the fake Graph API's, and the API's secret."""
    return {**env, **ENVIRON}
