"""Time from saving a flow file to the new version answering, for 10, 1,000 and 10,000 flows.

    python bench/reload_bench.py

A real server (in this process, on a loopback socket) with hot reload on, the fake Graph
API of the tests; each round rewrites one file of 100 flows with a new reply text, then
sends the webhook that reaches an edited flow again and again until the reply has the new
text. The figure is that wait, watchfiles' debounce included. Median of 7 rounds.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.generate import FLOWS_PER_FILE, flow_file, write_bot
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import running
from tests.fakes.webhooks import text

SECRET = "bench-secret"
MESSENGER = (
    f'pageAccessToken: "t", verifyToken: "v", appSecret: "{SECRET}", dmPolicy: "open",'
    " senderActions: false"
)
ROUNDS = 7


async def measure(flows: int) -> tuple[float, float]:
    graph = FakeGraphAPI().start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            config = write_bot(Path(folder), flows, messenger=MESSENGER)
            edited = Path(folder) / "flows" / "part00000.json5"
            env = {"MESSENGER_GRAPH_API_BASE": graph.base_url}
            start = time.perf_counter()
            async with running(config, env=env) as server:
                startup = time.perf_counter() - start
                waits = []
                for number in range(ROUNDS):
                    greeting = f"Edit{number}"
                    await asyncio.sleep(0.3)  # a quiet moment, as between two saves
                    saved = time.perf_counter()
                    edited.write_text(flow_file(0, min(FLOWS_PER_FILE, flows), greeting=greeting))
                    while True:
                        before = len(graph.messages())
                        await server.post(text("word0"), secret=SECRET)
                        replies = await graph.wait_for(before + 1)
                        if (replies[-1].text or "").startswith(greeting):
                            break
                    waits.append(time.perf_counter() - saved)
            return startup, statistics.median(waits)
    finally:
        graph.stop()


async def main() -> None:
    print(f"{'flows':>7} {'startup s':>10} {'save -> new reply ms':>22}")
    for flows in (10, 1_000, 10_000):
        startup, wait = await measure(flows)
        print(f"{flows:>7} {startup:>10.2f} {wait * 1000:>22.0f}")


if __name__ == "__main__":
    asyncio.run(main())
