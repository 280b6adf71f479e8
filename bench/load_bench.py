"""The project against a bare Sanic reference, side by side, under the same load: one command.

    python bench/load_bench.py [--reps 3] [--quick] [--bottender DIR] [--json FILE]

Runs, all on loopback against bench/fake_graph.py, with pre-signed bodies replayed by wrk
(bench/replay.lua): the project and the reference with 1 and 2 workers, the project with
`state.backend: memory` (durability off) and with sender actions off, Bottender if DIR
holds `npm install bottender --ignore-scripts`; each `--reps` times, interleaved, medians
reported. Then the scaling runs (as many repetitions, interleaved, medians): 10 / 1,000 /
10,000 flows, 100 / 100,000 users in the store, a 5,000-character reply. Prints Markdown
tables; see bench/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import rig
from bench.bodies import quick_reply, saying, text, user_psids
from bench.runs import Figures, Load, run_once
from bench.systems import Project, System

FIGURES = (  # (attribute, row title, higher is better)
    ("accept_rps", "Webhook accept throughput (req/s)", True),
    ("accept_p50_ms", "Accept latency p50 (ms)", False),
    ("accept_p99_ms", "Accept latency p99 (ms)", False),
    ("e2e_p50_ms", "End-to-end latency p50 (ms)", False),
    ("e2e_p99_ms", "End-to-end latency p99 (ms)", False),
    ("answered_per_s", "Messages answered per second", True),
    ("graph_calls_per_s", "Graph calls per second", True),
    ("graph_requests_per_s", "Graph HTTP requests per second", False),  # for the same calls
    ("graph_calls_per_request", "Graph calls per HTTP request", True),
    ("lost", "Replies lost (all reps)", False),
    ("peak_rss_mib", "Peak RSS (MiB, server and children)", False),
    ("cpu_ms_per_message", "Server CPU per message (ms)", False),
)


# -- running -------------------------------------------------------------------------------
def run_reps(
    cases: Sequence[tuple[System, Load]], reps: int, log: Callable[[str], None]
) -> dict[str, list[Figures]]:
    """Each case `reps` times, interleaved (rep 1 of all, then rep 2...), by label."""
    results: dict[str, list[Figures]] = {system.label: [] for system, _ in cases}
    for rep in range(1, reps + 1):
        for system, load in cases:
            started = time.monotonic()
            figures = run_once(system, load)
            results[system.label].append(figures)
            log(
                f"[rep {rep}/{reps}] {system.label:<26} accept {figures.accept_rps:7.0f}/s  "
                f"answered {figures.answered_per_s:6.1f}/s  e2e p99 {figures.e2e_p99_ms:7.1f} ms"
                f"  lost {figures.lost}  ({time.monotonic() - started:.0f}s)"
                + (f"  notes: {'; '.join(figures.notes)}" if figures.notes else "")
            )
    return results


def summarize(runs: list[Figures]) -> Figures:
    """The median of each figure over the reps; lost is summed, notes are kept."""
    summary = Figures(lost=sum(run.lost for run in runs))
    for name, _, _ in FIGURES:
        if name != "lost":
            setattr(summary, name, rig.median([getattr(run, name) for run in runs]))
    summary.notes = sorted({note for run in runs for note in run.notes})
    return summary


def flow_messages(flows: int) -> Callable[[str, int], dict[str, object]]:
    """Half keyword texts, half quick-reply payloads, spread over all `flows` flows."""

    def message(mid: str, number: int) -> dict[str, object]:
        target = (number * 7919) % flows
        if number % 2:
            return quick_reply(mid, "Next", f"PAYLOAD_{target}")
        return text(mid, f"word{target}")

    return message


def main_cases(args: argparse.Namespace) -> list[tuple[System, Load]]:
    def load(workers: int, per: int = 1) -> Load:
        return Load(
            messages=args.messages * workers,
            paced_rate=args.paced_rate * workers,
            paced_seconds=args.steady_seconds,
            replies_per_message=per,
        )

    cases = [
        (System(kind="project", workers=1), load(1)),
        (System(kind="reference", workers=1), load(1)),
        (System(kind="project", workers=2), load(2)),
        (System(kind="reference", workers=2), load(2)),
        (System(kind="project", workers=1, project=Project(state="memory")), load(1)),
        (System(kind="project", workers=1, project=Project(sender_actions=False)), load(1)),
    ]
    if args.bottender is not None:
        cases.append((System(kind="bottender", bottender_dir=args.bottender), load(1)))
    if args.only is not None:
        cases = [case for case in cases if case[0].label in args.only]
    # each project case again on the code of each baseline commit, right after it
    return [
        twin
        for system, load in cases
        for twin in [
            (system, load),
            *(
                (dataclasses.replace(system, source=source, source_label=commit[:12]), load)
                for commit, source in args.baseline_sources.items()
                if system.kind == "project"
            ),
        ]
    ]


def extract_commit(commit: str, folder: Path) -> Path:
    """The project's files at `commit` (`git archive`), in `folder`; its root."""
    root = Path(__file__).resolve().parents[1]
    folder.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", commit], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def scaling_cases(args: argparse.Namespace) -> list[tuple[str, System, Load]]:
    size = args.scaling_messages
    cases = [
        (
            f"{flows:,} flows",
            System(kind="project", project=Project(flows=flows)),
            Load(messages=size, message=flow_messages(flows), paced_rate=0),
        )
        for flows in (10, 1_000, 10_000)
    ]
    # the same 100 people talk in both; the store holds 100 or 100,000 users
    cases += [
        (
            f"{users:,} users in the store",
            System(kind="project"),
            Load(messages=size, psids=tuple(user_psids(100)), prefill_users=users, paced_rate=0),
        )
        for users in (100, 100_000)
    ]
    # 100 PSIDs that crc32 spreads unevenly (2 to 10 a shard) over the 16 sender shards;
    # see bench/README.md
    cases.append(
        (
            "100 users, uneven shards",
            System(kind="project"),
            Load(messages=size, psids=tuple(user_psids(100, spread_over=100_000)), paced_rate=0),
        )
    )
    cases.append(
        (
            "5,000-char reply",
            System(kind="project", project=Project(long_reply=True)),
            Load(messages=size, message=saying("long"), replies_per_message=3, paced_rate=0),
        )
    )
    return cases


# -- printing ------------------------------------------------------------------------------
def number(value: float, *, ratio: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if ratio:
        return f"{value:.2f}"
    if isinstance(value, int) or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(a) and not math.isnan(b) else float("nan")


def comparison_table(
    columns: Sequence[tuple[str, Figures, Figures]], names: tuple[str, str]
) -> str:
    """Rows: figures; for each column group: first, second, first/second."""
    head = "| Figure |"
    rule = "|---|"
    for title, _, _ in columns:
        head += f" {title}: {names[0]} | {names[1]} | ratio |"
        rule += "---:|---:|---:|"
    lines = [head, rule]
    for name, title, _ in FIGURES:
        row = f"| {title} |"
        for _, first, second in columns:
            a, b = getattr(first, name), getattr(second, name)
            shown = "—" if name == "lost" else number(ratio(a, b), ratio=True)
            row += f" {number(a)} | {number(b)} | {shown} |"
        lines.append(row)
    return "\n".join(lines)


def extras_table(columns: Sequence[tuple[str, Figures]]) -> str:
    lines = ["| Figure |" + "".join(f" {title} |" for title, _ in columns)]
    lines.append("|---|" + "---:|" * len(columns))
    for name, title, _ in FIGURES:
        lines.append(f"| {title} |" + "".join(f" {number(getattr(f, name))} |" for _, f in columns))
    return "\n".join(lines)


def scaling_table(rows: Sequence[tuple[str, Figures, int]]) -> str:
    lines = [
        "| Case | Messages answered/s | Server CPU per message (ms) | Graph calls / message"
        " | Graph HTTP requests / message | Graph calls / HTTP request | Lost |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, figures, _ in rows:
        per_message = ratio(figures.graph_calls_per_s, figures.answered_per_s)
        requests_per_message = ratio(figures.graph_requests_per_s, figures.answered_per_s)
        lines.append(
            f"| {label} | {number(figures.answered_per_s)} | "
            f"{number(figures.cpu_ms_per_message)} | {number(per_message)} | "
            f"{number(requests_per_message)} | {number(figures.graph_calls_per_request)} | "
            f"{figures.lost} |"
        )
    return "\n".join(lines)


def verdicts(
    results: dict[str, list[Figures]], summary: dict[str, Figures], scaling: dict[str, Figures]
) -> list[str]:
    """The issue's targets, each met or missed and by how much."""
    out = []

    def line(ok: bool, text: str) -> None:
        out.append(f"- {'MET' if ok else 'MISSED'}: {text}")

    for workers in (1, 2):
        if f"project {workers}w" not in summary or f"reference {workers}w" not in summary:
            continue
        project, reference = summary[f"project {workers}w"], summary[f"reference {workers}w"]
        share = ratio(project.answered_per_s, reference.answered_per_s)
        line(
            share >= 0.8,
            f"{workers} worker(s): project answers {share:.0%} of the reference's messages/s"
            " (target >= 80%)",
        )
        # each repetition against the reference's of the same repetition: every one counts
        each = [
            ratio(mine.e2e_p99_ms, theirs.e2e_p99_ms)
            for mine, theirs in zip(
                results[f"project {workers}w"], results[f"reference {workers}w"], strict=True
            )
        ]
        shown = ", ".join(f"{times:.2f}x" for times in each)
        line(
            all(times <= 2 for times in each),
            f"{workers} worker(s): e2e p99 against the reference's, each repetition: {shown}"
            " (<= 2x in every one)",
        )
        for label, runs in results.items():
            if label.startswith(f"project {workers}w @"):
                old = [
                    ratio(mine.e2e_p99_ms, theirs.e2e_p99_ms)
                    for mine, theirs in zip(runs, results[f"reference {workers}w"], strict=True)
                ]
                out.append(
                    f"- (for comparison) {label}: e2e p99 against the reference's, each "
                    f"repetition: {', '.join(f'{times:.2f}x' for times in old)}"
                )
    lost = sum(f.lost for f in summary.values()) + sum(f.lost for f in scaling.values())
    line(lost == 0, f"replies lost over every run: {lost} (target 0)")
    for small, large in (
        ("10 flows", "10,000 flows"),
        ("100 users in the store", "100,000 users in the store"),
    ):
        if small in scaling and large in scaling:
            grow = ratio(scaling[large].cpu_ms_per_message, scaling[small].cpu_ms_per_message)
            line(
                abs(grow - 1) <= 0.10,
                f"CPU per message, {large} vs {small}: {grow - 1:+.0%} (within 10%)",
            )
    if {"bottender 1w", "project 2w", "project 1w no-actions"} <= summary.keys():
        bottender = summary["bottender 1w"].answered_per_s
        two = summary["project 2w"].answered_per_s
        line(
            two >= bottender, f"project 2 workers {two:,.0f}/s, Bottender 1 core {bottender:,.0f}/s"
        )
        bare = summary["project 1w no-actions"].answered_per_s
        line(
            bare >= bottender,
            f"project 1 worker, sender actions off, {bare:,.0f}/s vs Bottender {bottender:,.0f}/s",
        )
    return out


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = Path("/proc/meminfo").read_text().split()[1]
    return (
        f"{os.cpu_count()} CPUs ({model}), {int(memory) / 2**20:.0f} GiB, "
        f"Linux {os.uname().release}, CPython {sys.version.split()[0]}"
    )


# -- command line --------------------------------------------------------------------------
def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each run")
    parser.add_argument("--messages", type=int, default=3000, help="burst size per worker")
    parser.add_argument("--paced-rate", type=float, default=100, help="steady msg/s per worker")
    parser.add_argument("--steady-seconds", type=float, default=6, help="steady phase length")
    parser.add_argument("--scaling-messages", type=int, default=2000, help="per scaling run")
    parser.add_argument("--quick", action="store_true", help="1 rep, smaller bursts")
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument("--skip-main", action="store_true")
    parser.add_argument(
        "--bottender",
        type=Path,
        default=os.environ.get("BOTTENDER_DIR"),
        help="a folder where `npm install bottender --ignore-scripts` was run",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every figure here")
    parser.add_argument(
        "--baseline",
        nargs="+",
        default=[],
        metavar="COMMIT",
        help="also run each project case on the code of each COMMIT, in the same run",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="LABEL",
        help='main runs of these systems only, e.g. --only "project 2w" "reference 2w"',
    )
    args = parser.parse_args()
    if args.quick:
        args.reps, args.messages, args.scaling_messages = 1, 1500, 1000
        args.steady_seconds = 4
    if args.bottender is not None and not (args.bottender / "node_modules/bottender").is_dir():
        parser.error(f"{args.bottender} has no node_modules/bottender")
    return args


def main() -> None:
    args = parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="load-bench-baseline-") as folder:
        args.baseline_sources = {
            commit: extract_commit(commit, Path(folder) / commit) for commit in args.baseline
        }
        run(args, started)


def run(args: argparse.Namespace, started: float) -> None:

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log(f"machine: {machine()}")
    results: dict[str, list[Figures]] = {}
    if not args.skip_main:
        results = run_reps(main_cases(args), args.reps, log)
    summary = {label: summarize(runs) for label, runs in results.items()}
    scaling: dict[str, Figures] = {}
    scaling_rows = []
    if not args.skip_scaling:
        # one run each was within the machine's noise of the 10 % target: interleave reps
        cases = scaling_cases(args)
        runs: dict[str, list[Figures]] = {label: [] for label, _, _ in cases}
        for rep in range(1, args.reps + 1):
            for label, system, load in cases:
                figures = run_once(system, load)
                runs[label].append(figures)
                log(
                    f"[scaling {rep}/{args.reps}] {label:<26} answered "
                    f"{figures.answered_per_s:6.1f}/s  cpu {figures.cpu_ms_per_message:.2f} "
                    f"ms/msg  lost {figures.lost}"
                )
        for label, _, load in cases:
            scaling[label] = summarize(runs[label])
            scaling_rows.append((label, scaling[label], load.replies_per_message))

    print(f"\nMachine: {machine()}\n")
    if summary:
        print(f"Medians of {args.reps} repetition(s).\n")
        groups = [
            (f"{workers} worker{'s' if workers > 1 else ''}", summary[mine], summary[theirs])
            for workers in (1, 2)
            if (mine := f"project {workers}w") in summary
            and (theirs := f"reference {workers}w") in summary
        ]
        if groups:
            print(comparison_table(groups, ("project", "reference")) + "\n")
        for commit in args.baseline:
            olds = [
                (label, summary[label], summary[f"{label} @{commit[:12]}"])
                for label in summary
                if f"{label} @{commit[:12]}" in summary
            ]
            if olds:
                print(comparison_table(olds, ("project", f"@{commit[:12]}")) + "\n")
        extras = [
            (title, summary[label])
            for title, label in (
                ("project 1w SQLite", "project 1w"),
                ("project 1w memory", "project 1w memory"),
                ("project 1w no sender actions", "project 1w no-actions"),
                ("Bottender 1 core", "bottender 1w"),
            )
            if label in summary
        ]
        if extras:
            print(extras_table(extras) + "\n")
        if {"project 1w", "project 1w memory"} <= summary.keys():
            durable = ratio(
                summary["project 1w"].answered_per_s, summary["project 1w memory"].answered_per_s
            )
            print(f"Durability (SQLite vs memory, 1 worker): {durable:.2f}x the messages/s.\n")
    if scaling_rows:
        print(scaling_table(scaling_rows) + "\n")
    if summary or scaling:
        print("\n".join(verdicts(results, summary, scaling)))
    every = {**summary, **scaling}
    notes = sorted({f"{label}: {note}" for label, f in every.items() for note in f.notes})
    if notes:
        print("\nNotes:\n" + "\n".join(f"- {note}" for note in notes))
    print(f"\n({time.monotonic() - started:.0f}s in all)")
    if args.json is not None:
        data = {
            "machine": machine(),
            "runs": {k: [dataclasses.asdict(f) for f in v] for k, v in results.items()},
            "scaling": {k: dataclasses.asdict(f) for k, f in scaling.items()},
        }
        args.json.write_text(json.dumps(data, indent=2))


if __name__ == "__main__":
    main()
