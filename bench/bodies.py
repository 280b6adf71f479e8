"""Signed Messenger webhook bodies for the load benchmark, one text message each.

Each body has the shape Meta sends (tests/webhooks/text.json): `object: page`, one entry
whose id is the page id, one `messaging` event with sender, recipient, timestamp and
`message {mid, text}`. Every body has its own message id; senders come from a pool of
users. The file `replay.lua` reads holds one body a line: `sha256 <TAB> sha1 <TAB> json`
(the SHA-1 signature is for Bottender, which checks `X-Hub-Signature`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

PAGE_ID = "100000000000001"
USER_BASE = 1_000_000_000_000_000  # user psids are 16 digits starting with 1
PROBE_BASE = 9_000_000_000_000_000  # probe psids start with 9 (the fake's probe prefix)
PROBE_PREFIX = "9"


def webhook(psid: str, message: Mapping[str, object], *, timestamp_ms: int) -> bytes:
    """The raw POST body of one message event from `psid` (`message` holds its mid)."""
    event = {
        "sender": {"id": psid},
        "recipient": {"id": PAGE_ID},
        "timestamp": timestamp_ms,
        "message": dict(message),
    }
    entry = {"id": PAGE_ID, "time": timestamp_ms, "messaging": [event]}
    body = {"object": "page", "entry": [entry]}
    return json.dumps(body, separators=(",", ":")).encode()


def text(mid: str, words: str) -> dict[str, object]:
    return {"mid": mid, "text": words}


def quick_reply(mid: str, title: str, payload: str) -> dict[str, object]:
    """A tap on a quick reply: its title as text, its payload alongside."""
    return {"mid": mid, "text": title, "quick_reply": {"payload": payload}}


def sign_sha256(raw: bytes, secret: str) -> str:
    """`X-Hub-Signature-256` as Meta computes it: HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def sign_sha1(raw: bytes, secret: str) -> str:
    """The legacy `X-Hub-Signature` (HMAC-SHA1), which Bottender 1.x verifies."""
    return "sha1=" + hmac.new(secret.encode(), raw, hashlib.sha1).hexdigest()


def user_psid(number: int) -> str:
    return str(USER_BASE + number)


def user_psids(count: int, *, spread_over: int | None = None) -> list[str]:
    """`count` user PSIDs; with `spread_over`, spaced evenly among that many users."""
    step = (spread_over or count) // count
    return [user_psid(number * step) for number in range(count)]


def probe_psid(number: int) -> str:
    return str(PROBE_BASE + number)


def saying(words: str) -> Callable[[str, int], dict[str, object]]:
    """Every message is the text `words`."""
    return lambda mid, _number: text(mid, words)


HI = saying("hi")


def write_bodies(
    path: Path,
    *,
    count: int,
    psids: Sequence[str],
    secret: str,
    tag: str,
    message: Callable[[str, int], dict[str, object]] = HI,
) -> Path:
    """Write `count` signed bodies to `path`: body `k` is `message(mid, k)` from
    `psids[k % len(psids)]`, with the message id `m_<tag>_<k>`."""
    first_ms = int(time.time() * 1000) - count  # one ms apart, none in the future
    with path.open("w") as out:
        for number in range(count):
            psid = psids[number % len(psids)]
            event = message(f"m_{tag}_{number}", number)
            raw = webhook(psid, event, timestamp_ms=first_ms + number)
            out.write(f"{sign_sha256(raw, secret)}\t{sign_sha1(raw, secret)}\t{raw.decode()}\n")
    return path
