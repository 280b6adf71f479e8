"""The person's profile in replies, through a running server: signed webhooks in, the fake
Graph API's User Profile API (`graph.people`) asked, replies out."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.access.conftest import drained
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import RunningApp, running
from tests.fakes.webhooks import PSID, text
from tests.messenger.conftest import APP_SECRET, TOKEN, single_page, write_bot

GREETING = """{
  flows: {
    welcome: {
      triggers: [{ keywords: ["hi"] }],
      steps: [{ text: "Hi {{ user.first_name or 'there' }}!" }],
    },
    fallback: { steps: [{ text: "You said: {{ message.text }}" }] },
  },
}
"""
NO_PROFILE = GREETING.replace("{{ user.first_name or 'there' }}", "there")
OTHER = "2000000000000002"


def bot(tmp_path: Path, flows: str = GREETING) -> Path:
    return write_bot(tmp_path, single_page(senderActions="false"), flows=flows)


async def say(server: RunningApp, graph: FakeGraphAPI, words: str, psid: str = PSID) -> str:
    """Send one message and wait for the bot's reply to it; its text."""
    before = len(graph.messages(psid))
    assert (await server.post(text(words, psid=psid), secret=APP_SECRET)).status_code == 200
    replies = await graph.wait_for(before + 1, psid=psid)
    return replies[before].text or ""


def profile_calls(graph: FakeGraphAPI, psid: str = PSID) -> list[dict[str, str]]:
    """The User Profile API calls for `psid`: their query strings."""
    return [call.query for call in graph.calls(psid, method="GET")]


async def test_the_reply_greets_the_person_by_the_name_meta_gives(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    graph.people[PSID] = {"first_name": "Ada", "last_name": "Lovelace", "locale": "en_GB"}
    async with running(bot(tmp_path), env=env) as server:
        assert await say(server, graph, "hi") == "Hi Ada!"
    [query] = profile_calls(graph)
    assert query["fields"] == "first_name"  # only what the templates use
    assert query["access_token"] == TOKEN  # the page's token, as every Graph call


async def test_a_persons_later_messages_ask_meta_nothing_more(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    graph.people[PSID] = {"first_name": "Ada"}
    graph.people[OTHER] = {"first_name": "Grace"}
    async with running(bot(tmp_path), env=env) as server:
        assert await say(server, graph, "hi") == "Hi Ada!"
        assert await say(server, graph, "hi") == "Hi Ada!"
        assert await say(server, graph, "hello?") == "You said: hello?"
        assert await say(server, graph, "hi", psid=OTHER) == "Hi Grace!"
        assert await say(server, graph, "hi") == "Hi Ada!"
    assert len(profile_calls(graph)) == 1
    assert len(profile_calls(graph, OTHER)) == 1


async def test_two_messages_in_one_post_ask_once(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    graph.people[PSID] = {"first_name": "Ada"}
    graph.reply_next_to(PSID, delay=0.3)  # the first lookup is still on its way
    first, second = text("hi"), text("hi")
    first["entry"][0]["messaging"] += second["entry"][0]["messaging"]
    async with running(bot(tmp_path), env=env) as server:
        assert (await server.post(first, secret=APP_SECRET)).status_code == 200
        replies = await graph.wait_for(2, psid=PSID)
    assert [reply.text for reply in replies] == ["Hi Ada!", "Hi Ada!"]
    assert len(profile_calls(graph)) == 1


async def test_the_profile_kept_in_the_store_outlives_a_restart(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    graph.people[PSID] = {"first_name": "Ada"}
    config = bot(tmp_path)
    async with running(config, env=env) as server:
        assert await say(server, graph, "hi") == "Hi Ada!"
    graph.people[PSID] = {"first_name": "Changed"}  # Meta would say so; the cache does not ask
    async with running(config, env=env) as server:
        assert await say(server, graph, "hi") == "Hi Ada!"
    assert len(profile_calls(graph)) == 1


@pytest.mark.parametrize(
    "meta",
    [
        pytest.param({}, id="an empty answer"),
        pytest.param({"error": 2018218}, id="no profile (2018218)"),
        pytest.param({"error": 200}, id="a permission error"),
        pytest.param({"status": 500}, id="a server error"),
    ],
)
async def test_without_a_profile_the_reply_still_comes_without_the_name(
    tmp_path: Path,
    env: dict[str, str],
    graph: FakeGraphAPI,
    caplog: pytest.LogCaptureFixture,
    meta: dict[str, int],
) -> None:
    caplog.set_level(logging.INFO, logger="runtime")
    if "error" in meta:
        graph.error_next(meta["error"], message="No profile available", endpoint=PSID)
    elif "status" in meta:
        graph.error_next(2, status=500, message="An unexpected error", endpoint=PSID)
    async with running(bot(tmp_path), env=env) as server:
        assert await say(server, graph, "hi") == "Hi there!"
        assert await say(server, graph, "hi") == "Hi there!"  # remembered: not asked again
    assert len(profile_calls(graph)) == 1
    about = [r for r in caplog.records if r.name == "runtime.people" and PSID in r.getMessage()]
    assert len(about) == 1  # said once a person, not once a message
    assert "user.* fields are undefined" in about[0].getMessage()
    assert TOKEN not in caplog.text


async def test_meta_answering_in_5_seconds_does_not_hold_the_reply_back(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    graph.people[PSID] = {"first_name": "Ada"}
    graph.reply_next_to(PSID, delay=5)
    async with running(bot(tmp_path), env=env) as server:
        assert await say(server, graph, "hi") == "Hi there!"
        assert await say(server, graph, "hi") == "Hi there!"  # the failure is remembered
    assert len(profile_calls(graph)) == 1
    assert "was not known within 2 s" in caplog.text


async def test_a_bot_whose_templates_use_no_profile_field_never_asks(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    graph.people[PSID] = {"first_name": "Ada"}
    async with running(bot(tmp_path, NO_PROFILE), env=env) as server:
        assert await say(server, graph, "hi") == "Hi there!"
        assert await say(server, graph, "what?") == "You said: what?"
    assert profile_calls(graph) == []


async def test_only_the_fields_the_templates_use_are_asked(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    graph.people[PSID] = {"first_name": "Ada", "locale": "en_GB", "timezone": 1}
    flows = GREETING.replace(
        "Hi {{ user.first_name or 'there' }}!",
        "{% if user.locale == 'en_GB' %}Hello{% else %}Hi{% endif %} {{ user['first_name'] }}",
    )
    async with running(bot(tmp_path, flows), env=env) as server:
        assert await say(server, graph, "hi") == "Hello Ada"
    [query] = profile_calls(graph)
    assert sorted(query["fields"].split(",")) == ["first_name", "locale"]


async def test_a_stranger_waiting_for_pairing_is_not_looked_up(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    graph.people[PSID] = {"first_name": "Ada"}
    config = write_bot(tmp_path, single_page(dmPolicy='"pairing"'), flows=GREETING)
    async with running(config, env=env) as server:
        assert "pairing code" in await say(server, graph, "hi")
    assert profile_calls(graph) == []  # a lookup would have come before the reply


async def test_a_sender_the_allowlist_ignores_is_not_looked_up(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    graph.people[PSID] = {"first_name": "Ada"}
    config = write_bot(
        tmp_path, single_page(dmPolicy='"allowlist"', allowFrom=f'["{OTHER}"]'), flows=GREETING
    )
    async with running(config, env=env) as server:
        assert (await server.post(text("hi"), secret=APP_SECRET)).status_code == 200
        await drained(server)
    assert graph.messages() == []
    assert profile_calls(graph) == []
