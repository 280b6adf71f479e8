"""What Prometheus metrics cost: the project with `server.metrics` on and off, paired.

    python bench/metrics_bench.py [--rounds 5] [--workers 1 2] [--scrape-every 15]

Each round runs the load rig's burst (bench/runs.py: the quickstart's bot, SQLite, sender
actions on, the fake Graph API, wrk replaying signed bodies) once with metrics on and once
off, the order alternating from round to round, so a machine that grows busier or quieter
weighs on both alike. With metrics on, /metrics is scraped every `--scrape-every` seconds
during the burst and its drain, as Prometheus would (15 s is a common interval, the default
here; `--scrape-every 1` is a harsher case). Prints, for each worker count, the medians of
messages answered per second and server CPU per message, on and off, their ratio, and the
spread of the ratio from round to round; see bench/README.md, "Metrics".
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import rig
from bench.load_bench import machine, number, ratio
from bench.runs import Figures, Load, run_once
from bench.systems import Project, System


@contextlib.contextmanager
def scraping(pid: int, every: float) -> Iterator[list[int]]:
    """GET /metrics of the server `pid` every `every` seconds; yields the scrapes' sizes."""
    port = _port_of(pid)
    sizes: list[int] = []
    stop = threading.Event()

    def scrape() -> None:
        while not stop.wait(every):
            conn = http.client.HTTPConnection(rig.HOST, port, timeout=10)
            try:
                conn.request("GET", "/metrics")
                answer = conn.getresponse()
                body = answer.read()
                if answer.status == 200:
                    sizes.append(len(body))
            except (OSError, http.client.HTTPException):
                pass
            finally:
                conn.close()

    thread = threading.Thread(target=scrape, name="scraper", daemon=True)
    thread.start()
    try:
        yield sizes
    finally:
        stop.set()
        thread.join(timeout=15)


def _port_of(pid: int) -> int:
    """The `--port` of the `runtime serve` command running as `pid`."""
    words = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    return int(words[words.index("--port") + 1])


def run_pair(
    workers: int, load: Load, *, metrics_first: bool, every: float
) -> tuple[Figures, Figures, int]:
    """One round: (on, off) figures, run in the order asked; and how many scrapes were made."""
    scrapes: list[int] = []

    def observe(pid: int) -> contextlib.AbstractContextManager[None]:
        @contextlib.contextmanager
        def scraped() -> Iterator[None]:
            with scraping(pid, every) as sizes:
                yield
            scrapes.extend(sizes)

        return scraped()

    on = System(kind="project", workers=workers, project=Project(metrics=True))
    off = System(kind="project", workers=workers, project=Project(metrics=False))
    results: dict[bool, Figures] = {}
    for metrics in (True, False) if metrics_first else (False, True):
        system = on if metrics else off
        results[metrics] = run_once(system, load, observe=observe if metrics else None)
    return results[True], results[False], len(scrapes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=5, help="pairs of runs per worker count")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--messages", type=int, default=3000, help="burst size per worker")
    parser.add_argument("--scrape-every", type=float, default=15.0, help="seconds")
    args = parser.parse_args()

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.monotonic()
    log(f"machine: {machine()}")
    rows = []
    for workers in args.workers:
        load = Load(messages=args.messages * workers, paced_rate=0)
        ons: list[Figures] = []
        offs: list[Figures] = []
        for round_number in range(args.rounds):
            on, off, scrapes = run_pair(
                workers, load, metrics_first=round_number % 2 == 0, every=args.scrape_every
            )
            ons.append(on)
            offs.append(off)
            notes = "; ".join(on.notes + off.notes)
            log(
                f"[{workers}w round {round_number + 1}/{args.rounds}] answered/s on "
                f"{on.answered_per_s:6.1f} off {off.answered_per_s:6.1f} "
                f"({ratio(on.answered_per_s, off.answered_per_s):.3f}); CPU ms/msg on "
                f"{on.cpu_ms_per_message:.3f} off {off.cpu_ms_per_message:.3f}; "
                f"{scrapes} scrapes; lost {on.lost + off.lost}" + (f"; {notes}" if notes else "")
            )
        rows.append((workers, ons, offs))

    print(f"\nMachine: {machine()}\n")
    print(
        f"Medians of {args.rounds} rounds, on and off alternating first; /metrics scraped every "
        f"{args.scrape_every:g} s while on.\n"
    )
    print(
        "| Workers | Answered/s on | off | on/off (rounds: min-max) "
        "| CPU ms/msg on | off | on/off (rounds: min-max) | Lost |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for workers, ons, offs in rows:
        cells = [str(workers)]
        for name in ("answered_per_s", "cpu_ms_per_message"):
            on = rig.median([getattr(f, name) for f in ons])
            off = rig.median([getattr(f, name) for f in offs])
            pairs = zip(ons, offs, strict=True)
            each = [ratio(getattr(a, name), getattr(b, name)) for a, b in pairs]
            spread = f"{min(each):.3f}-{max(each):.3f}"
            cells += [number(on), number(off), f"{ratio(on, off):.3f} ({spread})"]
        cells.append(str(sum(f.lost for f in ons + offs)))
        print("| " + " | ".join(cells) + " |")
    for workers, ons, offs in rows:
        paired = [ratio(a.answered_per_s, b.answered_per_s) for a, b in zip(ons, offs, strict=True)]
        print(
            f"\n{workers} worker(s): median of the rounds' own on/off ratios of answered/s "
            f"{statistics.median(paired):.3f}"
        )
    print(f"\n({time.monotonic() - started:.0f}s in all)")


if __name__ == "__main__":
    main()
