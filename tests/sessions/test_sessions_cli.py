"""`runtime sessions` as the owner runs it: a real process on the bot's SQLite state file."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from pathlib import Path
from types import MappingProxyType

import pytest

from runtime.session import Session, session_key
from runtime.store.sqlite import SQLiteStore
from tests.access.conftest import drained, said
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import RunningApp, running
from tests.messenger.conftest import APP_SECRET
from tests.sessions.conftest import chat, sessions

ZOE = "2000000000000201"
MALLORY = "2000000000000202"
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


async def answer(server: RunningApp, graph: FakeGraphAPI, psid: str, *texts: str) -> None:
    """Say each text in turn, waiting for the bot's answer to each."""
    for count, text in enumerate(texts, start=1):
        await server.post(said(text, psid=psid), secret=APP_SECRET)
        await graph.wait_for(count, psid=psid)


async def remember(store: SQLiteStore, psid: str, at: float, **variables: object) -> None:
    """A session of someone who wrote to the page at `at` (the webhook records that)."""
    key = session_key("main", psid)
    vars_ = MappingProxyType(variables)
    await store.save_session(
        Session(key=key, account_id="default", psid=psid, vars=vars_, updated_at=at)
    )
    await store.record_inbound("default", psid, at)


async def test_what_people_answered_is_exported_and_chat_sessions_are_left_out(
    config: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    async with running(config, env=env) as server:
        await answer(server, graph, ZOE, "signup", "Zoë", "-3")
        await drained(server)
    await chat(config, "signup\nOwner\n5\n")  # as chat-local
    await chat(config, "signup\nTester\n7\n", "--as", "2000000000000999")

    exported = await sessions(config, "export")
    assert exported.returncode == 0, exported.stderr
    [zoe] = json.loads(exported.stdout)
    assert zoe.pop("vars") == {"name": "Zoë", "size": -3, "signed_up": True}
    assert ISO_UTC.fullmatch(zoe.pop("updated"))
    assert zoe == {"psid": ZOE, "account": "default"}
    assert exported.stderr == (
        "note: 2 sessions of `runtime chat` left out; --include-local shows them\n"
    )

    everyone = await sessions(config, "export", "--include-local", "--format", "json")
    records = json.loads(everyone.stdout)
    assert [r["psid"] for r in records] == [ZOE, "chat-local", "2000000000000999"]
    assert [r["vars"]["name"] for r in records] == ["Zoë", "Owner", "Tester"]
    assert everyone.stderr == ""
    assert "EAAG" not in everyone.stdout  # the token
    assert APP_SECRET not in everyone.stdout


async def test_the_csv_opens_in_a_spreadsheet_with_no_formula_people_wrote(
    config: Path, store: SQLiteStore
) -> None:
    await remember(store, ZOE, 1_767_225_600.0, name='Zoë, "Z"', size=-3, tags=["a", "b"])
    await remember(store, MALLORY, 1_767_225_660.0, name='=HYPERLINK("http://x","hi")', note="@x")
    exported = await sessions(config, "export", "--format", "csv")
    assert exported.returncode == 0, exported.stderr
    raw = exported.stdout
    assert raw.startswith("\ufeffpsid,account,updated,name,note,size,tags\r\n")  # BOM, CRLF
    rows = list(csv.reader(io.StringIO(raw.removeprefix("\ufeff"), newline="")))
    assert rows == [
        ["psid", "account", "updated", "name", "note", "size", "tags"],
        [ZOE, "default", "2026-01-01T00:00:00Z", 'Zoë, "Z"', "", "-3", '["a", "b"]'],
        [
            MALLORY,
            "default",
            "2026-01-01T00:01:00Z",
            '\'=HYPERLINK("http://x","hi")',
            "'@x",
            "",
            "",
        ],
    ]


async def test_list_is_a_table_with_variables_cut_to_fit_and_no_terminal_control(
    config: Path, store: SQLiteStore
) -> None:
    await remember(store, ZOE, 1_767_225_600.0, name="Zoë\x1b[31m", size=42)
    await remember(store, MALLORY, 1_767_225_660.0, essay="x" * 100)
    await store.save_session(
        Session(key="chat", account_id="default", psid="chat-local", updated_at=time.time())
    )
    listed = await sessions(config, "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [
        "PSID              ACCOUNT  UPDATED (UTC)     VARIABLES",
        f'{ZOE}  default  2026-01-01 00:00  name="Zoë\\u001b[31m", size=42',
        f'{MALLORY}  default  2026-01-01 00:01  essay="{"x" * 52}…',
        "(1 session of `runtime chat` left out; --include-local shows it)",
    ]
    assert "\x1b" not in listed.stdout


async def test_an_account_of_its_own_and_an_unknown_one(config: Path, store: SQLiteStore) -> None:
    assert (await sessions(config, "list", "--account", "default")).stdout == "no sessions\n"
    await remember(store, ZOE, 1_767_225_600.0, name="Zoë")
    exported = await sessions(config, "export", "--account", "default")
    assert [r["psid"] for r in json.loads(exported.stdout)] == [ZOE]
    unknown = await sessions(config, "export", "--account", "shop")
    assert unknown.returncode == 1
    assert unknown.stderr == (
        "runtime sessions export: no account 'shop' in the config; it has: default\n"
    )
    assert unknown.stdout == ""


@pytest.fixture
def memory_config(config: Path) -> Path:
    text = config.read_text().replace("flows:", "state: { backend: 'memory' }, flows:")
    config.write_text(text)
    return config


async def test_the_memory_backend_is_refused_as_out_of_reach(memory_config: Path) -> None:
    refused = await sessions(memory_config, "list")
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        "runtime sessions list: state.backend 'memory' lives inside the server process, out of "
    )
