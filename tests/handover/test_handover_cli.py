"""`runtime handover list` and `take`, real processes beside a real server on one SQLite."""

from __future__ import annotations

import json
from pathlib import Path

from runtime.dialog.effects import PAGE_INBOX_APP_ID
from runtime.messenger.endpoints import PASS_THREAD_CONTROL, TAKE_THREAD_CONTROL
from tests.access.conftest import drained
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import running
from tests.fakes.webhooks import PSID
from tests.handover.conftest import (
    WELCOME,
    calls_to,
    handover_cli,
    human_bot,
    said,
    standby,
    standby_text,
)
from tests.messenger.conftest import APP_SECRET

STRANGER = "2000000000000999"  # never wrote
SLOW_ANSWER = 3.0  # seconds Meta takes to answer a pass, longer than `runtime handover take`


async def test_list_shows_who_is_with_a_human_since_when_and_the_note(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    config = human_bot(tmp_path)
    empty = await handover_cli(config, "list")
    assert (empty.returncode, empty.stdout) == (
        0,
        "nobody is with a human: the bot has every thread\n",
    )
    async with running(config, env=env) as server:
        for text in ("signup", "ada@example.com", "human"):
            await server.post(said(text), secret=APP_SECRET)
        await calls_to(graph, PASS_THREAD_CONTROL)
        await drained(server)
    listed = await handover_cli(config, "list")
    as_json = await handover_cli(config, "list", "--account", "default", "--json")
    header, row = listed.stdout.splitlines()
    assert header.split() == ["ACCOUNT", "PSID", "WITH", "SINCE", "NOTE"]
    assert row.split()[:4] == ["default", PSID, "Page", "Inbox"]
    assert row.endswith("ago  ada@example.com asked for a human")
    [item] = json.loads(as_json.stdout)
    assert item["account"] == "default"
    assert item["psid"] == PSID
    assert item["app_id"] == PAGE_INBOX_APP_ID
    assert item["with"] == "Page Inbox"
    assert item["note"] == "ada@example.com asked for a human"
    assert item["since"].endswith("+00:00")


async def test_take_queues_the_call_the_server_sends_and_the_bot_answers_again(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    config = human_bot(tmp_path)
    async with running(config, env=env) as server:
        await server.post(said("human"), secret=APP_SECRET)
        await calls_to(graph, PASS_THREAD_CONTROL)
        await drained(server)
        taken = await handover_cli(config, "take", PSID)
        assert taken.returncode == 0, taken.stderr
        assert taken.stdout.startswith(
            f"took the thread of {PSID} on account 'default' back from Page Inbox for "
        )
        assert taken.stdout.endswith(
            ": the running server sends take_thread_control, and the bot answers their next"
            " message\n"
        )
        [take] = await calls_to(graph, TAKE_THREAD_CONTROL)
        await server.post(said("hi"), secret=APP_SECRET)
        await graph.wait_for(2)
        await drained(server)
        after = await handover_cli(config, "list")
    assert take.json == {
        "recipient": {"id": PSID},
        "metadata": "taken back with runtime handover take",
    }
    assert graph.messages(PSID)[-1].text == WELCOME
    assert after.stdout == "nobody is with a human: the bot has every thread\n"


async def test_take_says_in_one_sentence_who_is_not_with_a_human(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    config = human_bot(tmp_path)
    async with running(config, env=env) as server:
        await server.post(said("hi"), secret=APP_SECRET)
        await graph.wait_for(1)
        await drained(server)
    nobody = await handover_cli(config, "take", PSID)
    on_account = await handover_cli(config, "take", PSID, "--account", "default")
    stranger = await handover_cli(config, "take", STRANGER, "--account", "default")
    unknown = await handover_cli(config, "take", PSID, "--account", "shop")
    assert (nobody.returncode, nobody.stdout) == (1, "")
    assert nobody.stderr == (
        f"runtime handover take: {PSID} is not with a human on any account: the bot has their"
        " thread; `runtime handover list` shows who is with a human\n"
    )
    assert on_account.stderr == (
        f"runtime handover take: {PSID} is not with a human on account 'default': the bot has"
        " their thread; `runtime handover list` shows who is with a human\n"
    )
    assert stranger.stderr == (
        f"runtime handover take: {STRANGER} has never talked to the bot on account 'default';"
        " `runtime handover list` shows who is with a human\n"
    )
    assert unknown.stderr == (
        "runtime handover take: no account 'shop' in the config; it has: default\n"
    )
    assert graph.calls(TAKE_THREAD_CONTROL) == []


async def test_take_waits_for_the_pass_still_on_its_way_and_standby_stays_unanswered(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    """Taken while Meta is still answering the pass: the take leaves once the pass is done,
    as a person's messages do."""
    config = human_bot(tmp_path)
    graph.reply_next_to(PASS_THREAD_CONTROL, delay=SLOW_ANSWER)
    async with running(config, env=env) as server:
        await server.post(said("human"), secret=APP_SECRET)
        [passed] = await calls_to(graph, PASS_THREAD_CONTROL)
        taken = await handover_cli(config, "take", PSID)
        assert taken.returncode == 0, taken.stderr
        [take] = await calls_to(graph, TAKE_THREAD_CONTROL)
        await server.post(standby(standby_text("thanks!")), secret=APP_SECRET)
        await drained(server)
    assert take.at >= passed.at + SLOW_ANSWER  # sent after the pass's answer, not beside it
    assert [r.text for r in graph.messages(PSID)] == [
        "OK! Someone from our team will answer you here soon."
    ]
