"""Compile time and per-turn engine time for 10, 1,000 and 10,000 flows.

    python bench/engine_bench.py

Payload and keyword matching are dictionary lookups, so the per-turn figures should not grow
with the number of flows; compile time grows with it (every template is compiled once).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.generate import write_bot
from runtime.build import build_bot
from runtime.dialog.engine import run_turn
from runtime.envelope import Envelope, EventKind
from runtime.session import session_key

MESSENGER = 'pageAccessToken: "t", verifyToken: "v", appSecret: "s", dmPolicy: "open"'
TURNS = 20_000


def envelope(*, text: str | None = None, payload: str | None = None) -> Envelope:
    return Envelope(
        account_id="default",
        psid="1",
        session_key=session_key("main", "1"),
        kind=EventKind.POSTBACK if payload else EventKind.MESSAGE,
        timestamp=0.0,
        text=text,
        postback_payload=payload,
    )


def per_turn_us(bot, event: Envelope) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(TURNS):
            run_turn(bot, event, None, now=0.0)
        samples.append((time.perf_counter() - start) / TURNS * 1e6)
    return statistics.median(samples)


def main() -> None:
    print(
        f"{'flows':>7} {'compile s':>10} {'payload us':>11} {'keyword us':>11} {'fallback us':>12}"
    )
    for flows in (10, 1_000, 10_000):
        with tempfile.TemporaryDirectory() as folder:
            config = write_bot(Path(folder), flows, messenger=MESSENGER)
            start = time.perf_counter()
            bot = build_bot(config, env={}).bot
            compile_s = time.perf_counter() - start
            last = flows - 1
            payload = per_turn_us(bot, envelope(payload=f"PAYLOAD_{last}"))
            keyword = per_turn_us(bot, envelope(text=f"  Alias{last} "))
            fallback = per_turn_us(bot, envelope(text="nothing matches this"))
            print(
                f"{flows:>7} {compile_s:>10.2f} {payload:>11.1f} {keyword:>11.1f} {fallback:>12.1f}"
            )


if __name__ == "__main__":
    main()
