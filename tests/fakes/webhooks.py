"""Real-shaped Messenger webhook bodies (see tests/webhooks/*.json) and how to sign them."""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

from runtime.messenger.signature import sign

SAMPLES = Path(__file__).resolve().parents[1] / "webhooks"
PAGE_ID = "100000000000001"
PSID = "2000000000000001"
_mids = itertools.count(1)


def sample(name: str) -> dict[str, Any]:
    """One of the real-shaped bodies in tests/webhooks/, as a fresh dict."""
    data: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text())
    return data


def body(*events: dict[str, Any], page_id: str = PAGE_ID) -> dict[str, Any]:
    """A POST body with one entry holding `events`."""
    return {
        "object": "page",
        "entry": [{"id": page_id, "time": 1764000000000, "messaging": list(events)}],
    }


def event(
    kind: str,
    payload: dict[str, Any],
    *,
    psid: str = PSID,
    page_id: str = PAGE_ID,
    timestamp: int | None = None,
) -> dict[str, Any]:
    return {
        "sender": {"id": psid},
        "recipient": {"id": page_id},
        "timestamp": timestamp if timestamp is not None else 1764000000000 + next(_mids),
        kind: payload,
    }


def new_mid() -> str:
    return f"m_test{next(_mids)}"


def text(
    message: str, *, psid: str = PSID, page_id: str = PAGE_ID, mid: str | None = None
) -> dict[str, Any]:
    return body(
        event("message", {"mid": mid or new_mid(), "text": message}, psid=psid, page_id=page_id),
        page_id=page_id,
    )


def quick_reply(
    title: str, payload: str, *, psid: str = PSID, page_id: str = PAGE_ID
) -> dict[str, Any]:
    message = {"mid": new_mid(), "text": title, "quick_reply": {"payload": payload}}
    return body(event("message", message, psid=psid, page_id=page_id), page_id=page_id)


def postback(
    title: str, payload: str, *, psid: str = PSID, page_id: str = PAGE_ID
) -> dict[str, Any]:
    return body(
        event(
            "postback",
            {"mid": new_mid(), "title": title, "payload": payload},
            psid=psid,
            page_id=page_id,
        ),
        page_id=page_id,
    )


def with_page(data: dict[str, Any], page_id: str) -> dict[str, Any]:
    data = copy.deepcopy(data)
    for entry in data["entry"]:
        entry["id"] = page_id
        for item in entry.get("messaging", []):
            item["recipient"]["id"] = page_id
    return data


def encode(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


def signed_headers(raw: bytes, app_secret: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if app_secret is not None:
        headers["X-Hub-Signature-256"] = sign(raw, app_secret)
    return headers
