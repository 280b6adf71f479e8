"""kill -9 mid-stream: every accepted message gets its reply after a restart, none is lost.

A message can be answered twice only if the process dies between the Graph API accepting
a reply and the outbox forgetting it (a few milliseconds per send); the test counts those.
A person's next message waits until the replies to their last one left the outbox, so at
most one turn's replies a person (one here) can be in that window, batched or not.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.durability.conftest import echo_bot
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.processes import Server, free_port
from tests.fakes.webhooks import encode, signed_headers, text
from tests.messenger.conftest import APP_SECRET

USERS = [f"800{number}" for number in range(10)]
PER_USER = 30


def start_server(config: Path, port: int, graph: FakeGraphAPI, log: Path) -> Server:
    environ = {**os.environ, "MESSENGER_GRAPH_API_BASE": graph.base_url}
    command = [sys.executable, "-m", "runtime", "serve", "-c", str(config), "--port", str(port)]
    with log.open("a") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=environ, text=True
        )
    server = Server(process, port, log)
    server.wait_ready()
    return server


def test_kill_9_mid_stream_loses_no_accepted_message(tmp_path: Path, graph: FakeGraphAPI) -> None:
    config = echo_bot(tmp_path)
    log = tmp_path / "server.log"
    server = start_server(config, free_port(), graph, log)
    # the restarted server listens on a fresh port (an old one may linger in TIME_WAIT): the
    # senders read the current address from here, as a load balancer would route
    address = [server.url]
    accepted: set[str] = set()
    refused: list[tuple[str, bytes]] = []  # a message and its body, sent again as it was
    lock = threading.Lock()
    killed = threading.Event()

    def user(psid: str) -> None:
        with httpx.Client(timeout=5) as client:
            for number in range(PER_USER):
                message = f"{psid}-{number}"
                raw = encode(text(message, psid=psid))
                try:
                    answer = client.post(
                        f"{address[0]}/webhook/messenger",
                        content=raw,
                        headers=signed_headers(raw, APP_SECRET),
                    )
                    ok = answer.status_code == 200
                except httpx.TransportError:
                    ok = False
                with lock:
                    (accepted.add(message) if ok else refused.append((message, raw)))
                if not ok:
                    killed.wait(10)

    threads = [threading.Thread(target=user, args=(psid,)) for psid in USERS]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(accepted) < len(USERS) * PER_USER // 3:
        assert time.monotonic() < deadline, "the load did not get going"
        time.sleep(0.005)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)
    server = start_server(config, free_port(), graph, log)
    address[0] = server.url
    killed.set()
    for thread in threads:
        thread.join(timeout=60)
    # what got no 200 while the server was down, Meta delivers again, the same body (and mid):
    # so do we; what the killed server had accepted before it died is not answered twice
    with httpx.Client(timeout=5) as client:
        for message, raw in refused:
            answer = client.post(
                server.url + "/webhook/messenger",
                content=raw,
                headers=signed_headers(raw, APP_SECRET),
            )
            assert answer.status_code == 200
            accepted.add(message)

    wanted = {f"You said: {message}" for message in accepted}
    deadline = time.monotonic() + 60
    while not wanted <= {m.text for m in graph.messages()}:
        assert time.monotonic() < deadline, (
            f"missing: {sorted(wanted - {m.text for m in graph.messages()})[:10]}"
        )
        time.sleep(0.05)
    time.sleep(0.5)
    assert server.stop() == 0
    counts = Counter(m.text for m in graph.messages())
    doubled = sorted(reply for reply, count in counts.items() if count > 1)
    print(f"\n{len(accepted)} messages accepted, all answered; twice: {len(doubled)} {doubled}")
    assert set(counts) == wanted  # nothing unasked for
    assert len(doubled) <= len(USERS), doubled
