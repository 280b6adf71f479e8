"""Timers under load: pending timers cost a message nothing; timers due at once all go out.

    python bench/timers_bench.py [--reps 3] [--only pending|due] [--json FILE]
    python bench/timers_bench.py --only due --redis      # Redis beside SQLite

Two benchmarks, each paired in one run on one machine: `--reps` repetitions interleaved (the
order of the pair alternates), medians reported. `runtime serve` on the quickstart's flows
(the greeting without the name: no User Profile call) plus two flows of a text, a `delay`
and a text: `bench_remind` ("remind", 20 hours) and `bench_later` ("later", `--delay`).

- **pending**: 1 worker on CPU 0, SQLite; the load, the fake Graph API on CPU 1. The store
  holds `--pending` other people's sessions (a "remind" turn each, run by the engine at
  times spread over the last 12 hours), written through the store's API before the server
  starts: in one run each still holds its timer (due 8 to 20 hours ahead, counted with
  `count_timers`), in the other none does (the same sessions without it). Figures: the
  store's own calls, in this process (a poll with nothing due; a timer set, then
  cancelled), the idle server's CPU a second (its worker looks for due timers every
  second), a burst of `--messages` from 1,000 people replayed by wrk (answered per second,
  server CPU a message), then `--rate` messages a second for `--seconds` (server CPU a
  message; the end-to-end p50/p99 of 20 probes a second from new people). A fifth of the
  load says "remind" (a timer set, or set again), the rest "hi" (whose flow cancels the
  person's reminder): the load itself writes the timers' table.
- **due**: `--people` people, each with a session holding the `delay` of a "later" turn
  whose rest falls due at one instant, written through the store's API once the server is
  up and warmed (as another host or a CLI would: the workers learn of them at their next
  poll), due `--lead` seconds later. Figures: from that instant to each person's message at
  the fake Graph API (the last: "all sent within"; median, p99), the server's own lateness
  of firing (its `timer ... late_ms=` log lines), its CPU a timer; with 1 and 2 workers
  (2: nothing pinned), and on Redis too with `--redis`.

Before each run the benchmark waits (up to `--wait` s) for the CPUs to be quiet, makes the
run again (up to `--tries` runs) when other processes and other VMs (steal) took more than
`--max-others` % of them meanwhile, and reports both shares. Prints Markdown; see
bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import rig
from bench.bodies import probe_psid, text, user_psids, write_bodies
from bench.load_bench import machine
from bench.redis_bench import start_redis
from bench.runs import BURST_CONNECTIONS, PACED_CONNECTIONS, WARMUP_PROBES, placement
from bench.slow_api_bench import machine_times, wait_quiet
from bench.systems import SECRET, Launch, Project, System, launch
from runtime.bot import Bot
from runtime.build import build_bot
from runtime.dialog.engine import run_turn
from runtime.envelope import Envelope, EventKind
from runtime.session import Session, session_key
from runtime.store.base import NewTimer, Store, TimerChanges, TimerRef
from runtime.store.redis_store import RedisStore
from runtime.store.sqlite import SQLiteStore
from runtime.timer_changes import timer_changes

PSIDS = tuple(user_psids(1000))  # the load's people
OTHERS_BASE = 3_000_000_000_000_000  # the pending timers' people: apart from the load's
DUE_FIRST = 1_000_000  # probe numbers of the due benchmark's people (the fake times them)
SEEDED_OVER = 12 * 3600.0  # the pending people's turns spread over the last 12 hours
BATCH = 1000  # people whose timers are written in one call
AT_ONCE = 32  # store calls on their way at once while people are written
PROBE_RATE = 20.0
WARM_DUE = 20  # warm-up messages before the timers fall due
_FIRED_LATE = re.compile(r"timer account=\S+ psid=\S+ fired=delay .* late_ms=(\d+)")


def timer_flows(later: str) -> str:
    """The two flows of a text, a delay and a text; `later` is the second's delay."""
    return (
        "{ flows: {\n"
        '  bench_remind: { triggers: [{ keywords: ["remind"] }], steps: [\n'
        '    { text: "I will remind you tonight." }, { delay: "20h" },\n'
        '    { text: "Here is your reminder." } ] },\n'
        '  bench_later: { triggers: [{ keywords: ["later"] }], steps: [\n'
        '    { text: "Your table is booked." }, { delay: "' + later + '" },\n'
        '    { text: "See you soon!" } ] },\n'
        "} }\n"
    )


def load_message(mid: str, number: int) -> dict[str, object]:
    """A fifth of the load sets a reminder; the rest says hi (and cancels it)."""
    return text(mid, "remind" if number % 5 == 0 else "hi")


# -- writing people with timers through the store's API ------------------------------------
def turn_sessions(
    bot: Bot, psids: Sequence[str], words: str, at: Callable[[int], float]
) -> list[Session]:
    """Each person's session after saying `words` at `at(number)`, as the engine leaves it."""
    account = next(iter(bot.accounts.values()))
    sessions = []
    for number, psid in enumerate(psids):
        now = at(number)
        envelope = Envelope(
            account_id=account.id,
            psid=psid,
            session_key=session_key(account.agent_id, psid),
            kind=EventKind.MESSAGE,
            timestamp=now,
            message_id=f"m_seed_{psid}",
            text=words,
        )
        session = run_turn(bot, envelope, None, now=now).session
        if not session.timers:
            raise RuntimeError(f"saying {words!r} set no timer: is the delay step compiled?")
        sessions.append(session)
    return sessions


async def keep_people(
    store: Store, sessions: Sequence[Session], *, timers: bool, inbound_at: float | None
) -> int:
    """Save `sessions` (without their timers unless `timers`), their timers, and their
    last message (`inbound_at`); the timers the store then holds (`count_timers`)."""
    slots = asyncio.Semaphore(AT_ONCE)  # a call each at once: Redis caps its connections

    async def one(session: Session) -> None:
        async with slots:
            await store.save_session(session if timers else session.without_timers(*session.timers))
            if inbound_at is not None:
                await store.record_inbound(session.account_id, session.psid, inbound_at)

    await store.open()
    try:
        for first in range(0, len(sessions), BATCH):
            batch = sessions[first : first + BATCH]
            await asyncio.gather(*(one(session) for session in batch))
            if timers:
                changes = [timer_changes(None, session) for session in batch]
                await store.change_timers(
                    TimerChanges(set=tuple(t for c in changes for t in c.set))
                )
        return await store.count_timers()
    finally:
        await store.close()


async def pending_timers(store: Store) -> int:
    await store.open()
    try:
        return await store.count_timers()
    finally:
        await store.close()


def open_store(project: Project, folder: Path) -> Store:
    """The store the server of `project` in `folder` uses (not opened)."""
    if project.state == "redis":
        return RedisStore(project.redis_url, prefix=project.redis_prefix)
    return SQLiteStore(folder / "state.db")


def write_server(
    folder: Path, project: Project, *, workers: int, port: int, graph_base: str, later: str
) -> Launch:
    """The server's files in `folder` (the quickstart's and the two timer flows); how to
    start it."""
    system = System(kind="project", workers=workers, project=project)
    how = launch(system, folder, port=port, graph_base=graph_base)
    (folder / "flows" / "bench_timers.json5").write_text(timer_flows(later))
    return how


def compiled(folder: Path) -> Bot:
    """The Bot the server in `folder` runs, compiled here."""
    return build_bot(folder / "config.json5", env={}).bot


def run_seconds(pids: Sequence[int]) -> float:
    """CPU seconds the threads of `pids` ran, to the nanosecond (the scheduler's count, in
    /proc/<pid>/task/<tid>/schedstat): an idle server's few milliseconds a second are below
    the 10 ms ticks of /proc/<pid>/stat."""
    total = 0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").glob("*"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


# -- the share of the machine others took ----------------------------------------------------
@dataclass(slots=True)
class Others:
    """What other processes, and other VMs of the host (steal), took of the CPUs from
    `start` to `stop`, in % of all of them: ours are the server's, the fake's and this
    process's (with the children it waited for: wrk)."""

    pids: Callable[[], list[int]]
    started: float = 0.0
    busy: float = 0.0
    steal: float = 0.0
    ours: float = 0.0

    def _ours(self) -> float:
        times = os.times()
        own = times.user + times.system + times.children_user + times.children_system
        return rig.cpu_seconds(self.pids()) + own

    def start(self) -> None:
        self.started = time.monotonic()
        (self.busy, self.steal), self.ours = machine_times(), self._ours()

    def stop(self) -> tuple[float, float]:
        (busy, steal), ours = machine_times(), self._ours()
        capacity = (time.monotonic() - self.started) * (os.cpu_count() or 1) / 100
        others = max(0.0, busy - self.busy - (ours - self.ours)) / capacity
        return others, (steal - self.steal) / capacity


# -- pending: 0 vs 100,000 timers beside the load --------------------------------------------
@dataclass(slots=True)
class PendingFigures:
    timers: int = 0  # pending when the server started (count_timers)
    poll_us: float = float("nan")  # the store's fire_timers with nothing due, in this process
    change_us: float = float("nan")  # a timer set, then cancelled (two change_timers)
    start_s: float = float("nan")  # from spawn to the first answer
    idle_cpu_ms_per_s: float = float("nan")
    burst_per_s: float = float("nan")
    burst_cpu_ms: float = float("nan")
    steady_cpu_ms: float = float("nan")
    steady_p50_ms: float = float("nan")
    steady_p99_ms: float = float("nan")
    timers_after: int = 0  # pending once the load is answered
    lost: int = 0
    other_cpu_pct: float = float("nan")
    steal_pct: float = float("nan")
    attempts: int = 1  # runs made to get one on a quiet enough machine (the last is kept)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PendingCase:
    title: str
    template: Path  # the state file, people and timers written, copied for each run


def pending_templates(folder: Path, count: int) -> tuple[PendingCase, PendingCase]:
    """Two state files of `count` other people: without and with their timers pending."""
    home = folder / "bot"
    home.mkdir()
    write_server(home, Project(by_name=False), workers=1, port=0, graph_base="", later="30s")
    bot = compiled(home)
    now = time.time()
    psids = [str(OTHERS_BASE + number) for number in range(count)]
    step = SEEDED_OVER / max(count, 1)
    sessions = turn_sessions(bot, psids, "remind", lambda number: now - number * step)
    cases = []
    for timers, title in ((False, "no timers pending"), (True, f"{count:,} timers pending")):
        home = folder / ("with" if timers else "without")
        home.mkdir()
        kept = asyncio.run(
            keep_people(SQLiteStore(home / "state.db"), sessions, timers=timers, inbound_at=None)
        )
        if kept != (count if timers else 0):
            raise RuntimeError(f"{title}: the store holds {kept} timers")
        cases.append(PendingCase(title, home / "state.db"))
    return cases[0], cases[1]


async def store_calls(store: Store, rounds: int = 500) -> tuple[float, float]:
    """The store's own cost, in µs (median of 5 runs of `rounds`): a poll for due timers
    when none is due (what the worker does every second), and a timer set then cancelled
    (what a turn's changes do, here outside a turn)."""
    await store.open()
    try:
        now = time.time()
        psid = str(OTHERS_BASE - 1)
        timer = NewTimer(
            account_id="default",
            psid=psid,
            slot="delay:bench:1",
            due_at=now + 3600,
            body="{}",
            session_key=f"bench:{psid}",
        )
        ref = TimerRef(account_id="default", psid=psid, slot=timer.slot)
        polls, changes = [], []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(rounds):
                await store.fire_timers(now=now, limit=64)
            polls.append((time.perf_counter() - started) / rounds * 1e6)
            started = time.perf_counter()
            for _ in range(rounds):
                await store.change_timers(TimerChanges(set=(timer,)))
                await store.change_timers(TimerChanges(cancelled=(ref,)))
            changes.append((time.perf_counter() - started) / rounds * 1e6)
        return rig.median(polls), rig.median(changes)
    finally:
        await store.close()


def run_pending(case: PendingCase, args: argparse.Namespace) -> PendingFigures:
    place = placement(1)
    with tempfile.TemporaryDirectory(prefix="timers-bench-") as name, rig.affinity(place.load):
        folder = Path(name)
        graph = rig.FakeGraph(folder, place.load)
        try:
            project = Project(by_name=False)
            port = rig.free_port()
            how = write_server(
                folder, project, workers=1, port=port, graph_base=graph.base_url, later="30s"
            )
            for part in sorted(case.template.parent.glob(case.template.name + "*")):
                shutil.copy(part, folder / part.name.replace(case.template.name, "state.db"))
            figures = PendingFigures(
                timers=asyncio.run(pending_timers(open_store(project, folder)))
            )
            calls = store_calls(open_store(project, folder))
            figures.poll_us, figures.change_us = asyncio.run(calls)
            log = folder / "server.log"
            spawned = time.monotonic()
            server = rig.spawn(how.command, cpus=place.server, log=log, env=how.env, cwd=how.cwd)
            try:
                rig.wait_listening(port, server, log, within=120)
                figures.start_s = time.monotonic() - spawned
                time.sleep(1.0)
                measure_pending(figures, args, graph, server.pid, port, folder, place.load)
            except Exception:
                print(f"--- {case.title}: server log ---\n{rig._tail(log)}", flush=True)
                raise
            finally:
                rig.stop(server)
            figures.timers_after = asyncio.run(pending_timers(open_store(project, folder)))
            return figures
        finally:
            graph.stop()


def measure_pending(
    figures: PendingFigures,
    args: argparse.Namespace,
    graph: rig.FakeGraph,
    pid: int,
    port: int,
    folder: Path,
    load_cpus: str | None,
) -> None:
    def server_cpu() -> float:
        return rig.cpu_seconds(rig.process_tree(pid))

    others = Others(lambda: [*rig.process_tree(pid), graph.process.pid])
    others.start()
    warmup = rig.Probes(port, SECRET, tag="warm")
    warmup.send_now(WARMUP_PROBES)  # connections open, code warm
    graph.wait_settled(expected=WARMUP_PROBES, within=60)
    graph.reset()

    pids = rig.process_tree(pid)
    before = run_seconds(pids)
    time.sleep(args.idle)  # the worker's poll, every second, and nothing else
    figures.idle_cpu_ms_per_s = (run_seconds(pids) - before) / args.idle * 1000

    bodies = write_bodies(
        folder / "burst.txt",
        count=args.messages,
        psids=PSIDS,
        secret=SECRET,
        tag="burst",
        message=load_message,
    )
    before = server_cpu()
    burst = rig.run_wrk(port, bodies, cpus=load_cpus, connections=BURST_CONNECTIONS, folder=folder)
    settled = graph.wait_settled(expected=burst.ok, within=240)
    cpu = server_cpu() - before
    if settled.answering_seconds > 0:
        figures.burst_per_s = settled.messages / settled.answering_seconds
    if settled.messages:
        figures.burst_cpu_ms = cpu / settled.messages * 1000
    figures.lost += max(0, burst.ok - settled.messages)
    if burst.failed or burst.sent < burst.bodies:
        figures.notes.append(f"burst: {burst.failed} not 200, {burst.bodies - burst.sent} unsent")

    graph.reset()
    bodies = write_bodies(
        folder / "paced.txt",
        count=int(args.rate * args.seconds),
        psids=PSIDS,
        secret=SECRET,
        tag="paced",
        message=load_message,
    )
    probes = rig.Probes(port, SECRET, rate=PROBE_RATE, first=WARMUP_PROBES, tag="steady")
    before = server_cpu()
    probes.start()
    paced = rig.run_wrk(
        port,
        bodies,
        cpus=load_cpus,
        connections=PACED_CONNECTIONS,
        rate=args.rate,
        max_seconds=args.seconds + 30,
        folder=folder,
    )
    probes.stop()
    expected = paced.ok + len(probes.sent)
    settled = graph.wait_settled(expected=expected, within=120)
    cpu = server_cpu() - before
    if settled.messages:
        figures.steady_cpu_ms = cpu / settled.messages * 1000
    latencies, unanswered = probes.latencies_ms(settled.probes)
    figures.steady_p50_ms = rig.percentile(latencies, 50)
    figures.steady_p99_ms = rig.percentile(latencies, 99)
    figures.lost += max(0, expected - settled.messages)
    if paced.failed or probes.refused or unanswered:
        figures.notes.append(
            f"steady: {paced.failed} not 200, {probes.refused} probes refused,"
            f" {unanswered} unanswered"
        )
    figures.other_cpu_pct, figures.steal_pct = others.stop()


# -- due: 1,000 timers falling due in the same second ----------------------------------------
@dataclass(frozen=True, slots=True)
class DueCase:
    title: str
    state: str  # sqlite or redis
    workers: int


@dataclass(slots=True)
class DueFigures:
    timers: int = 0  # pending when the server started
    spare_s: float = float("nan")  # seconds between the server warmed up and the due instant
    received: int = 0  # people whose message the fake Graph API got
    all_sent_s: float = float("nan")  # the due instant to the last of them
    late_p50_ms: float = float("nan")
    late_p99_ms: float = float("nan")
    first_ms: float = float("nan")  # the due instant to the first of them
    fired_p50_ms: float = float("nan")  # the server's lateness of firing (log lines)
    fired_max_ms: float = float("nan")
    cpu_ms_per_timer: float = float("nan")
    timers_after: int = 0
    other_cpu_pct: float = float("nan")
    steal_pct: float = float("nan")
    attempts: int = 1  # runs made to get one on a quiet enough machine (the last is kept)
    notes: list[str] = field(default_factory=list)


def due_cases(with_redis: bool) -> tuple[DueCase, ...]:
    cases = [DueCase("SQLite, 1 worker", "sqlite", 1), DueCase("SQLite, 2 workers", "sqlite", 2)]
    if with_redis:
        cases += [DueCase("Redis, 1 worker", "redis", 1), DueCase("Redis, 2 workers", "redis", 2)]
    return tuple(cases)


def run_due(case: DueCase, args: argparse.Namespace) -> DueFigures:
    place = placement(case.workers)
    with tempfile.TemporaryDirectory(prefix="timers-bench-") as name, rig.affinity(place.load):
        folder = Path(name)
        graph = rig.FakeGraph(folder, place.load)
        redis: subprocess.Popen[bytes] | None = None
        try:
            project = Project(by_name=False)
            if case.state == "redis":
                redis, url = start_redis(folder, place.load)
                project = replace(project, state="redis", redis_url=url)
            return due_run(case, args, graph, project, folder, place.server)
        finally:
            if redis is not None:
                rig.stop(redis)
            graph.stop()


def due_run(
    case: DueCase,
    args: argparse.Namespace,
    graph: rig.FakeGraph,
    project: Project,
    folder: Path,
    server_cpus: str | None,
) -> DueFigures:
    port = rig.free_port()
    later = f"{args.delay:g}s"
    how = write_server(
        folder, project, workers=case.workers, port=port, graph_base=graph.base_url, later=later
    )
    bot = compiled(folder)
    log = folder / "server.log"
    server = rig.spawn(how.command, cpus=server_cpus, log=log, env=how.env, cwd=how.cwd)
    try:
        rig.wait_listening(port, server, log, within=120)
        warmup = rig.Probes(port, SECRET, tag="warm")
        warmup.send_now(WARM_DUE)  # connections open, code warm, as a server running a while
        graph.wait_settled(expected=WARM_DUE, within=30, quiet=0.3)
        graph.reset()
        figures = DueFigures()
        due = keep_due(figures, args, bot, open_store(project, folder))
        measure_due(figures, graph, server.pid, due, log)
    except Exception:
        print(f"--- {case.title}: server log ---\n{rig._tail(log)}", flush=True)
        raise
    finally:
        rig.stop(server)
    figures.timers_after = asyncio.run(pending_timers(open_store(project, folder)))
    return figures


def keep_due(
    figures: DueFigures, args: argparse.Namespace, bot: Bot, store: Store
) -> dict[str, float]:
    """`--people` people who said "later" `--delay` seconds before an instant `--lead`
    seconds from now, written with their timers as another process would (a host, a CLI):
    the server's workers learn of them at their next poll. Each person's due time."""
    psids = [probe_psid(DUE_FIRST + number) for number in range(args.people)]
    said_at = time.time() + args.lead - args.delay
    sessions = turn_sessions(bot, psids, "later", lambda _: said_at)
    figures.timers = asyncio.run(keep_people(store, sessions, timers=True, inbound_at=said_at))
    due = {s.psid: min(timer.due_at for timer in s.timers.values()) for s in sessions}
    figures.spare_s = min(due.values()) - time.time()
    if figures.spare_s < 1.5:  # a worker's poll (every second) may not see them in time
        figures.notes.append(f"written {figures.spare_s:.1f} s before they fall due: raise --lead")
    return due


def measure_due(
    figures: DueFigures, graph: rig.FakeGraph, pid: int, due: dict[str, float], log: Path
) -> None:
    instant = min(due.values())
    others = Others(lambda: [*rig.process_tree(pid), graph.process.pid])
    others.start()
    before = rig.cpu_seconds(rig.process_tree(pid))
    time.sleep(max(0.0, instant - time.time()))
    settled = graph.wait_settled(expected=len(due), within=120, quiet=2.0)
    figures.other_cpu_pct, figures.steal_pct = others.stop()
    cpu = rig.cpu_seconds(rig.process_tree(pid)) - before
    late = [settled.probes[psid] - at for psid, at in due.items() if psid in settled.probes]
    figures.received = len(late)
    if late:
        figures.all_sent_s = max(late)
        figures.first_ms = min(late) * 1000
        figures.late_p50_ms = rig.percentile(late, 50) * 1000
        figures.late_p99_ms = rig.percentile(late, 99) * 1000
        figures.cpu_ms_per_timer = cpu / len(late) * 1000
    if settled.messages != len(late):
        figures.notes.append(f"{settled.messages} messages for {len(late)} people")
    fired = [float(ms) for ms in _FIRED_LATE.findall(log.read_text(errors="replace"))]
    if len(fired) != len(due):
        figures.notes.append(f"{len(fired)} 'fired=delay' log lines for {len(due)} timers")
    figures.fired_p50_ms = rig.percentile(fired, 50)
    figures.fired_max_ms = max(fired, default=float("nan"))


# -- running and reporting -------------------------------------------------------------------
Run = TypeVar("Run", PendingFigures, DueFigures)


def quiet_run(title: str, run: Callable[[], Run], args: argparse.Namespace) -> Run:
    """`run()` on a machine as quiet as can be had: after a wait for quiet, and again (up to
    `--tries` times) while other processes and VMs took more than `--max-others` % of the
    CPUs; the last run is kept, with the number of runs made."""
    for attempt in range(1, args.tries + 1):
        if args.quiet:
            waited = wait_quiet(share=args.quiet / 100, within=args.wait)
            if waited > 2.5:
                say(f"waited {waited:.0f} s for a quiet machine")
        figures = run()
        taken = figures.other_cpu_pct + figures.steal_pct
        if taken <= args.max_others or attempt == args.tries:
            break
        say(f"{title}: others took {taken:.0f} % of the CPUs; run again")
    figures.attempts = attempt
    return figures


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def paired(titles: Sequence[str], reps: int) -> Iterator[tuple[int, str]]:
    """Every title once a repetition; the order turns round each repetition."""
    for rep in range(1, reps + 1):
        order = titles if rep % 2 else list(reversed(titles))
        for title in order:
            yield rep, title


def medians(runs: list[object]) -> dict[str, float]:
    """The median of each number over the runs (NaN when none); counts of problems summed."""
    rows = [asdict(run) for run in runs]  # type: ignore[call-overload]
    summary: dict[str, float] = {}
    for name, value in rows[0].items():
        if isinstance(value, list):
            continue
        values = [row[name] for row in rows]
        summary[name] = sum(values) if name in ("lost", "attempts") else rig.median(values)
    return summary


def over(value: float, base: float) -> float:
    return value / base if base else float("nan")


def cell(value: float, *, ratio: bool = False) -> str:
    if value != value:  # NaN
        return "" if ratio else "n/a"
    if ratio:
        return f"{value:.2f}"
    if float(value).is_integer() or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


PENDING_ROWS = (
    ("timers", "Timers pending at start (count_timers)", False),
    ("poll_us", "Store alone: a poll, nothing due (µs)", True),
    ("change_us", "Store alone: a timer set, then cancelled (µs)", True),
    ("start_s", "Server start, spawn to first answer (s)", True),
    ("idle_cpu_ms_per_s", "Idle server: CPU a second (ms)", True),
    ("burst_per_s", "Burst: messages answered per second", True),
    ("burst_cpu_ms", "Burst: server CPU per message (ms)", True),
    ("steady_cpu_ms", "Steady: server CPU per message (ms)", True),
    ("steady_p50_ms", "Steady: end-to-end p50 (ms)", True),
    ("steady_p99_ms", "Steady: end-to-end p99 (ms)", True),
    ("timers_after", "Timers pending after the load", False),
    ("lost", "Replies lost (all reps)", False),
    ("other_cpu_pct", "CPUs taken by other processes (%)", False),
    ("steal_pct", "CPUs taken by other VMs: steal (%)", False),
    ("attempts", "Runs made, all reps (one is made again when others took the CPUs)", False),
)
DUE_ROWS = (
    ("timers", "Timers pending at start", False),
    ("spare_s", "Timers written, seconds before they fall due", False),
    ("received", "People whose message arrived", False),
    ("all_sent_s", "Due instant to the last message (s)", False),
    ("first_ms", "Due instant to the first message (ms)", False),
    ("late_p50_ms", "Lateness at the fake Graph API, p50 (ms)", False),
    ("late_p99_ms", "Lateness at the fake Graph API, p99 (ms)", False),
    ("fired_p50_ms", "Lateness of firing, server log, p50 (ms)", False),
    ("fired_max_ms", "Lateness of firing, server log, max (ms)", False),
    ("cpu_ms_per_timer", "Server CPU per timer (ms)", False),
    ("timers_after", "Timers pending after", False),
    ("other_cpu_pct", "CPUs taken by other processes (%)", False),
    ("steal_pct", "CPUs taken by other VMs: steal (%)", False),
    ("attempts", "Runs made, all reps (one is made again when others took the CPUs)", False),
)


def table(
    results: dict[str, list[object]], rows: Sequence[tuple[str, str, bool]], *, ratio: bool
) -> str:
    """Medians by case; with `ratio`, the second case over the first where it means something."""
    titles = list(results)
    summary = {title: medians(runs) for title, runs in results.items()}
    head = [*titles, f"{titles[1]} / {titles[0]}"] if ratio else titles
    lines = ["| Figure | " + " | ".join(head) + " |", "|---|" + "---:|" * len(head)]
    for name, title, compared in rows:
        cells = [cell(summary[t][name]) for t in titles]
        if ratio:
            base = summary[titles[0]][name]
            shown = over(summary[titles[1]][name], base) if compared else float("nan")
            cells.append(cell(shown, ratio=True))
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def pending_per_rep(results: dict[str, list[PendingFigures]]) -> str:
    """Each repetition's pair: 100,000 pending over none."""
    base, other = (results[title] for title in results)
    names = (
        ("poll_us", "store poll"),
        ("idle_cpu_ms_per_s", "idle CPU/s"),
        ("burst_per_s", "burst answered/s"),
        ("burst_cpu_ms", "burst CPU/msg"),
        ("steady_cpu_ms", "steady CPU/msg"),
        ("steady_p99_ms", "steady p99"),
    )
    head = [label for _, label in names] + ["CPUs taken, processes + steal % (none / pending)"]
    lines = ["| Repetition | " + " | ".join(head) + " |", "|---|" + "---:|" * len(head)]
    for rep, (without, with_) in enumerate(zip(base, other, strict=True), start=1):
        cells = [cell(over(getattr(with_, n), getattr(without, n)), ratio=True) for n, _ in names]
        taken = f"{without.other_cpu_pct:.0f}+{without.steal_pct:.0f}"
        taken += f" / {with_.other_cpu_pct:.0f}+{with_.steal_pct:.0f}"
        lines.append(f"| {rep} | " + " | ".join([*cells, taken]) + " |")
    return "\n".join(lines)


def due_per_rep(results: dict[str, list[DueFigures]]) -> str:
    titles = list(results)
    lines = ["| Repetition | " + " | ".join(titles) + " |", "|---|" + "---:|" * len(titles)]
    for rep in range(len(results[titles[0]])):
        cells = []
        for title in titles:
            run = results[title][rep]
            cells.append(f"{run.all_sent_s:.2f} ({run.other_cpu_pct:.0f}+{run.steal_pct:.0f} %)")
        lines.append(f"| {rep + 1} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def bench_pending(args: argparse.Namespace, work: Path) -> dict[str, list[PendingFigures]]:
    started = time.monotonic()
    without, with_ = pending_templates(work, args.pending)
    say(f"{args.pending:,} people written twice in {time.monotonic() - started:.0f} s")
    cases = {case.title: case for case in (without, with_)}
    results: dict[str, list[PendingFigures]] = {title: [] for title in cases}
    for rep, title in paired(list(cases), args.reps):
        run = quiet_run(title, partial(run_pending, cases[title], args), args)
        results[title].append(run)
        say(
            f"[rep {rep}/{args.reps}] {title:<24} {run.timers:,} timers; poll {run.poll_us:.0f} µs,"
            f" set+cancel {run.change_us:.0f} µs; idle"
            f" {run.idle_cpu_ms_per_s:.2f} ms/s; burst {run.burst_per_s:.0f}/s,"
            f" {run.burst_cpu_ms:.2f} ms/msg; steady {run.steady_cpu_ms:.2f} ms/msg,"
            f" p50 {run.steady_p50_ms:.1f} p99 {run.steady_p99_ms:.1f} ms; lost {run.lost};"
            f" CPUs taken {run.other_cpu_pct:.0f}+{run.steal_pct:.0f} %"
            + (f"; {'; '.join(run.notes)}" if run.notes else "")
        )
    return results


def bench_due(args: argparse.Namespace) -> dict[str, list[DueFigures]]:
    cases = {case.title: case for case in due_cases(args.redis)}
    results: dict[str, list[DueFigures]] = {title: [] for title in cases}
    for rep, title in paired(list(cases), args.reps):
        run = quiet_run(title, partial(run_due, cases[title], args), args)
        results[title].append(run)
        say(
            f"[rep {rep}/{args.reps}] {title:<18} {run.received}/{run.timers} sent; last"
            f" {run.all_sent_s:.2f} s after the due instant, p50 {run.late_p50_ms:.0f} ms,"
            f" p99 {run.late_p99_ms:.0f} ms; fired p50 {run.fired_p50_ms:.0f} max"
            f" {run.fired_max_ms:.0f} ms; {run.cpu_ms_per_timer:.2f} ms CPU/timer; spare"
            f" {run.spare_s:.1f} s; CPUs taken {run.other_cpu_pct:.0f}+{run.steal_pct:.0f} %"
            + (f"; {'; '.join(run.notes)}" if run.notes else "")
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each run")
    parser.add_argument("--only", choices=("pending", "due"), help="one of the two benchmarks")
    parser.add_argument("--pending", type=int, default=100_000, help="other people's timers")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds the idle CPU is read")
    parser.add_argument("--messages", type=int, default=3000, help="the burst's messages")
    parser.add_argument("--rate", type=float, default=100.0, help="steady messages a second")
    parser.add_argument("--seconds", type=float, default=15.0, help="steady phase's seconds")
    parser.add_argument("--people", type=int, default=1000, help="timers falling due at once")
    parser.add_argument("--delay", type=float, default=30.0, help="the due timers' delay (s)")
    parser.add_argument("--lead", type=float, default=5.0, help="seconds from writing to due")
    parser.add_argument("--redis", action="store_true", help="the due runs on Redis too")
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
    if args.redis and not hasattr(RedisStore, "fire_timers"):
        parser.error("the Redis store has no Timers role (fire_timers) in this tree yet")
    started = time.monotonic()
    say(f"machine: {machine()}")
    data: dict[str, dict[str, list[dict[str, object]]]] = {}
    out = [f"Machine: {machine()}"]
    with tempfile.TemporaryDirectory(prefix="timers-bench-") as name:
        if args.only in (None, "pending"):
            pending = bench_pending(args, Path(name))
            data["pending"] = {t: [asdict(r) for r in runs] for t, runs in pending.items()}
            out += [
                "",
                table(pending, PENDING_ROWS, ratio=True),  # type: ignore[arg-type]
                "\nEach repetition, pending over none:\n",
                pending_per_rep(pending),
            ]
    if args.only in (None, "due"):
        due = bench_due(args)
        data["due"] = {t: [asdict(r) for r in runs] for t, runs in due.items()}
        out += [
            "",
            table(due, DUE_ROWS, ratio=False),  # type: ignore[arg-type]
            "\nDue instant to the last message (s) each repetition (CPUs taken, processes +"
            " steal):\n",
            due_per_rep(due),
        ]
    out.append(f"\n{args.reps} repetitions, medians; {time.monotonic() - started:.0f} s in all.")
    print("\n".join(out))
    if args.json is not None:
        args.json.write_text(json.dumps(data, indent=2))


if __name__ == "__main__":
    main()
