"""The store alone, in one process: a message's store calls on SQLite and on Redis, side by side.

    python bench/store_bench.py [--messages 3000] [--reps 3]

Each message is what the runtime asks of its store: `accept_inbound` (leased at once), the
sender's `standing`, `finish_inbound` with one reply, `complete_outbound` of that reply;
64 messages at once, each from a person of their own within a wave of 1,000. Prints the
host's CPU a message (this process only: redis-server runs beside it, started here with no
persistence) and messages a second, medians of `--reps`. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import rig
from bench.redis_bench import start_redis
from runtime.store.base import Lease, NewInbound, NewOutbound, Store
from runtime.store.redis_store import RedisStore
from runtime.store.sqlite import SQLiteStore

AT_ONCE = 64
WAVE = 1000
HOUR = 3600.0


async def one_message(store: Store, number: int, now: float) -> None:
    psid = str(2_000_000_000_000_000 + number)
    event = NewInbound(
        account_id="shop",
        psid=psid,
        body='{"text": "hi"}',
        message_id=f"m{number}",
        at=now,
        session_key=f"shop:messenger:dm:{psid}",
    )
    lease = Lease(worker="w1", now=now, until=now + HOUR)
    accepted = await store.accept_inbound([event], now=now, dedupe_ttl=HOUR, lease=lease)
    for claimed in accepted.claimed:
        await store.standing("shop", psid)
        reply = NewOutbound(account_id="shop", psid=psid, body='{"message": {"text": "hi"}}')
        ids = await store.finish_inbound(
            claimed.id, session=None, outbound=[reply], now=now, worker="w1", lease=HOUR
        )
        if ids:
            await store.complete_outbound(*ids, then=lease)


async def measure(store: Store, messages: int) -> tuple[float, float]:
    """CPU ms a message, messages a second."""
    await store.open()
    try:
        now = time.time()
        await asyncio.gather(*(one_message(store, -1 - n, now) for n in range(AT_ONCE)))
        slots = asyncio.Semaphore(AT_ONCE)

        async def limited(number: int) -> None:
            async with slots:
                await one_message(store, number, now)

        started, cpu = time.perf_counter(), time.process_time()
        for first in range(0, messages, WAVE):
            await asyncio.gather(*(limited(n) for n in range(first, min(messages, first + WAVE))))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - started
        return cpu / messages * 1000, messages / wall
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    figures: dict[str, list[tuple[float, float]]] = {"SQLite": [], "Redis": []}
    with tempfile.TemporaryDirectory(prefix="store-bench-") as name:
        folder = Path(name)
        redis, url = start_redis(folder, None)
        try:
            for rep in range(args.reps):
                sqlite = SQLiteStore(folder / f"state-{rep}.db")
                figures["SQLite"].append(asyncio.run(measure(sqlite, args.messages)))
                on_redis = RedisStore(url, prefix=f"bench-{rep}:")
                figures["Redis"].append(asyncio.run(measure(on_redis, args.messages)))
        finally:
            rig.stop(redis)
    print("| Store | CPU a message (ms) | Messages a second |")
    print("|---|---:|---:|")
    for store, runs in figures.items():
        cpu = statistics.median(run[0] for run in runs)
        rate = statistics.median(run[1] for run in runs)
        print(f"| {store} | {cpu:.2f} | {rate:.0f} |")


if __name__ == "__main__":
    main()
