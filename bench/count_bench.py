"""What `/metrics`' timer count costs with 100,000 pending timers: `Store.count_timers` on
Redis (a local redis-server) and SQLite, timed twice each. `python bench/count_bench.py`
(needs `redis-server` on the PATH). Figures in bench/README.md, "Metrics"."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import time
from pathlib import Path

from runtime.store.base import NewTimer, Store, TimerChanges
from runtime.store.redis_store import RedisStore
from runtime.store.sqlite import SQLiteStore

PENDING = 100_000
BATCH = 1_000
PORT = 16399


async def fill_and_count(store: Store) -> None:
    await store.open()
    try:
        now = time.time()
        for first in range(0, PENDING, BATCH):
            timers = tuple(
                NewTimer(
                    account_id="a",
                    psid=str(1_000_000 + number),
                    slot="ask",
                    due_at=now + 86_400,
                    body='{"kind": "timer"}',
                    session_key=f"a:{1_000_000 + number}",
                )
                for number in range(first, first + BATCH)
            )
            await store.change_timers(TimerChanges(set=timers))
        for _ in range(2):
            started = time.perf_counter()
            counted = await store.count_timers()
            seconds = time.perf_counter() - started
            print(f"{type(store).__name__}: {counted} timers counted in {seconds * 1000:.1f} ms")
    finally:
        await store.close()


def main() -> None:
    redis = subprocess.Popen(
        ["redis-server", "--port", str(PORT), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        asyncio.run(fill_and_count(RedisStore(f"redis://127.0.0.1:{PORT}/0", prefix="bench:")))
    finally:
        redis.kill()
        redis.wait()
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(fill_and_count(SQLiteStore(Path(folder) / "state.db")))


if __name__ == "__main__":
    main()
