"""The server says what it does: a line per turn, approval and reload; /healthz; startup;
--log-level; a busy port; no hint at options `runtime serve` does not have."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.access.conftest import STRANGER, bot_config, code_in, drained, pair, said
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.processes import Server, free_port, serve_command
from tests.fakes.server import RunningApp, running
from tests.fakes.webhooks import PSID, encode, sample, signed_headers, text
from tests.messenger.conftest import APP_SECRET, TOKEN, single_page, write_bot

ONE_FLOW = """{ flows: {
  welcome: { triggers: [{ keywords: ["hi"] }], steps: [{ text: "%s" }, { text: "Ask away." }] },
} }"""


def turn_lines(log: str) -> list[str]:
    marker = "turn account="
    return [line[line.index(marker) :] for line in log.splitlines() if marker in line]


def turn_line(account: str, psid: str, flow: str, messages: int) -> re.Pattern[str]:
    return re.compile(
        rf"turn account={account} psid={psid} flow={re.escape(flow)} messages={messages} "
        r"ms=\d+\.\d$"
    )


async def logged(caplog: pytest.LogCaptureFixture, pattern: str, *, count: int = 1) -> None:
    """Wait until `pattern` (a regular expression) matches `count` lines of the log."""
    deadline = time.monotonic() + 10
    while len(re.findall(pattern, caplog.text, re.MULTILINE)) < count:
        assert time.monotonic() < deadline, caplog.text
        await asyncio.sleep(0.02)


# -- a line per turn -----------------------------------------------------------------------


async def test_each_turn_logs_account_psid_flow_messages_and_time(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    config = write_bot(tmp_path, single_page(), flows=ONE_FLOW % "Hello!")
    async with running(config, env=env) as server:
        await server.post(text("hi"), secret=APP_SECRET)
        await graph.wait_for(2)
        await server.post(text("what?", psid="2000000000000002"), secret=APP_SECRET)
        await logged(caplog, "turn .*psid=2000000000000002")
    first, second = turn_lines(caplog.text)
    assert turn_line("default", PSID, "welcome", 2).match(first), first
    # no trigger and no fallback: nothing answered, and the line says so
    assert turn_line("default", "2000000000000002", '"no flow"', 0).match(second), second
    assert TOKEN not in caplog.text


async def test_a_stranger_s_turns_say_pairing_reply_then_not_admitted_and_the_approval_is_seen(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """The owner's own confirmation text is seen as the approval too."""
    caplog.set_level(logging.INFO)
    config = bot_config(tmp_path, "pairing", approvedMessage='"Welcome aboard, {{ psid }}!"')
    async with running(config, env=env) as server:
        await server.post(said("hi", psid=STRANGER), secret=APP_SECRET)
        [reply] = await graph.wait_for(1)
        await server.post(said("hello?", psid=STRANGER), secret=APP_SECRET)
        await drained(server)
        approved = await pair(config, "approve", "messenger", code_in(reply.text))
        assert approved.returncode == 0, approved.stderr
        confirmation = (await graph.wait_for(2))[1]
        assert confirmation.text == f"Welcome aboard, {STRANGER}!"
        await logged(caplog, f"approval seen: account=default psid={STRANGER}; sending")
        await server.post(said("hi", psid=STRANGER), secret=APP_SECRET)
        await graph.wait_for(3)
        await drained(server)
    pairing, ignored, welcome = turn_lines(caplog.text)
    assert turn_line("default", STRANGER, '"pairing reply"', 1).match(pairing), pairing
    assert turn_line("default", STRANGER, '"not admitted"', 0).match(ignored), ignored
    assert turn_line("default", STRANGER, "welcome", 1).match(welcome), welcome
    assert caplog.text.count("approval seen") == 1


# -- reloads and /healthz ------------------------------------------------------------------


async def healthz(server: RunningApp) -> dict[str, object]:
    answer = await server.get("/healthz")
    assert answer.status_code == 200
    report: dict[str, object] = answer.json()
    return report


async def test_reloads_are_logged_good_bad_and_good_again_and_healthz_keeps_the_error(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    config = write_bot(tmp_path, single_page(), flows=ONE_FLOW % "v1")
    main = tmp_path / "flows" / "main.json5"
    async with running(config, env=env) as server:
        first = await healthz(server)
        assert first["lastReloadError"] is None

        main.write_text(ONE_FLOW % "v2")
        await logged(caplog, r"reload OK \(changed: main.json5\): version \w+ \(was \w+\)")
        second = await healthz(server)
        assert re.search(
            rf"reload OK \(changed: main.json5\): version {second['version']} "
            rf"\(was {first['version']}\), 1 flows, \d+\.\d\d s$",
            caplog.text,
            re.MULTILINE,
        )
        assert second["lastReloadError"] is None

        main.write_text('{ flows: { welcome: { steps: [{ txt: "x" }] } } }')
        await logged(caplog, f"rejected; keeping version {second['version']}")
        broken = await healthz(server)
        assert broken["version"] == second["version"]  # the last good version serves on
        error = broken["lastReloadError"]
        assert isinstance(error, dict)
        assert error["reason"] == "changed: main.json5"
        assert error["keptVersion"] == second["version"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", error["at"])
        [problem] = error["problems"]
        # where, as the log says it: file:line:column: key path: message
        assert re.search(
            r"flows/main\.json5:1:\d+: flows\.welcome\.steps\.0\.txt: unknown key; "
            r"did you mean `text`\?$",
            problem,
        ), problem

        main.write_text(ONE_FLOW % "v3")
        await logged(caplog, r"reload OK again \(changed: main.json5\): version \w+ \(was \w+\)")
        fixed = await healthz(server)
        assert fixed["lastReloadError"] is None
        assert fixed["version"] != second["version"]
    assert "reload OK (changed" in caplog.text.split("rejected")[0]


async def test_a_broken_edit_undone_is_ok_again_with_the_version_unchanged(
    tmp_path: Path, env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    config = write_bot(tmp_path, single_page(), flows=ONE_FLOW % "v1")
    main = tmp_path / "flows" / "main.json5"
    async with running(config, env=env) as server:
        good = (await healthz(server))["version"]
        main.write_text("{ flows: ")
        await logged(caplog, "rejected; keeping version")
        assert (await healthz(server))["lastReloadError"] is not None
        main.write_text(ONE_FLOW % "v1")
        await logged(
            caplog, rf"reload OK again \(changed: main.json5\): version {good} \(unchanged\)"
        )
        assert (await healthz(server))["lastReloadError"] is None


# -- `runtime serve` as users run it -------------------------------------------------------


def stop_once_up(server: Server, workers: int = 1, *, within: float = 20.0) -> int:
    """Stop the server once every worker is up: /healthz answers a little before a worker
    takes SIGTERM (a SIGTERM in between ends or hangs it: a Sanic start-up race)."""
    server.wait_ready()
    deadline = time.monotonic() + 20
    while server.log.read_text().count("Worker ready") < workers:
        assert time.monotonic() < deadline, server.log.read_text()
        time.sleep(0.05)
    return server.stop(within=within)


def serve_on(port: int, config: Path, *options: str) -> list[str]:
    return [arg.replace("{port}", str(port)) for arg in serve_command(config, *options)]


def test_startup_says_where_it_listens_the_webhook_version_flows_and_state(
    tmp_path: Path, graph: FakeGraphAPI, start
) -> None:
    config = write_bot(tmp_path, single_page())
    server = start(*serve_command(config, "--workers", "2"))
    server.wait_ready()
    version = httpx.get(server.url + "/healthz").json()["version"]
    assert stop_once_up(server, workers=2) == 0
    log = server.log.read_text()
    assert (
        f"serving on {server.url} with 2 workers: webhook {server.url}/webhook/messenger "
        "(or /webhook/messenger/<account id>)"
    ) in log
    state = tmp_path / ".runtime" / "state.db"
    assert f"version {version}: 5 flows, 1 account; state sqlite {state}" in log
    # said once by the main process, not once per worker
    assert log.count("account 'default': page") == 1
    assert log.count("warning: 'open' lets anyone") == 1
    assert TOKEN not in log
    assert APP_SECRET not in log


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_busy_port_is_one_line_and_exit_1(tmp_path: Path, workers: str) -> None:
    config = write_bot(tmp_path, single_page())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            serve_on(port, config, "--workers", workers),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"runtime serve: port {port} on 127.0.0.1 is in use: stop the other server or use --port"
    ]
    assert result.stdout == ""


def test_no_hint_at_sanic_options_on_a_terminal(tmp_path: Path, graph: FakeGraphAPI) -> None:
    """Sanic advises `--debug` or `--dev` when stdout is a terminal: options we lack."""
    config = write_bot(tmp_path, single_page())
    port = free_port()
    log = tmp_path / "serve.log"
    primary, secondary = os.openpty()
    # a terminal is read: what the server writes to it must never fill the pty and block it
    drain = threading.Thread(target=_read_until_closed, args=(primary,), daemon=True)
    drain.start()
    try:
        with log.open("w") as err:
            process = subprocess.Popen(
                serve_on(port, config),
                stdout=secondary,
                stderr=err,
                env={**os.environ, "MESSENGER_GRAPH_API_BASE": graph.base_url},
                text=True,
            )
        try:
            assert stop_terminal_server(Server(process, port, log)) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    finally:
        os.close(secondary)
        os.close(primary)
    text_seen = log.read_text()
    assert "serving on" in text_seen
    assert "--dev" not in text_seen
    assert "--debug" not in text_seen
    assert "PRODUCTION mode" not in text_seen


def stop_terminal_server(server: Server) -> int:
    """`stop_once_up`, with a second SIGTERM if the first is lost: about one start in
    twenty under load, a single-worker server whose stdout is a terminal misses a SIGTERM
    that comes just after "Worker ready" (a Sanic start-up race, not what this test is
    about: the closing note of issue 16 has it)."""
    try:
        return stop_once_up(server, within=5.0)
    except subprocess.TimeoutExpired:
        return server.stop()


def _read_until_closed(descriptor: int) -> None:
    with contextlib.suppress(OSError):
        while os.read(descriptor, 4096):
            pass


def post(server: Server, data: dict[str, object]) -> httpx.Response:
    raw = encode(data)
    return httpx.post(
        server.url + "/webhook/messenger", content=raw, headers=signed_headers(raw, APP_SECRET)
    )


def test_log_level_warning_leaves_out_turns_and_startup_lines_in_every_process(
    tmp_path: Path, graph: FakeGraphAPI, start
) -> None:
    config = write_bot(tmp_path, single_page())
    server = start(*serve_command(config, "--workers", "2", "--log-level", "warning"))
    server.wait_ready()
    for number in range(4):
        assert post(server, text("help", psid=f"40{number}")).status_code == 200
    graph.wait_sync(4)
    assert stop_once_up(server, workers=0) == 0
    log = server.log.read_text()
    assert "warning: 'open' lets anyone" in log  # warnings still say what is wrong
    assert [line for line in log.splitlines() if " INFO " in line or " DEBUG " in line] == []


def test_log_level_debug_reaches_every_worker(tmp_path: Path, graph: FakeGraphAPI, start) -> None:
    config = write_bot(tmp_path, single_page())
    server = start(*serve_command(config, "--workers", "2", "--log-level", "debug"))
    server.wait_ready()
    assert post(server, sample("read")).status_code == 200
    # each worker process says it started, at debug level
    started = r"DEBUG runtime.server: worker (\S+) started, serving version \w+"
    deadline = time.monotonic() + 20
    while len(set(re.findall(started, server.log.read_text()))) < 2:
        assert time.monotonic() < deadline, server.log.read_text()
        time.sleep(0.05)
    assert stop_once_up(server, workers=2) == 0
    log = server.log.read_text()
    assert "DEBUG runtime.server: page 100000000000001: skipped" in log
    assert "rust notify timeout" not in log
