"""`runtime serve --workers 2`: /metrics says what both workers did, whichever answers it."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.processes import Server, serve_command
from tests.fakes.webhooks import encode, signed_headers, text
from tests.messenger.conftest import APP_SECRET, single_page, write_bot
from tests.metrics.scrape import Scrape, graph_requests, read, scrape_until_sync

PEOPLE = 8
FLOWS = """{ flows: {
  welcome: { triggers: [{ keywords: ["hi"] }], steps: [{ text: "%s" }] },
} }"""


def test_two_workers_are_counted_as_one_server(
    tmp_path: Path, graph: FakeGraphAPI, start: Callable[..., Server]
) -> None:
    config = write_bot(tmp_path, single_page(senderActions="false"), flows=FLOWS % "Hello v1")
    abandoned = _folder_of_a_killed_server()
    server = start(*serve_command(config, "--workers", "2", "--no-reload"))
    server.wait_ready()
    assert not abandoned.exists()  # removed as the server started
    metrics = server.url + "/metrics"

    # N people at once, on as many connections: each worker takes whichever it accepts
    def send(number: int) -> int:
        raw = encode(text("hi", psid=f"35{number:04d}"))
        headers = signed_headers(raw, APP_SECRET)
        return httpx.post(
            server.url + "/webhook/messenger", content=raw, headers=headers
        ).status_code

    with ThreadPoolExecutor(PEOPLE) as pool:
        assert list(pool.map(send, range(PEOPLE))) == [200] * PEOPLE
    graph.wait_sync(PEOPLE)

    def everything(scrape: Scrape) -> bool:
        return (
            scrape.value("runtime_turns_total", flow="welcome") == PEOPLE
            and scrape.value("runtime_replies_sent_total") == PEOPLE
        )

    scrape_until_sync(metrics, everything)
    # each scrape on a new connection, answered by either worker: the same totals
    for _ in range(6):
        scrape = read(httpx.get(metrics, timeout=5))
        assert scrape.value("runtime_webhooks_total", outcome="ok") == PEOPLE
        assert scrape.value("runtime_turns_total", flow="welcome") == PEOPLE
        assert scrape.value("runtime_replies_sent_total") == PEOPLE
        assert scrape.total("runtime_graph_request_seconds_count") == graph_requests(graph)

    # a SIGHUP reloads each worker once: two reloads, whichever worker is asked
    (tmp_path / "flows" / "main.json5").write_text(FLOWS % "Hello v2")
    server.process.send_signal(signal.SIGHUP)
    reloaded = scrape_until_sync(metrics, lambda now: now.value("runtime_reloads_total") == 2)
    assert reloaded.value("runtime_reload_failures_total") == 0
    new = httpx.get(server.url + "/healthz").json()["version"]
    assert reloaded.labels("runtime_bot_version_info") == [{"version": new}]
    for _ in range(4):
        assert read(httpx.get(metrics, timeout=5)).value("runtime_reloads_total") == 2

    folders = list(Path(tempfile.gettempdir()).glob(f"runtime-metrics-{server.process.pid}-*"))
    assert len(folders) == 1  # where the workers count
    assert server.stop() == 0
    assert not any(folder.exists() for folder in folders)  # removed at exit


def _folder_of_a_killed_server() -> Path:
    """What a `runtime serve` killed with SIGKILL leaves: a folder named for a pid that is
    no process's now."""
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    folder = Path(tempfile.mkdtemp(prefix=f"runtime-metrics-{ended.pid}-"))
    (folder / "counter_1234.db").write_bytes(b"\0" * 8)
    return folder
