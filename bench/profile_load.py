"""Where the project's time goes under the load benchmark's burst, from py-spy samples.

    pip install py-spy
    python bench/profile_load.py [--messages 3000] [--memory] [--no-actions] [--flows N]
                                 [--raw FILE]

Runs the project (1 worker, pinned to CPU 0) as bench/load_bench.py does, and samples it
with `py-spy record --threads` from the first webhook of the burst until the last reply of
its backlog. Each thread's CPU time is read from /proc over the same window: py-spy counts
a thread blocked in native code (the file watcher's) as busy, so only threads that really
used CPU are shown, each with its functions by own (self) and inclusive (total) samples.
`--raw FILE` keeps the collapsed stacks (flamegraph.pl or speedscope draw them).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import rig
from bench.load_bench import flow_messages
from bench.runs import Load, Observer, run_once
from bench.systems import Project, System

Stacks = Counter[tuple[str, ...]]


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of `pid`, by thread id."""
    times = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            times[int(task.name)] = rig.cpu_seconds_of(task / "stat")
    return times


def sampled(raw: Path, cpu: dict[int, float], *, rate: int) -> Observer:
    """An observer for run_once: py-spy records the pid into `raw` while it is entered,
    and `cpu` receives each thread's CPU seconds over that time."""

    @contextlib.contextmanager
    def observe(pid: int) -> Iterator[None]:
        command = ["py-spy", "record", "--pid", str(pid), "--rate", str(rate), "--threads"]
        command += ["--format", "raw", "--output", str(raw)]
        process = subprocess.Popen(
            ["taskset", "-c", "1", *command], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        before = thread_cpu(pid)
        try:
            yield
        finally:
            after = thread_cpu(pid)
            cpu.update({tid: after[tid] - before.get(tid, 0.0) for tid in after})
            process.send_signal(signal.SIGINT)  # py-spy writes its output and exits
            _, error = process.communicate(timeout=60)
            if not raw.exists():
                print(error.decode(errors="replace"), file=sys.stderr)

    return observe


def read_stacks(raw: Path) -> Stacks:
    """py-spy's raw format: `thread (tid): name;frame;... count`, root first."""
    stacks: Stacks = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def short(frame: str) -> str:
    """`function (path/to/module.py:123)` -> `function (module.py)`: lines merged."""
    name, _, where = frame.partition(" (")
    file = where.rsplit(":", 1)[0].rstrip(")")
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{name} ({file})" if file else name


def by_thread(stacks: Stacks) -> dict[tuple[int, str], Stacks]:
    """Stacks grouped by (thread id, thread name), the root frames down to the thread's
    dropped (a `process ...` frame comes first with --subprocesses)."""
    threads: dict[tuple[int, str], Stacks] = {}
    for stack, count in stacks.items():
        at = next((i for i, frame in enumerate(stack) if frame.startswith("thread (")), None)
        if at is None or at + 1 >= len(stack):
            continue
        tid_text, _, name = stack[at][len("thread (") :].partition("): ")
        threads.setdefault((int(tid_text), name), Counter())[stack[at + 1 :]] += count
    return threads


def top_functions(stacks: Stacks, top: int) -> str:
    """Two Markdown tables: functions by self samples and by inclusive samples."""
    total = sum(stacks.values())
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for stack, count in stacks.items():
        frames = [short(frame) for frame in stack]
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = ["| self % | function |", "|---:|---|"]
    lines += [f"| {n / total:.1%} | {f} |" for f, n in own.most_common(top)]
    lines += ["", "| total % | function |", "|---:|---|"]
    lines += [f"| {n / total:.1%} | {f} |" for f, n in inclusive.most_common(top)]
    return "\n".join(lines)


def report(stacks: Stacks, cpu: dict[int, float], *, top: int) -> str:
    threads = by_thread(stacks)
    busy = sum(cpu.values())
    lines = ["| thread | CPU s | share of CPU | samples |", "|---|---:|---:|---:|"]
    for (tid, name), counts in sorted(threads.items(), key=lambda item: -cpu.get(item[0][0], 0)):
        used = cpu.get(tid, 0.0)
        lines.append(f"| {name} | {used:.2f} | {used / busy:.0%} | {sum(counts.values())} |")
    for (tid, name), counts in threads.items():
        if cpu.get(tid, 0.0) >= 0.05 * busy:
            lines += ["", f"## {name}", "", top_functions(counts, top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rate", type=int, default=200, help="samples a second")
    parser.add_argument("--top", type=int, default=25, help="functions listed per table")
    parser.add_argument("--memory", action="store_true", help="state.backend memory")
    parser.add_argument("--no-actions", action="store_true", help="senderActions: false")
    parser.add_argument("--raw", type=Path, default=None, help="keep the raw stacks here")
    parser.add_argument(
        "--flows", type=int, default=0, help="add N generated flows and address them all"
    )
    args = parser.parse_args()
    if shutil.which("py-spy") is None:
        parser.error("py-spy is not installed: pip install py-spy")
    project = Project(
        state="memory" if args.memory else "sqlite",
        sender_actions=not args.no_actions,
        flows=args.flows,
    )
    load = Load(messages=args.messages, paced_rate=0)
    if args.flows:
        load = Load(messages=args.messages, paced_rate=0, message=flow_messages(args.flows))
    cpu: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        raw = args.raw or Path(folder) / "stacks.txt"
        figures = run_once(
            System(kind="project", project=project),
            load,
            observe=sampled(raw, cpu, rate=args.rate),
        )
        print(
            f"burst of {args.messages} under py-spy: accept {figures.accept_rps:,.0f}/s, "
            f"answered {figures.answered_per_s:,.0f}/s, "
            f"{figures.cpu_ms_per_message:.2f} ms CPU a message\n"
        )
        print(report(read_stacks(raw), cpu, top=args.top))


if __name__ == "__main__":
    main()
