"""One host on SQLite, one host on Redis, two hosts on one Redis: the same load, side by side.

    python bench/redis_bench.py [--reps 3] [--messages 3000] [--rate 100] [--json FILE]

Each run: the fake Graph API (bench/fake_graph.py), a real redis-server (Debian's, started
here with no persistence, as a cache-like Redis would be, for the Redis runs), and
`runtime serve` (1 worker a host) on the quickstart's flows (greeting without the name).
Three runs in turn, `--reps` times interleaved, medians reported:

- "SQLite, 1 host": the default store; the server on CPU 0, the rest on CPU 1;
- "Redis, 1 host": the same with `state.backend: redis`; redis-server on CPU 1;
- "Redis, 2 hosts": two servers on the one Redis (ports of their own, as behind a load
  balancer), the load split between them; nothing pinned (2 CPUs for everything).

Figures: a burst of `--messages` signed "hi" from 1,000 people replayed by wrk as fast as
the hosts take them (64 connections, split between the hosts): messages answered per
second once the fake Graph API has every reply, and CPU per message (the hosts and
redis-server); then `--rate` messages a second for 6 s with probes from new people: the
end-to-end p50 / p99; replies lost. Prints Markdown; see bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import rig
from bench.bodies import user_psids, write_bodies
from bench.load_bench import machine
from bench.runs import BURST_CONNECTIONS, PACED_CONNECTIONS, WARMUP_PROBES
from bench.systems import SECRET, Project, System, launch

PSIDS = tuple(user_psids(1000))
PROBE_RATE = 20.0
PACED_SECONDS = 6.0


@dataclass(frozen=True, slots=True)
class Variant:
    title: str
    state: str  # sqlite or redis
    hosts: int


VARIANTS = (
    Variant("SQLite, 1 host", "sqlite", 1),
    Variant("Redis, 1 host", "redis", 1),
    Variant("Redis, 2 hosts", "redis", 2),
)


@dataclass(slots=True)
class Figures:
    answered_per_s: float = float("nan")
    cpu_ms_per_message: float = float("nan")  # the hosts' and redis-server's CPU
    redis_cpu_ms_per_message: float = float("nan")
    e2e_p50_ms: float = float("nan")
    e2e_p99_ms: float = float("nan")
    lost: int = 0
    notes: list[str] = field(default_factory=list)


def start_redis(folder: Path, cpus: str | None) -> tuple[subprocess.Popen[bytes], str]:
    port = rig.free_port()
    log = folder / "redis.log"
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(folder)]
    process = rig.spawn(command, cpus=cpus, log=log)
    deadline = time.monotonic() + 10
    ping = ["redis-cli", "-p", str(port), "ping"]
    while subprocess.run(ping, capture_output=True, text=True).stdout.strip() != "PONG":
        if process.poll() is not None or time.monotonic() > deadline:
            rig.stop(process)
            raise RuntimeError(f"redis-server did not start on port {port}: {log.read_text()}")
        time.sleep(0.05)
    return process, f"redis://127.0.0.1:{port}/0"


def run_once(variant: Variant, args: argparse.Namespace) -> Figures:
    server_cpus, load_cpus = ("0", "1") if variant.hosts == 1 else (None, None)
    with tempfile.TemporaryDirectory(prefix="redis-bench-") as name, rig.affinity(load_cpus):
        folder = Path(name)
        graph = rig.FakeGraph(folder, load_cpus)
        redis: subprocess.Popen[bytes] | None = None
        servers: list[subprocess.Popen[bytes]] = []
        try:
            project = Project(by_name=False)
            if variant.state == "redis":
                redis, url = start_redis(folder, load_cpus)
                project = replace(project, state="redis", redis_url=url)
            ports = []
            for host in range(variant.hosts):
                home = folder / f"host-{host}"
                home.mkdir()
                port = rig.free_port()
                system = System(kind="project", project=project)
                how = launch(system, home, port=port, graph_base=graph.base_url)
                log = home / "server.log"
                server = rig.spawn(how.command, cpus=server_cpus, log=log, env=how.env, cwd=how.cwd)
                servers.append(server)
                rig.wait_listening(port, server, log, within=120)
                ports.append(port)
            time.sleep(1.0)
            pids = [pid for server in servers for pid in rig.process_tree(server.pid)]
            redis_pids = [redis.pid] if redis is not None else []
            return measure(args, graph, ports, pids, redis_pids, folder, load_cpus)
        finally:
            for server in servers:
                rig.stop(server)
            if redis is not None:
                rig.stop(redis)
            graph.stop()


def measure(
    args: argparse.Namespace,
    graph: rig.FakeGraph,
    ports: list[int],
    pids: list[int],
    redis_pids: list[int],
    folder: Path,
    load_cpus: str | None,
) -> Figures:
    figures = Figures()
    for number, port in enumerate(ports):
        warmup = rig.Probes(port, SECRET, first=number * WARMUP_PROBES, tag="warm")
        warmup.send_now(WARMUP_PROBES)
    graph.wait_settled(expected=WARMUP_PROBES * len(ports), within=60)
    graph.reset()

    # the burst: one wrk a host, each with its share of the bodies
    shares = [
        write_bodies(
            folder / f"burst-{number}.txt",
            count=args.messages // len(ports),
            psids=PSIDS[number :: len(ports)],
            secret=SECRET,
            tag=f"burst{number}",
        )
        for number in range(len(ports))
    ]
    cpu_before = rig.cpu_seconds(pids)
    redis_before = rig.cpu_seconds(redis_pids)
    results = replay_all(ports, shares, BURST_CONNECTIONS // len(ports), load_cpus, folder)
    accepted = sum(result.ok for result in results)
    settled = graph.wait_settled(expected=accepted, within=240)
    redis_cpu = rig.cpu_seconds(redis_pids) - redis_before
    cpu = rig.cpu_seconds(pids) - cpu_before + redis_cpu
    if settled.answering_seconds > 0:
        figures.answered_per_s = settled.messages / settled.answering_seconds
    if settled.messages:
        figures.cpu_ms_per_message = cpu / settled.messages * 1000
        figures.redis_cpu_ms_per_message = redis_cpu / settled.messages * 1000
    figures.lost = max(0, accepted - settled.messages)

    # the steady phase: the paced load and the probes, split between the hosts
    graph.reset()
    paced = [
        write_bodies(
            folder / f"paced-{number}.txt",
            count=int(args.rate * PACED_SECONDS) // len(ports),
            psids=PSIDS[number :: len(ports)],
            secret=SECRET,
            tag=f"paced{number}",
        )
        for number in range(len(ports))
    ]
    probes = [
        rig.Probes(
            port,
            SECRET,
            rate=PROBE_RATE / len(ports),
            first=(len(ports) + number) * WARMUP_PROBES + number * 10_000,
            tag="probe",
        )
        for number, port in enumerate(ports)
    ]
    for probe in probes:
        probe.start()
    steady = replay_all(
        ports, paced, PACED_CONNECTIONS, load_cpus, folder, rate=args.rate / len(ports)
    )
    for probe in probes:
        probe.stop()
    expected = sum(result.ok for result in steady) + sum(len(probe.sent) for probe in probes)
    settled = graph.wait_settled(expected=expected, within=120)
    latencies = [ms for probe in probes for ms in probe.latencies_ms(settled.probes)[0]]
    figures.e2e_p50_ms = rig.percentile(latencies, 50)
    figures.e2e_p99_ms = rig.percentile(latencies, 99)
    figures.lost += max(0, expected - settled.messages)
    refused = sum(probe.refused for probe in probes)
    failed = sum(result.failed for result in [*results, *steady])
    if refused or failed:
        figures.notes.append(f"{failed} webhook POSTs failed, {refused} probes refused")
    return figures


def replay_all(
    ports: list[int],
    bodies: list[Path],
    connections: int,
    cpus: str | None,
    folder: Path,
    *,
    rate: float = 0,
) -> list[rig.WrkResult]:
    """wrk on every host at once, each replaying its own bodies."""
    results: list[rig.WrkResult | None] = [None] * len(ports)

    def replay(index: int) -> None:
        results[index] = rig.run_wrk(
            ports[index],
            bodies[index],
            cpus=cpus,
            connections=connections,
            rate=rate,
            max_seconds=PACED_SECONDS + 60,
            folder=folder,
        )

    threads = [threading.Thread(target=replay, args=(index,)) for index in range(len(ports))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [result for result in results if result is not None]


def median_of(runs: list[Figures]) -> Figures:
    def mid(name: str) -> float:
        values = [getattr(run, name) for run in runs if getattr(run, name) == getattr(run, name)]
        return statistics.median(values) if values else float("nan")

    return Figures(
        answered_per_s=mid("answered_per_s"),
        cpu_ms_per_message=mid("cpu_ms_per_message"),
        redis_cpu_ms_per_message=mid("redis_cpu_ms_per_message"),
        e2e_p50_ms=mid("e2e_p50_ms"),
        e2e_p99_ms=mid("e2e_p99_ms"),
        lost=sum(run.lost for run in runs),
        notes=[note for run in runs for note in run.notes],
    )


ROWS = (
    ("answered_per_s", "Messages answered per second (burst)"),
    ("cpu_ms_per_message", "CPU per message, hosts + Redis (ms)"),
    ("redis_cpu_ms_per_message", "of which redis-server (ms)"),
    ("e2e_p50_ms", "End-to-end p50 at {rate}/s (ms)"),
    ("e2e_p99_ms", "End-to-end p99 at {rate}/s (ms)"),
    ("lost", "Replies lost (all reps)"),
)


def table(summary: dict[str, Figures], rate: float) -> str:
    titles = list(summary)
    base = summary[titles[0]]
    lines = [
        "| Figure | " + " | ".join(titles) + " | Redis 1 host / SQLite |",
        "|---|" + "---:|" * (len(titles) + 1),
    ]
    for name, title in ROWS:
        cells = [_number(getattr(summary[t], name)) for t in titles]
        base_value = getattr(base, name)
        shown = ""
        if name != "lost" and base_value:
            shown = f"{getattr(summary[titles[1]], name) / base_value:.2f}"
        lines.append(f"| {title.format(rate=f'{rate:g}')} | " + " | ".join(cells) + f" | {shown} |")
    return "\n".join(lines)


def _number(value: float) -> str:
    if value != value:
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each run")
    parser.add_argument("--messages", type=int, default=3000, help="the burst's messages")
    parser.add_argument("--rate", type=float, default=100.0, help="the steady messages a second")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure here")
    args = parser.parse_args()
    started = time.monotonic()
    print(f"machine: {machine()}", file=sys.stderr, flush=True)
    results: dict[str, list[Figures]] = {variant.title: [] for variant in VARIANTS}
    for rep in range(1, args.reps + 1):
        for variant in VARIANTS:
            figures = run_once(variant, args)
            results[variant.title].append(figures)
            print(
                f"[rep {rep}/{args.reps}] {variant.title:<15} {figures.answered_per_s:.0f}/s,"
                f" {figures.cpu_ms_per_message:.2f} ms CPU/msg"
                f" (redis {figures.redis_cpu_ms_per_message:.2f}),"
                f" p50 {figures.e2e_p50_ms:.1f} ms, p99 {figures.e2e_p99_ms:.1f} ms,"
                f" lost {figures.lost}"
                + (f"; {'; '.join(figures.notes)}" if figures.notes else ""),
                file=sys.stderr,
                flush=True,
            )
    summary = {title: median_of(runs) for title, runs in results.items()}
    print(f"\nMachine: {machine()}\n")
    print(table(summary, args.rate))
    print(
        f"\n{args.reps} repetitions, medians; a burst of {args.messages} messages, then"
        f" {args.rate:g}/s for {PACED_SECONDS:g} s; {time.monotonic() - started:.0f} s in all."
    )
    if args.json is not None:
        data = {title: [asdict(run) for run in runs] for title, runs in results.items()}
        args.json.write_text(json.dumps(data, indent=2))


if __name__ == "__main__":
    main()
