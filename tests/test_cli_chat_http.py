"""`runtime chat` makes an `http` step's real call and shows it on a line of its own.

The quickstart's order lookup, pointed at a real local API (tests/fakes/business_api.py)
or at a port where nothing listens, driven through stdin and stdout of a real subprocess.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.business_api import FakeBusinessAPI, json_answer, refusing_url
from tests.testing.quickstart import copy_quickstart, run_runtime


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The quickstart, copied so that its flows may point elsewhere and its state stays here."""
    return copy_quickstart(tmp_path / "bot")


def chat(config: Path, *lines: str, env: dict[str, str] | None = None) -> list[str]:
    typed = "".join(f"{line}\n" for line in lines)
    result = run_runtime("chat", "-c", str(config), input=typed, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout.splitlines()


TOKEN = {"ORDERS_TOKEN": "tok-s3cret"}  # the quickstart's order lookup sends it


@pytest.fixture
def orders_api() -> Iterator[FakeBusinessAPI]:
    api = FakeBusinessAPI().start()
    yield api
    api.stop()


def point_orders_at(config: Path, base_url: str) -> None:
    """The quickstart's order lookup calls `base_url` instead of api.example.com."""
    flows = config.parent / "flows" / "orders.json5"
    text = flows.read_text(encoding="utf-8")
    flows.write_text(text.replace("https://api.example.com", base_url), encoding="utf-8")


def test_an_http_step_makes_its_real_call_and_a_line_shows_it(
    config: Path, orders_api: FakeBusinessAPI
) -> None:
    orders_api.on("GET", "/orders/A123", json_answer(200, {"status": "shipped"}))
    point_orders_at(config, orders_api.base_url)
    result = run_runtime("chat", "-c", str(config), input="order a123\n", env=TOKEN)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "the http steps make their real calls" in lines[0]
    call = re.escape(f"(http) GET {orders_api.base_url}/orders/A123 -> 200 in ")
    assert re.fullmatch(call + r"\d+ ms", lines[1]), lines[1]
    assert lines[2:] == ["bot: Order A123: shipped."]
    [request] = orders_api.received()
    assert request.headers["authorization"] == "Bearer tok-s3cret"
    assert "tok-s3cret" not in result.stdout + result.stderr


def test_an_error_answer_is_shown_and_the_on_error_flow_answers(
    config: Path, orders_api: FakeBusinessAPI
) -> None:
    point_orders_at(config, orders_api.base_url)  # no route: the fake answers 404
    lines = chat(config, "order B404", env=TOKEN)
    not_found = re.escape(f"(http) GET {orders_api.base_url}/orders/B404 -> 404 in ")
    assert re.fullmatch(not_found + r"\d+ ms: the API answered 404 Not Found", lines[1])
    assert lines[2:] == [
        "bot: I can't find order B404. Could you check the number in your confirmation email?"
    ]


def test_a_refused_connection_says_so_and_the_on_error_flow_answers(config: Path) -> None:
    refused = refusing_url()
    point_orders_at(config, refused)
    lines = chat(config, "order A123", env=TOKEN)
    no_answer = re.escape(f"(http) GET {refused}/orders/A123 -> no answer in ")
    assert re.fullmatch(
        no_answer + r"\d+ ms: could not connect \(refused, or no such host\)", lines[1]
    )
    assert lines[2:] == [
        "bot: Sorry, I can't reach our order system right now. Please try again in a few minutes."
    ]


def test_a_call_whose_secret_is_not_set_is_not_made_and_says_which(
    config: Path, orders_api: FakeBusinessAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORDERS_TOKEN", raising=False)
    point_orders_at(config, orders_api.base_url)
    lines = chat(config, "order A123")
    unset = re.escape(f"(http) GET {orders_api.base_url}/orders/A123 -> no answer in ")
    assert re.fullmatch(unset + r"\d+ ms: environment variable ORDERS_TOKEN is not set", lines[1])
    assert lines[2].startswith("bot: Sorry, I can't reach our order system")
    assert orders_api.received() == []
