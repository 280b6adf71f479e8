"""A slow API never slows anyone else: fast replies with and without a flow whose API takes 1 s.

    python bench/slow_api_bench.py [--reps 3] [--rate 100] [--seconds 20] [--json FILE]

The quickstart's flows (greeting without the name, so no User Profile call) plus one flow,
`slowapi`, whose `http` step calls bench/slow_api.py (a real local HTTP server) and answers
with what it said. `runtime serve`, 1 worker, SQLite, on CPU 0; the load, the fake Graph API
(bench/fake_graph.py) and the API on CPU 1. Three runs in turn, `--reps` times interleaved,
medians reported:

- "fast only": `--rate` x 80 % messages a second, each a "hi" from a new person;
- "API at once": the same, plus `--rate` x 20 % "slowapi" messages a second (each from a new
  person too), the API answering at once;
- "API takes 1 s": the same, the API answering each call after `--delay` seconds.

The load is open-loop (rig.Probes: each message sent at its time from a pool of threads,
whatever the answers before it are doing), so slow calls cannot hold the fast messages'
sender back; each message's latency is the arrival of its reply at the fake Graph API minus
its send time. Figures of the fast messages only: replies a second (those that came while
the fast messages were being sent, over that time) and the p50/p99 latency; and of the slow
ones, to show they were answered (and how long their calls took, by the server's log).

On a shared machine, other work (a test suite) moves these figures more than anything
measured: before each run the benchmark waits (up to `--wait` seconds) until the CPUs are
less than `--quiet` % taken, and makes the run again (up to `--tries` runs) when more than
`--max-others` % were taken meanwhile; it reports both shares: other processes, and steal
(the CPUs the host gave its other virtual machines), the larger by far on a busy host.
About 6 minutes on a quiet machine. Prints Markdown; see bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import rig
from bench.load_bench import machine
from bench.runs import WARMUP_PROBES, placement
from bench.systems import SECRET, Project, System, launch

SLOW_SHARE = 0.2
_CALL_TIME = re.compile(r" -> 200 in (\d+) ms")
KEYWORD = "slowapi"
SLOW_FIRST = 5_000_000  # probe numbers of the slow flow's people: apart from the fast ones
WARMUP_CALLS = 10
SENDERS = 32  # threads sending the fast messages (the slow ones: a quarter as many)


@dataclass(frozen=True, slots=True)
class Variant:
    title: str
    delay: float | None  # the API's delay; None: no slow message is sent


def variants(delay: float) -> tuple[Variant, ...]:
    return (
        Variant("fast only", None),
        Variant("API at once", 0.0),
        Variant(f"API takes {delay:g} s", delay),
    )


@dataclass(slots=True)
class Figures:
    fast_sent: int = 0
    fast_per_s: float = float("nan")  # replies to fast messages a second
    fast_p50_ms: float = float("nan")
    fast_p99_ms: float = float("nan")
    slow_sent: int = 0
    slow_p50_ms: float = float("nan")
    slow_p99_ms: float = float("nan")
    api_calls: int = 0  # calls the API received
    calls_ok: int = 0  # `http` log lines of the server with a 200
    slowest_call_ms: float = float("nan")  # the longest of them, by the server's log
    cpu_ms: float = float("nan")  # server CPU per message
    graph_calls: float = float("nan")  # Graph API calls (messages, sender actions) a message
    graph_requests: float = float("nan")  # Graph HTTP requests a message (a batch is one)
    # CPU the machine spent on processes not of this run (and the kernel's work for none in
    # particular), as a share of all its CPUs: other work on a shared machine
    other_cpu_pct: float = float("nan")
    steal_pct: float = float("nan")  # the machine's CPUs given to other VMs of the host
    lost: int = 0
    attempts: int = 1  # runs made to get one on a quiet enough machine (the last is kept)
    notes: list[str] = field(default_factory=list)


def flow_file(api_port: int) -> str:
    """The slow flow: one `http` step, then its answer (or the on_error flow's)."""
    url = f"http://127.0.0.1:{api_port}/orders/{{{{ user.psid }}}}"
    return (
        "{ flows: {\n"
        f'  bench_slow_api: {{ triggers: [{{ keywords: ["{KEYWORD}"] }}], steps: [\n'
        f'    {{ http: {{ url: "{url}", save_as: "order", on_error: "bench_api_down" }} }},\n'
        '    { text: "Order {{ vars.order.body.number }} is {{ vars.order.body.status }}." },\n'
        "  ] },\n"
        '  bench_api_down: { steps: [{ text: "The order service did not answer." }] },\n'
        "} }\n"
    )


def run_once(variant: Variant, args: argparse.Namespace) -> Figures:
    place = placement(1)
    with tempfile.TemporaryDirectory(prefix="slow-api-bench-") as name, rig.affinity(place.load):
        folder = Path(name)
        graph = rig.FakeGraph(folder, place.load)
        api_port = rig.free_port()
        api_log = folder / "slow_api.log"
        delay = variant.delay or 0.0
        command = [sys.executable, str(rig.BENCH / "slow_api.py"), "--port", str(api_port)]
        api = rig.spawn([*command, "--delay", str(delay)], cpus=place.load, log=api_log)
        try:
            rig.wait_listening(api_port, api, api_log, within=10)
            port = rig.free_port()
            system = System(kind="project", project=Project(by_name=False))
            how = launch(system, folder, port=port, graph_base=graph.base_url)
            (folder / "flows" / "bench_slow_api.json5").write_text(flow_file(api_port))
            log = folder / "server.log"
            server = rig.spawn(how.command, cpus=place.server, log=log, env=how.env, cwd=how.cwd)
            try:
                rig.wait_listening(port, server, log, within=120)
                time.sleep(1.0)
                ours = Ours(server.pid, (graph.process.pid, api.pid, os.getpid()))
                return measure(variant, args, graph, ours, port, api_port, log)
            except Exception:
                print(f"--- {variant.title}: server log ---\n{rig._tail(log)}", flush=True)
                raise
            finally:
                rig.stop(server)
        finally:
            rig.stop(api)
            graph.stop()


def measure(
    variant: Variant,
    args: argparse.Namespace,
    graph: rig.FakeGraph,
    ours: Ours,
    port: int,
    api_port: int,
    log: Path,
) -> Figures:
    figures = Figures()
    sends_slow = variant.delay is not None
    warmup = rig.Probes(port, SECRET, tag="warm")
    warmup.send_now(WARMUP_PROBES)  # connections open, code warm
    expected = WARMUP_PROBES
    if sends_slow:  # the API's client and connections too
        calls = rig.Probes(port, SECRET, first=SLOW_FIRST, tag="warm", words=KEYWORD)
        calls.send_now(WARMUP_CALLS)
        expected += WARMUP_CALLS
    graph.wait_settled(expected=expected, within=60)
    graph.reset()
    rig.http_call(api_port, "POST", "/reset")
    calls_before = _calls_ok(log)

    fast_rate = args.rate * (1 - SLOW_SHARE)
    fast = rig.Probes(
        port, SECRET, rate=fast_rate, first=WARMUP_PROBES, tag="fast", senders=SENDERS
    )
    slow = rig.Probes(
        port,
        SECRET,
        rate=args.rate * SLOW_SHARE,
        first=SLOW_FIRST + WARMUP_CALLS,
        tag="slow",
        words=KEYWORD,
        senders=SENDERS // 4,
    )
    cpu_before = rig.cpu_seconds(rig.process_tree(ours.server))
    (busy_before, steal_before), ours_before = machine_times(), ours.cpu()
    started = time.monotonic()
    fast.start()
    if sends_slow:
        slow.start()
    time.sleep(args.seconds)
    fast.stop()
    slow.stop()
    elapsed = time.monotonic() - started
    busy, steal = machine_times()
    capacity = elapsed * (os.cpu_count() or 1) / 100  # CPU seconds in 1 % of the machine
    figures.other_cpu_pct = max(0.0, busy - busy_before - (ours.cpu() - ours_before)) / capacity
    figures.steal_pct = (steal - steal_before) / capacity
    expected = len(fast.sent) + len(slow.sent)
    settled = graph.wait_settled(expected=expected, within=60)
    cpu = rig.cpu_seconds(rig.process_tree(ours.server)) - cpu_before

    fast_latencies, fast_unanswered = fast.latencies_ms(settled.probes)
    figures.fast_sent = len(fast.sent)
    figures.fast_p50_ms = rig.percentile(fast_latencies, 50)
    figures.fast_p99_ms = rig.percentile(fast_latencies, 99)
    # replies that came while the fast messages were being sent, a second: the rate they
    # are answered at (one reply held up past the end does not stretch the window)
    first, last = min(fast.sent.values()), max(fast.sent.values())
    answered = [settled.probes[psid] for psid in fast.sent if psid in settled.probes]
    figures.fast_per_s = sum(first <= at <= last for at in answered) / (last - first)
    slow_latencies, slow_unanswered = slow.latencies_ms(settled.probes)
    figures.slow_sent = len(slow.sent)
    figures.slow_p50_ms = rig.percentile(slow_latencies, 50)
    figures.slow_p99_ms = rig.percentile(slow_latencies, 99)
    figures.api_calls = json.loads(rig.http_call(api_port, "GET", "/stats"))["calls"]
    figures.calls_ok = _calls_ok(log) - calls_before
    figures.slowest_call_ms = max(_call_times(log)[calls_before:], default=float("nan"))
    figures.cpu_ms = cpu / settled.messages * 1000 if settled.messages else float("nan")
    if settled.messages:
        figures.graph_calls = settled.calls / settled.messages
        figures.graph_requests = settled.requests / settled.messages
    figures.lost = max(0, expected - settled.messages)
    if fast_unanswered or slow_unanswered or fast.refused or slow.refused:
        figures.notes.append(
            f"unanswered fast {fast_unanswered}, slow {slow_unanswered};"
            f" refused fast {fast.refused}, slow {slow.refused}"
        )
    return figures


@dataclass(frozen=True, slots=True)
class Ours:
    """The processes of a run: the server (and its children), the rest by pid."""

    server: int
    others: tuple[int, ...]

    def cpu(self) -> float:
        return rig.cpu_seconds([*rig.process_tree(self.server), *self.others])


def machine_times() -> tuple[float, float]:
    """CPU seconds the whole machine has spent busy (not idle, not waiting on I/O, not
    stolen), and stolen: time its CPUs were given to other virtual machines on the host."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq) / rig.CLOCK_TICKS, steal / rig.CLOCK_TICKS


def wait_quiet(*, share: float, within: float) -> float:
    """Wait until other processes and VMs take less than `share` (0..1) of the machine's
    CPUs over 2 s (a test suite, a busy host), or `within` seconds; the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        before = sum(machine_times())
        time.sleep(2.0)
        if (sum(machine_times()) - before) / (2.0 * (os.cpu_count() or 1)) < share:
            break
    return time.monotonic() - started


def _calls_ok(log: Path) -> int:
    """The server's `http` log lines of calls answered 200 so far."""
    return len(_call_times(log))


def _call_times(log: Path) -> list[float]:
    """How long each call answered 200 took, by the server's `http` log lines, in order."""
    return [float(ms) for ms in _CALL_TIME.findall(log.read_text(errors="replace"))]


def median_of(runs: list[Figures]) -> Figures:
    summary = Figures()
    for name in asdict(summary):
        if name == "attempts":
            summary.attempts = sum(run.attempts for run in runs)
            continue
        if name == "notes":
            summary.notes = [note for run in runs for note in run.notes]
            continue
        values = [getattr(run, name) for run in runs]
        setattr(summary, name, sum(values) if name == "lost" else rig.median(values))
    return summary


ROWS = (
    ("Fast messages sent (a run)", "fast_sent"),
    ("Fast: replies per second", "fast_per_s"),
    ("Fast: latency p50 (ms)", "fast_p50_ms"),
    ("Fast: latency p99 (ms)", "fast_p99_ms"),
    ("Slow-flow messages sent (a run)", "slow_sent"),
    ("Slow flow: latency p50 (ms)", "slow_p50_ms"),
    ("Slow flow: latency p99 (ms)", "slow_p99_ms"),
    ("Calls the API received (a run)", "api_calls"),
    ("Calls answered 200 (server log, a run)", "calls_ok"),
    ("Slowest call (server log, ms)", "slowest_call_ms"),
    ("Server CPU per message (ms)", "cpu_ms"),
    ("Graph API calls per message", "graph_calls"),
    ("Graph HTTP requests per message", "graph_requests"),
    ("CPUs taken by other processes (%)", "other_cpu_pct"),
    ("CPUs taken by other VMs of the host: steal (%)", "steal_pct"),
    ("Replies lost (all reps)", "lost"),
    ("Runs made, all reps (one is made again when others took the CPUs)", "attempts"),
)


def table(summary: dict[str, Figures]) -> str:
    """The figures by variant, and the slow run's against each of the others."""
    titles = list(summary)
    slow = titles[-1]
    others = titles[:-1]
    head = [*titles, *(f"slow / {title}" for title in others)]
    lines = ["| Figure | " + " | ".join(head) + " |", "|---|" + "---:|" * len(head)]
    for title, name in ROWS:
        values = [getattr(summary[label], name) for label in titles]
        ratios = [
            getattr(summary[slow], name) / getattr(summary[other], name)
            if name.startswith("fast_") and name != "fast_sent"
            else float("nan")
            for other in others
        ]
        cells = [_number(value) for value in values] + [_number(r, ratio=True) for r in ratios]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_repetition(results: dict[str, list[Figures]]) -> str:
    """The slow run's fast replies/s and p99 against each other run, repetition by repetition
    (the target: within 10 %)."""
    titles = list(results)
    slow, others = titles[-1], titles[:-1]
    head = [f"{what} / {other}" for other in others for what in ("replies/s", "p99")]
    head.append("CPUs taken, processes + steal % (" + ", ".join(titles) + ")")
    lines = ["| Repetition | " + " | ".join(head) + " |", "|---|" + "---:|" * len(head)]
    for rep, run in enumerate(results[slow], start=1):
        cells = []
        for other in others:
            base = results[other][rep - 1]
            cells.append(_number(run.fast_per_s / base.fast_per_s, ratio=True))
            cells.append(_number(run.fast_p99_ms / base.fast_p99_ms, ratio=True))
        cells.append(" / ".join(_taken(results[title][rep - 1]) for title in titles))
        lines.append(f"| {rep} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _taken(run: Figures) -> str:
    return f"{run.other_cpu_pct:.0f}+{run.steal_pct:.0f}"


def _number(value: float, *, ratio: bool = False) -> str:
    if value != value:  # NaN
        return "" if ratio else "n/a"
    if ratio:
        return f"{value:.2f}"
    if float(value).is_integer() or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def quiet_run(variant: Variant, args: argparse.Namespace) -> Figures:
    """One run on a machine as quiet as can be had: after a wait for quiet, and again (up to
    `--tries` times) while other processes took more than `--max-others` % of the CPUs."""
    for attempt in range(1, args.tries + 1):
        waited = wait_quiet(share=args.quiet / 100, within=args.wait) if args.quiet else 0.0
        if waited > 2.5:
            print(f"waited {waited:.0f} s for a quiet machine", file=sys.stderr, flush=True)
        figures = run_once(variant, args)
        if figures.other_cpu_pct + figures.steal_pct <= args.max_others or attempt == args.tries:
            break
        print(
            f"{variant.title}: other processes took {figures.other_cpu_pct:.0f} % of the CPUs,"
            f" other VMs {figures.steal_pct:.0f} %; run again",
            file=sys.stderr,
            flush=True,
        )
    figures.attempts = attempt
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each run")
    parser.add_argument("--rate", type=float, default=100.0, help="messages a second in all")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the load runs")
    parser.add_argument("--delay", type=float, default=1.0, help="the slow API's seconds")
    parser.add_argument(
        "--quiet",
        type=float,
        default=10.0,
        help="before each run, wait until the CPUs are busy less than this %% (0: do not)",
    )
    parser.add_argument("--wait", type=float, default=300.0, help="... for at most these seconds")
    parser.add_argument(
        "--max-others",
        type=float,
        default=15.0,
        help="run again when other processes and VMs took more than this %% of the CPUs",
    )
    parser.add_argument("--tries", type=int, default=3, help="... at most this many runs in all")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure here")
    args = parser.parse_args()
    started = time.monotonic()
    print(f"machine: {machine()}", file=sys.stderr, flush=True)
    runs = variants(args.delay)
    results: dict[str, list[Figures]] = {variant.title: [] for variant in runs}
    for rep in range(1, args.reps + 1):
        for variant in runs:
            figures = quiet_run(variant, args)
            results[variant.title].append(figures)
            print(
                f"[rep {rep}/{args.reps}] {variant.title:<13} fast {figures.fast_sent} sent,"
                f" {figures.fast_per_s:.1f}/s, p50 {figures.fast_p50_ms:.1f} ms,"
                f" p99 {figures.fast_p99_ms:.1f} ms; slow {figures.slow_sent} sent,"
                f" p50 {figures.slow_p50_ms:.0f} ms, p99 {figures.slow_p99_ms:.0f} ms,"
                f" API calls {figures.api_calls}, 200s {figures.calls_ok};"
                f" {figures.cpu_ms:.2f} ms CPU/msg; CPUs taken {_taken(figures)} %;"
                f" lost {figures.lost}"
                + (f"; {'; '.join(figures.notes)}" if figures.notes else ""),
                file=sys.stderr,
                flush=True,
            )
    summary = {title: median_of(runs) for title, runs in results.items()}
    print(f"\nMachine: {machine()}\n")
    print(table(summary))
    print("\nFast messages, the slow API's run against the others, each repetition:\n")
    print(per_repetition(results))
    print(
        f"\n{args.reps} repetitions, medians; {args.rate:g} messages/s "
        f"({SLOW_SHARE:.0%} to the slow flow) for {args.seconds:g} s a run;"
        f" {time.monotonic() - started:.0f} s in all."
    )
    if args.json is not None:
        data = {title: [asdict(run) for run in runs] for title, runs in results.items()}
        args.json.write_text(json.dumps(data, indent=2))


if __name__ == "__main__":
    main()
