"""The load rig: processes on loopback, wrk phases, probes, and what the fake Graph API saw.

Everything here is bounded: every process is started by us and stopped by its pid, every
wait has a deadline, and traffic only goes to 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench.bodies import probe_psid, sign_sha1, sign_sha256, text, webhook

BENCH = Path(__file__).resolve().parent
HOST = "127.0.0.1"
WEBHOOK_PATH = "/webhook/messenger"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# the subscription handshake: every server under test answers it (or refuses it) at once
READY_PATH = f"{WEBHOOK_PATH}?hub.mode=subscribe&hub.verify_token=bench-verify&hub.challenge=1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def spawn(
    command: Sequence[str],
    *,
    cpus: str | None,
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start `command` (pinned to `cpus` with taskset when given), output to `log`."""
    if cpus is not None:
        command = ["taskset", "-c", cpus, *command]
    with log.open("ab") as out:
        return subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,  # its own process group: stopped as one, by its id
        )


def stop(process: subprocess.Popen[bytes], *, within: float = 15.0) -> None:
    """SIGTERM, wait; if it lingers, SIGKILL its process group (ours, by id)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=within)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def http_call(port: int, method: str, path: str, body: bytes = b"", timeout: float = 5.0) -> bytes:
    """One request to 127.0.0.1:`port`; the answer's body (any status)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body)
        return conn.getresponse().read()
    finally:
        conn.close()


def wait_listening(port: int, process: subprocess.Popen[bytes], log: Path, within: float) -> None:
    """Until an HTTP request to `port` gets any answer; fails if the process exits first."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited early (code {process.returncode}):\n{_tail(log)}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            http_call(port, "GET", READY_PATH, timeout=1.0)
            return
        time.sleep(0.1)
    raise RuntimeError(f"no answer on port {port} within {within:.0f}s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    return ""


# -- the fake Graph API --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GraphStats:
    messages: int
    actions: int
    requests: int  # HTTP requests: single calls and batch requests
    batches: int
    first_message_at: float | None
    last_message_at: float | None
    probes: dict[str, float]
    profile_calls: int = 0  # User Profile API calls (not in `requests`)
    profile_people: int = 0  # the people they asked about

    @property
    def calls(self) -> int:
        return self.messages + self.actions

    @property
    def answering_seconds(self) -> float:
        if self.first_message_at is None or self.last_message_at is None:
            return 0.0
        return self.last_message_at - self.first_message_at


class FakeGraph:
    """bench/fake_graph.py in its own process."""

    def __init__(self, folder: Path, cpus: str | None) -> None:
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.log = folder / "fake_graph.log"
        command = [sys.executable, str(BENCH / "fake_graph.py"), "--port", str(self.port)]
        self.process = spawn(command, cpus=cpus, log=self.log)
        try:
            wait_listening(self.port, self.process, self.log, within=10)
        except BaseException:
            stop(self.process)
            raise

    def stats(self) -> GraphStats:
        data = json.loads(http_call(self.port, "GET", "/stats"))
        return GraphStats(
            messages=data["messages"],
            actions=data["actions"],
            requests=data["requests"],
            batches=data["batches"],
            first_message_at=data["first_message_at"],
            last_message_at=data["last_message_at"],
            probes=data["probes"],
            profile_calls=data.get("profile_calls", 0),
            profile_people=data.get("profile_people", 0),
        )

    def reset(self) -> None:
        http_call(self.port, "POST", "/reset")

    def wait_settled(self, *, expected: int, within: float, quiet: float = 1.0) -> GraphStats:
        """Wait until `expected` messages arrived and the counts hold still for a moment,
        or until nothing has moved for three times `quiet`, or the deadline."""
        deadline = time.monotonic() + within
        last = self.stats()
        still_since = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.25)
            now = self.stats()
            if (now.messages, now.actions) != (last.messages, last.actions):
                last, still_since = now, time.monotonic()
                continue
            still = time.monotonic() - still_since
            if (now.messages >= expected and still >= quiet) or still >= quiet * 3:
                return now
        return last

    def stop(self) -> None:
        stop(self.process)


# -- wrk -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class WrkResult:
    bodies: int
    sent: int
    resent: int
    ok: int
    failed: int
    exhausted_threads: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def accept_rate(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0


_REPLAY_LINE = re.compile(r"^replay: (.*)$", re.MULTILINE)


def run_wrk(
    port: int,
    bodies: Path,
    *,
    cpus: str | None,
    connections: int,
    threads: int = 1,
    rate: float = 0,
    max_seconds: float = 60,
    folder: Path,
) -> WrkResult:
    """Replay `bodies` (each once) with wrk; stops as soon as every body has its answer."""
    marker = folder / f"wrk-done-{time.monotonic_ns()}"
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(max_seconds)}s", "--latency"]
    command += ["-s", str(BENCH / "replay.lua"), f"http://{HOST}:{port}{WEBHOOK_PATH}"]
    command += ["--", str(bodies), str(threads), str(rate), str(marker)]
    if cpus is not None:
        command = ["taskset", "-c", cpus, *command]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + max_seconds + 10
    markers = [Path(f"{marker}-{index}") for index in range(threads)]
    while process.poll() is None and time.monotonic() < deadline:
        if all(path.exists() for path in markers):
            process.send_signal(signal.SIGINT)  # wrk stops and reports
            break
        time.sleep(0.05)
    try:
        output, _ = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    finally:
        for path in markers:
            path.unlink(missing_ok=True)
    return parse_replay(output.decode(errors="replace"))


def parse_replay(output: str) -> WrkResult:
    found = _REPLAY_LINE.search(output)
    if found is None:
        raise RuntimeError(f"wrk printed no replay line:\n{output}")
    values = dict(item.split("=", 1) for item in found.group(1).split())
    return WrkResult(
        bodies=int(values["bodies"]),
        sent=int(values["sent"]),
        resent=int(values["resent"]),
        ok=int(values["ok"]),
        failed=int(values["failed"]),
        exhausted_threads=int(values["exhausted_threads"]),
        seconds=float(values["seconds"]),
        p50_ms=int(values["p50_us"]) / 1000,
        p99_ms=int(values["p99_us"]) / 1000,
    )


# -- probes --------------------------------------------------------------------------------
@dataclass(slots=True)
class Probes:
    """Signed "hi" messages from unique probe PSIDs at a steady rate, their send times kept.

    Sent from a few threads, so a slow answer does not hold the next probe back.
    """

    port: int
    secret: str
    rate: float = 20.0
    first: int = 0
    tag: str = ""  # in the message ids: probes of PSIDs used before need a new one each time
    words: str = "hi"  # what each probe says
    senders: int = 8  # threads sending; a high rate needs more, so none waits for a free one
    sent: dict[str, float] = field(default_factory=dict)  # psid -> time.time() at send
    refused: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _local: threading.local = field(default_factory=threading.local)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="probes", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def send_now(self, count: int) -> None:
        """`count` probes at once (the warm-up), waiting for their 200s."""
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(self._send, range(self.first, self.first + count)))
        self.first += count

    def _run(self) -> None:
        interval = 1.0 / self.rate
        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=self.senders, thread_name_prefix="probe") as pool:
            number = 0
            while not self._stop.is_set():
                pool.submit(self._send, self.first + number)
                number += 1
                self._stop.wait(max(0.0, start + number * interval - time.monotonic()))
        self.first += number

    def _send(self, number: int) -> None:
        psid = probe_psid(number)
        mid = f"m_probe{self.tag}_{psid}"
        raw = webhook(psid, text(mid, self.words), timestamp_ms=int(time.time() * 1000))
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign_sha256(raw, self.secret),
            "X-Hub-Signature": sign_sha1(raw, self.secret),
        }
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        sent_at = time.time()
        try:
            conn.request("POST", WEBHOOK_PATH, body=raw, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            self._local.conn = None
            conn.close()
            status = 0
        if status == 200:
            self.sent[psid] = sent_at
        else:
            self.refused += 1

    def latencies_ms(self, arrivals: dict[str, float]) -> tuple[list[float], int]:
        """End-to-end latencies of the answered probes, and how many got no answer."""
        found = [(arrivals[psid] - at) * 1000 for psid, at in self.sent.items() if psid in arrivals]
        return found, len(self.sent) - len(found)


# -- processes under test ------------------------------------------------------------------
def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            parent = int(stat[stat.rindex(")") + 2 :].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time of `pids` (their threads included), in seconds."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += cpu_seconds_of(Path(f"/proc/{pid}/stat"))
    return total


def cpu_seconds_of(stat_file: Path) -> float:
    """utime + stime from a /proc .../stat file (a process's or a thread's), in seconds."""
    stat = stat_file.read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def peak_rss_mib(pids: Sequence[int]) -> float:
    """Sum of VmHWM (each process's peak resident set) over `pids`, in MiB."""
    total_kib = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total_kib += int(line.split()[1])
    return total_kib / 1024


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (NaN when empty)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, round(pct / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


@contextlib.contextmanager
def affinity(cpus: str | None) -> Iterator[None]:
    """Run this thread (and the threads it starts) on `cpus` for a while."""
    if cpus is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {int(cpu) for cpu in cpus.split(",")})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)
