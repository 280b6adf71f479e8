"""A bot greeting people by name (`user.first_name`) against the same bot without: one command.

    python bench/profile_bench.py [--reps 3] [--people 500] [--messages 3000] [--json FILE]

The quickstart's flows under `runtime serve` (1 worker, SQLite, on CPU 0; load and the fake
Graph API on CPU 1), two ways in turn, `--reps` times interleaved, medians reported:

- "by name": the welcome says "Hi {{ user.first_name or 'there' }}!" as the quickstart's
  does, so the worker asks the User Profile API once for each new person;
- "no name": the same flows with "Hi there!", so it never asks.

Each run, after a warm-up (50 new people): a burst of one "hi" from each of `--people`
people (their first message), then a burst of `--messages` more from the same people
(later messages): answered per second, server CPU per message, and the User Profile calls
the fake Graph API (bench/fake_graph.py) got. Then two steady phases of 6 s (100 messages/s
from those people, plus probes at 20/s, end-to-end latency measured on the probes): the
first with probes from people never seen (a first message, with its lookup), the second
with probes from people seen before (none). About 3 minutes with the defaults. Prints
Markdown; see bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import rig
from bench.bodies import user_psids, write_bodies
from bench.load_bench import machine
from bench.runs import WARMUP_PROBES, placement
from bench.systems import SECRET, Project, System, launch

PACED_RATE = 100.0
PACED_SECONDS = 6.0
PROBE_RATE = 20.0
SYSTEMS = (
    System(kind="project", project=Project(by_name=True)),
    System(kind="project", project=Project(by_name=False)),
)
TITLES = {"project 1w": "by name", "project 1w no-name": "no name"}


@dataclass(slots=True)
class Figures:
    people: int = 0  # who write in the bursts
    # the first burst: each of them sends their first message
    first_answered_per_s: float = float("nan")
    first_cpu_ms: float = float("nan")  # server CPU per message
    first_profile_calls: int = 0
    first_profile_people: int = 0  # the people those calls asked about
    # the second burst: `--messages` more from the same people
    later_answered_per_s: float = float("nan")
    later_cpu_ms: float = float("nan")
    later_profile_calls: int = 0  # none expected
    # the steady phases' probes: new people, then people seen before
    new_p50_ms: float = float("nan")
    new_p99_ms: float = float("nan")
    new_probes: int = 0
    new_profile_calls: int = 0  # one a probe expected (the paced people are known)
    known_p50_ms: float = float("nan")
    known_p99_ms: float = float("nan")
    known_profile_calls: int = 0  # none expected
    lost: int = 0


def run_once(system: System, args: argparse.Namespace) -> Figures:
    place = placement(1)
    with tempfile.TemporaryDirectory(prefix="profile-bench-") as name, rig.affinity(place.load):
        folder = Path(name)
        graph = rig.FakeGraph(folder, place.load)
        try:
            port = rig.free_port()
            how = launch(system, folder, port=port, graph_base=graph.base_url)
            log = folder / "server.log"
            server = rig.spawn(how.command, cpus=place.server, log=log, env=how.env, cwd=how.cwd)
            try:
                rig.wait_listening(port, server, log, within=120)
                time.sleep(1.0)
                return measure(Rig(graph, server.pid, port, folder, place.load), args)
            finally:
                rig.stop(server)
        finally:
            graph.stop()


@dataclass(frozen=True, slots=True)
class Rig:
    """One run's server and fake Graph API, and where the load runs."""

    graph: rig.FakeGraph
    pid: int
    port: int
    folder: Path
    cpus: str | None


def measure(on: Rig, args: argparse.Namespace) -> Figures:
    figures = Figures()
    warmup = rig.Probes(on.port, SECRET)
    warmup.send_now(WARMUP_PROBES)  # connections open, code warm; 50 people asked about
    on.graph.wait_settled(expected=WARMUP_PROBES, within=60)

    people = user_psids(args.people)
    figures.people = len(people)
    rate, cpu, stats, lost = burst(on, people, count=len(people), tag="first")
    figures.first_answered_per_s, figures.first_cpu_ms = rate, cpu
    figures.first_profile_calls, figures.first_profile_people = (
        stats.profile_calls,
        stats.profile_people,
    )
    figures.lost += lost
    rate, cpu, stats, lost = burst(on, people, count=args.messages, tag="later")
    figures.later_answered_per_s, figures.later_cpu_ms = rate, cpu
    figures.later_profile_calls = stats.profile_calls
    figures.lost += lost

    p50, p99, calls, probes, lost = steady(on, people, tag="new", probes_from=WARMUP_PROBES)
    figures.new_p50_ms, figures.new_p99_ms, figures.new_profile_calls = p50, p99, calls
    figures.new_probes = probes
    figures.lost += lost
    # as many probes again, from the warm-up's people on: all of them seen before
    known = steady(on, people, tag="known", probes_from=0)
    figures.known_p50_ms, figures.known_p99_ms, figures.known_profile_calls, _, lost = known
    figures.lost += lost
    return figures


def burst(
    on: Rig, people: list[str], *, count: int, tag: str
) -> tuple[float, float, rig.GraphStats, int]:
    """`count` "hi" from `people` in turn, as fast as the server takes them: messages
    answered per second, server CPU per message (ms), what the fake saw, replies lost."""
    on.graph.reset()
    bodies = write_bodies(
        on.folder / f"{tag}.txt", count=count, psids=people, secret=SECRET, tag=tag
    )
    cpu_before = rig.cpu_seconds(rig.process_tree(on.pid))
    sent = rig.run_wrk(on.port, bodies, cpus=on.cpus, connections=64, folder=on.folder)
    stats = on.graph.wait_settled(expected=sent.ok, within=240)
    cpu = rig.cpu_seconds(rig.process_tree(on.pid)) - cpu_before
    rate = stats.messages / stats.answering_seconds if stats.answering_seconds else float("nan")
    per_message = cpu / stats.messages * 1000 if stats.messages else float("nan")
    return rate, per_message, stats, max(0, sent.ok - stats.messages)


def steady(
    on: Rig, people: list[str], *, tag: str, probes_from: int
) -> tuple[float, float, int, int, int]:
    """PACED_RATE messages/s from `people` and probes from PSIDs numbered from `probes_from`
    for PACED_SECONDS: the probes' e2e p50 and p99 (ms), the User Profile calls, the
    probes answered, and the replies lost."""
    on.graph.reset()
    paced_file = write_bodies(
        on.folder / f"{tag}.txt",
        count=int(PACED_RATE * PACED_SECONDS),
        psids=people,
        secret=SECRET,
        tag=tag,
    )
    probes = rig.Probes(on.port, SECRET, rate=PROBE_RATE, first=probes_from, tag=tag)
    probes.start()
    paced = rig.run_wrk(
        on.port,
        paced_file,
        cpus=on.cpus,
        connections=16,
        rate=PACED_RATE,
        max_seconds=PACED_SECONDS + 30,
        folder=on.folder,
    )
    probes.stop()
    expected = paced.ok + len(probes.sent)
    stats = on.graph.wait_settled(expected=expected, within=120)
    latencies, _ = probes.latencies_ms(stats.probes)
    return (
        rig.percentile(latencies, 50),
        rig.percentile(latencies, 99),
        stats.profile_calls,
        len(latencies),
        max(0, expected - stats.messages),
    )


def median_of(runs: list[Figures]) -> Figures:
    summary = Figures()
    for name in asdict(summary):
        values = [getattr(run, name) for run in runs]
        setattr(summary, name, sum(values) if name == "lost" else rig.median(values))
    return summary


def table(summary: dict[str, Figures]) -> str:
    rows = (
        ("People", "people"),
        ("First messages (one a person): answered per second", "first_answered_per_s"),
        ("First messages: server CPU per message (ms)", "first_cpu_ms"),
        ("First messages: User Profile calls", "first_profile_calls"),
        ("First messages: people those calls asked about", "first_profile_people"),
        ("Later messages: answered per second", "later_answered_per_s"),
        ("Later messages: server CPU per message (ms)", "later_cpu_ms"),
        ("Later messages: User Profile calls", "later_profile_calls"),
        ("Steady, new person's first message: e2e p50 (ms)", "new_p50_ms"),
        ("Steady, new person's first message: e2e p99 (ms)", "new_p99_ms"),
        ("Steady, new people (probes)", "new_probes"),
        ("Steady, new people: User Profile calls", "new_profile_calls"),
        ("Steady, known person's message: e2e p50 (ms)", "known_p50_ms"),
        ("Steady, known person's message: e2e p99 (ms)", "known_p99_ms"),
        ("Steady, known people: User Profile calls", "known_profile_calls"),
        ("Replies lost (all reps)", "lost"),
    )
    labels = list(summary)
    lines = ["| Figure | " + " | ".join(TITLES.get(x, x) for x in labels) + " | ratio |"]
    lines.append("|---|" + "---:|" * (len(labels) + 1))
    for title, name in rows:
        values = [getattr(summary[label], name) for label in labels]
        shown = " | ".join(_number(value) for value in values)
        ratio = values[0] / values[1] if len(values) == 2 and values[1] else float("nan")
        lines.append(f"| {title} | {shown} | {_number(ratio, ratio=True)} |")
    return "\n".join(lines)


def _number(value: float, *, ratio: bool = False) -> str:
    if value != value:  # NaN
        return "n/a"
    if ratio:
        return f"{value:.2f}"
    if float(value).is_integer() or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each run")
    parser.add_argument("--people", type=int, default=500, help="people in the bursts")
    parser.add_argument("--messages", type=int, default=3000, help="the later burst's size")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure here")
    args = parser.parse_args()
    started = time.monotonic()
    print(f"machine: {machine()}", file=sys.stderr, flush=True)
    results: dict[str, list[Figures]] = {system.label: [] for system in SYSTEMS}
    for rep in range(1, args.reps + 1):
        for system in SYSTEMS:
            figures = run_once(system, args)
            results[system.label].append(figures)
            print(
                f"[rep {rep}/{args.reps}] {TITLES[system.label]:<8} later "
                f"{figures.later_answered_per_s:6.1f}/s {figures.later_cpu_ms:.2f} ms/msg, "
                f"first {figures.first_cpu_ms:.2f} ms/msg; e2e p99 new "
                f"{figures.new_p99_ms:.1f} ms, known {figures.known_p99_ms:.1f} ms; profile "
                f"calls first/later/new/known {figures.first_profile_calls}/"
                f"{figures.later_profile_calls}/{figures.new_profile_calls}/"
                f"{figures.known_profile_calls}; lost {figures.lost}",
                file=sys.stderr,
                flush=True,
            )
    summary = {label: median_of(runs) for label, runs in results.items()}
    print(f"\nMachine: {machine()}\n")
    print(table(summary))
    print(f"\n{args.reps} repetitions, medians; {time.monotonic() - started:.0f} s in all.")
    if args.json is not None:
        data = {label: [asdict(run) for run in runs] for label, runs in results.items()}
        args.json.write_text(json.dumps(data, indent=2))


if __name__ == "__main__":
    main()
