"""One run: a server under test, the fake Graph API, a burst, a steady phase, the figures.

The burst replays `messages` distinct signed bodies as fast as the server takes them (wrk,
64 connections): accept throughput and latency come from it, and, once the fake Graph API
has every reply, messages answered per second, Graph calls and Graph HTTP requests per
second (a batch request carries several calls) and CPU per message.
A server answers far more slowly than it accepts (it sends three Graph calls a message), so
a burst of fixed size keeps the backlog, and the wait for it, bounded.
The steady phase then sends `paced_rate` messages a second that every server keeps up
with, plus probes from unique PSIDs: end-to-end latency is measured there, where it is
the time a user waits, not the length of a queue built on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from bench import rig
from bench.bodies import HI, user_psid, user_psids, write_bodies
from bench.systems import SECRET, System, launch

WARMUP_PROBES = 50
Observer = Callable[[int], AbstractContextManager[None]]
BURST_CONNECTIONS = 64
PACED_CONNECTIONS = 16


@dataclass(frozen=True, slots=True, kw_only=True)
class Load:
    """What one run sends."""

    messages: int = 3000  # the burst's bodies
    psids: tuple[str, ...] = tuple(user_psids(1000))
    message: Callable[[str, int], dict[str, object]] = HI
    replies_per_message: int = 1  # Send API messages one inbound message gets
    paced_rate: float = 100.0  # 0: no steady phase
    paced_seconds: float = 6.0
    probe_rate: float = 20.0
    prefill_users: int = 0  # users (sessions, last inbound) put in the store beforehand


@dataclass(frozen=True, slots=True, kw_only=True)
class Placement:
    """taskset CPU lists; None: anywhere."""

    server: str | None
    load: str | None


def placement(workers: int) -> Placement:
    """One worker: the server on CPU 0, wrk, the fake and the probes on CPU 1. Two workers
    on this 2-core box: nothing is pinned (server and load share both cores)."""
    return Placement(server="0", load="1") if workers == 1 else Placement(server=None, load=None)


@dataclass(slots=True)
class Figures:
    accept_rps: float = float("nan")
    accept_p50_ms: float = float("nan")
    accept_p99_ms: float = float("nan")
    e2e_p50_ms: float = float("nan")
    e2e_p99_ms: float = float("nan")
    answered_per_s: float = float("nan")
    graph_calls_per_s: float = float("nan")
    graph_requests_per_s: float = float("nan")  # HTTP requests: single calls and batches
    graph_calls_per_request: float = float("nan")
    lost: int = 0
    peak_rss_mib: float = float("nan")
    cpu_ms_per_message: float = float("nan")
    notes: list[str] = field(default_factory=list)


def run_once(system: System, load: Load, *, observe: Observer | None = None) -> Figures:
    """Start the fake Graph API and `system`, apply `load`, stop both; the figures.

    `observe(pid)`, when given, is entered around the burst and its drain (a profiler).
    """
    place = placement(system.workers)
    with tempfile.TemporaryDirectory(prefix="load-bench-") as name, rig.affinity(place.load):
        folder = Path(name)
        graph = rig.FakeGraph(folder, place.load)
        try:
            port = rig.free_port()
            how = launch(system, folder, port=port, graph_base=graph.base_url)
            if load.prefill_users:
                asyncio.run(prefill(folder / "state.db", load.prefill_users))
            log = folder / "server.log"
            server = rig.spawn(how.command, cpus=place.server, log=log, env=how.env, cwd=how.cwd)
            try:
                rig.wait_listening(port, server, log, within=180)
                time.sleep(1.0)  # every worker up
                return measure(load, graph, server.pid, port, folder, place, observe)
            except Exception:
                print(f"--- {system.label}: server log ---\n{rig._tail(log)}", flush=True)
                raise
            finally:
                rig.stop(server)
        finally:
            graph.stop()


def measure(
    load: Load,
    graph: rig.FakeGraph,
    pid: int,
    port: int,
    folder: Path,
    place: Placement,
    observe: Observer | None,
) -> Figures:
    figures = Figures()
    per = load.replies_per_message
    warmup = rig.Probes(port, SECRET)
    warmup.send_now(WARMUP_PROBES)  # connections open, caches warm
    graph.wait_settled(expected=len(warmup.sent) * per, within=60)
    graph.reset()

    burst_file = write_bodies(
        folder / "burst.txt",
        count=load.messages,
        psids=load.psids,
        secret=SECRET,
        tag="burst",
        message=load.message,
    )
    with observe(pid) if observe is not None else contextlib.nullcontext():
        cpu_before = rig.cpu_seconds(rig.process_tree(pid))
        burst = rig.run_wrk(
            port, burst_file, cpus=place.load, connections=BURST_CONNECTIONS, folder=folder
        )
        settled = graph.wait_settled(expected=burst.ok * per, within=240)
        cpu = rig.cpu_seconds(rig.process_tree(pid)) - cpu_before
    answered = settled.messages / per
    figures.accept_rps = burst.accept_rate
    figures.accept_p50_ms, figures.accept_p99_ms = burst.p50_ms, burst.p99_ms
    if settled.answering_seconds > 0:
        figures.answered_per_s = answered / settled.answering_seconds
        figures.graph_calls_per_s = settled.calls / settled.answering_seconds
        figures.graph_requests_per_s = settled.requests / settled.answering_seconds
    if settled.requests:
        figures.graph_calls_per_request = settled.calls / settled.requests
    figures.cpu_ms_per_message = cpu / answered * 1000 if answered else float("nan")
    figures.lost = max(0, burst.ok * per - settled.messages)
    figures.notes += _wrk_notes("burst", burst)

    if load.paced_rate > 0:
        graph.reset()
        paced_file = write_bodies(
            folder / "paced.txt",
            count=int(load.paced_rate * load.paced_seconds),
            psids=load.psids,
            secret=SECRET,
            tag="paced",
            message=load.message,
        )
        probes = rig.Probes(port, SECRET, rate=load.probe_rate, first=WARMUP_PROBES)
        probes.start()
        paced = rig.run_wrk(
            port,
            paced_file,
            cpus=place.load,
            connections=PACED_CONNECTIONS,
            rate=load.paced_rate,
            max_seconds=load.paced_seconds + 30,
            folder=folder,
        )
        probes.stop()
        expected = (paced.ok + len(probes.sent)) * per
        steady = graph.wait_settled(expected=expected, within=120)
        latencies, unanswered = probes.latencies_ms(steady.probes)
        figures.e2e_p50_ms = rig.percentile(latencies, 50)
        figures.e2e_p99_ms = rig.percentile(latencies, 99)
        figures.lost += max(0, expected - steady.messages)
        figures.notes += _wrk_notes("steady", paced)
        if unanswered or probes.refused:
            figures.notes.append(f"probes: {unanswered} unanswered, {probes.refused} refused")
    figures.peak_rss_mib = rig.peak_rss_mib(rig.process_tree(pid))
    return figures


def _wrk_notes(phase: str, result: rig.WrkResult) -> list[str]:
    notes = []
    if result.failed:
        notes.append(f"{phase}: {result.failed} answers were not 200")
    if result.resent:
        notes.append(f"{phase}: {result.resent} bodies sent twice (wrk reconnected)")
    if result.sent < result.bodies:
        notes.append(f"{phase}: only {result.sent} of {result.bodies} bodies sent in time")
    return notes


async def prefill(path: Path, users: int) -> None:
    """Put `users` users (a session and a last-inbound time each) in the SQLite store,
    through the store's own API, before the server opens it."""
    from runtime.session import Session, session_key
    from runtime.store.sqlite import SQLiteStore

    store = SQLiteStore(path)
    await store.open()
    now = time.time()
    try:
        for first in range(0, users, 500):
            psids = [user_psid(number) for number in range(first, min(first + 500, users))]
            await asyncio.gather(
                *(
                    store.save_session(
                        Session(
                            key=session_key("main", psid),
                            account_id="default",
                            psid=psid,
                            updated_at=now,
                        )
                    )
                    for psid in psids
                )
            )
            await asyncio.gather(*(store.record_inbound("default", p, now) for p in psids))
    finally:
        await store.close()
