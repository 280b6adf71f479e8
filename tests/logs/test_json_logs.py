"""`runtime serve --log-format json`: one JSON object a line on stderr, about whom, no token.

One server for the module (`runtime serve` in a process of its own, as a user runs it), fed
real-shaped signed webhooks, its stderr read line by line.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runtime.cli import main
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.processes import Server, free_port, serve_command
from tests.fakes.webhooks import encode, signed_headers, text
from tests.messenger.conftest import APP_SECRET, TOKEN, single_page, write_bot

Line = dict[str, Any]
UTC_MILLISECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def start_serve(directory: Path, graph: FakeGraphAPI, *options: str) -> Server:
    """`runtime serve` on a bot that sends no sender actions (a reply is the first call)."""
    config = write_bot(directory, single_page(senderActions="false"))
    port = free_port()
    log = directory / "stderr.log"
    command = [arg.replace("{port}", str(port)) for arg in serve_command(config, *options)]
    environ = {**os.environ, "MESSENGER_GRAPH_API_BASE": graph.base_url}
    with log.open("w") as stderr:
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=stderr, env=environ, text=True
        )
    server = Server(process, port, log)
    server.wait_ready()
    return server


def post(server: Server, data: dict[str, object]) -> None:
    raw = encode(data)
    answer = httpx.post(
        server.url + "/webhook/messenger", content=raw, headers=signed_headers(raw, APP_SECRET)
    )
    assert answer.status_code == 200


def lines(server: Server) -> list[Line]:
    """Every whole line written so far, each parsed as one JSON object (or the test fails)."""
    written = server.log.read_text()
    whole = written[: written.rfind("\n") + 1]
    parsed = []
    for number, line in enumerate(whole.splitlines(), 1):
        try:
            record = json.loads(line)
        except ValueError:
            pytest.fail(f"line {number} is not JSON: {line!r}")
        assert isinstance(record, dict), line
        parsed.append(record)
    return parsed


def wait_for_line(
    server: Server, wanted: Callable[[Line], bool], *, count: int = 1, within: float = 30.0
) -> list[Line]:
    """The lines `wanted`, once there are `count` of them."""
    deadline = time.monotonic() + within
    while True:
        found = [line for line in lines(server) if wanted(line)]
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, server.log.read_text()
        time.sleep(0.01)


@pytest.fixture(scope="module")
def graph() -> Iterator[FakeGraphAPI]:
    fake = FakeGraphAPI().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, graph: FakeGraphAPI) -> Iterator[Server]:
    """Two workers: each process logs JSON too (Sanic's lines, the turns it takes)."""
    directory = tmp_path_factory.mktemp("json-logs")
    running = start_serve(directory, graph, "--log-format", "json", "--workers", "2")
    yield running
    assert running.stop() == 0


def test_each_line_is_an_object_and_a_turn_names_its_account_and_person(
    server: Server, graph: FakeGraphAPI
) -> None:
    post(server, text("hi", psid="4100000000000001"))
    graph.wait_sync(1, within=30)  # the reply has gone: the next test scripts the next one
    [turn] = wait_for_line(server, lambda line: line["message"].startswith("turn account"))
    assert turn["account"] == "default"
    assert turn["psid"] == "4100000000000001"
    assert turn["level"] == "INFO"
    assert turn["logger"] == "runtime.worker"
    written = lines(server)
    for line in written:
        assert {"time", "level", "logger", "message"} <= line.keys()
        assert UTC_MILLISECONDS.fullmatch(line["time"]), line
    # what is about nobody in particular names nobody
    [serving] = [line for line in written if line["message"].startswith("serving on ")]
    assert "account" not in serving
    assert "psid" not in serving


def test_each_worker_process_logs_json_sanic_s_lines_too(server: Server) -> None:
    started = wait_for_line(
        server, lambda line: line["message"].startswith("Starting worker"), count=2
    )
    assert {line["logger"] for line in started} == {"sanic.server"}
    assert len({line["message"] for line in started}) == 2  # two processes: two pids


def test_a_token_in_a_graph_error_is_masked_on_a_line_naming_the_person(
    server: Server, graph: FakeGraphAPI
) -> None:
    # Meta's error quotes the URL it was called with, token and all
    url = f"https://graph.facebook.com/v21.0/me/messages?access_token={TOKEN}&x=1"
    graph.error_next(100, message=f"(#100) Param recipient is not valid: {url}")
    post(server, text("help", psid="4100000000000002"))
    [dead] = wait_for_line(server, lambda line: "moved to the dead letters" in line["message"])
    assert dead["level"] == "ERROR"
    assert dead["account"] == "default"
    assert dead["psid"] == "4100000000000002"
    assert "access_token=**********&x=1" in dead["message"]
    assert TOKEN not in server.log.read_text()


def test_an_exception_is_one_line_with_its_traceback_and_no_token() -> None:
    """What a library logs while a person is handled: their account and PSID, the traceback
    in `exc`, masked; what Python would print by itself is an object too. The format comes
    from the environment, as `runtime serve` tells its worker processes."""
    script = f"""
import logging, warnings
import httpx
from runtime.log_context import about
from runtime.logs import setup_logging

setup_logging()
url = "https://graph.facebook.com/v21.0/4100000000000003?fields=locale&access_token={TOKEN}"
with about("shop", "4100000000000003"):
    try:
        httpx.Response(400, request=httpx.Request("GET", url)).raise_for_status()
    except httpx.HTTPError:
        logging.getLogger("a.library").exception("the lookup failed")
warnings.warn("an old way", DeprecationWarning, stacklevel=1)
raise RuntimeError(url)
"""
    result = subprocess.run(
        [sys.executable, "-W", "always", "-c", script],
        env={**os.environ, "RUNTIME_LOG_FORMAT": "json"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert TOKEN not in result.stderr
    failed, warned, uncaught = [json.loads(line) for line in result.stderr.splitlines()]
    assert failed["message"] == "the lookup failed"
    assert failed["logger"] == "a.library"
    assert (failed["account"], failed["psid"]) == ("shop", "4100000000000003")
    assert failed["exc"].startswith("Traceback (most recent call last):")
    assert "httpx.HTTPStatusError: Client error '400 Bad Request'" in failed["exc"]
    assert "access_token=**********" in failed["exc"]
    assert warned["logger"] == "py.warnings"
    assert "DeprecationWarning: an old way" in warned["message"]
    assert "account" not in warned
    assert uncaught["level"] == "CRITICAL"
    assert uncaught["exc"].splitlines()[-1] == (
        "RuntimeError: https://graph.facebook.com/v21.0/4100000000000003?fields=locale"
        "&access_token=**********"
    )


def test_a_log_format_that_is_not_one_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--log-format", "xml"])
    assert exit_.value.code == 2
    assert "argument --log-format: invalid choice: 'xml'" in capsys.readouterr().err
    monkeypatch.setenv("RUNTIME_LOG_FORMAT", "xml")
    assert main(["serve"]) == 2
    assert capsys.readouterr().err == (
        "runtime serve: $RUNTIME_LOG_FORMAT 'xml' is not a log format: use text or json "
        "(or use --log-format)\n"
    )


def test_why_the_server_did_not_start_is_json_too(tmp_path: Path) -> None:
    config = write_bot(tmp_path, single_page(dmPolicy='"closed"'))
    result = subprocess.run(
        [sys.executable, "-m", "runtime", "serve", "-c", str(config), "--log-format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    errors = [json.loads(line) for line in result.stderr.splitlines()]
    assert [line["level"] for line in errors] == ["ERROR"]
    assert "channels.messenger.dmPolicy: unknown value 'closed'" in errors[0]["message"]
