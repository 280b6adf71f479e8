"""The person's language through a running server: signed webhooks in, the fake Graph API's
User Profile API (`graph.people`) asked for `locale`, the text of that locale out."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from runtime.build import build_bot
from runtime.messenger.graph import GraphClient
from runtime.people import RETRY_AFTER_FAILURE, UserProfiles
from runtime.store.memory import MemoryStore
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import running
from tests.fakes.webhooks import PSID, text
from tests.messenger.conftest import APP_SECRET, TOKEN
from tests.people.test_profile_in_replies import OTHER, bot, profile_calls, say

BY_LOCALE = """{
  flows: {
    welcome: {
      triggers: [{ keywords: ["hi"] }],
      steps: [{ text: { default: "Hello!", fr: "Salut !", fr_FR: "Bonjour !" } }],
    },
    switch: {
      triggers: [{ keywords: ["deutsch"] }],
      steps: [
        { text: { default: "Switching.", de: "Wird umgestellt.", fr: "On change." } },
        { set: { locale: "de_DE" } },
        { text: { default: "Done.", de: "Fertig.", fr: "C'est fait." } },
      ],
    },
    named: {
      triggers: [{ keywords: ["name"] }],
      steps: [{ text: { default: "Hi {{ user.first_name or 'there' }}!",
                        fr: "Salut {{ user.first_name or 'toi' }} !" } }],
    },
    fallback: { steps: [{ text: { default: "Sorry?", fr: "Pardon ?" } }] },
  },
}
"""
LOCALE_ONLY = """{
  flows: {
    welcome: {
      triggers: [{ keywords: ["hi"] }],
      steps: [{ text: { default: "Hello!", fr: "Salut !" } }],
    },
  },
}
"""
THIRD = "2000000000000003"


@pytest.mark.parametrize(
    ("profile", "reply"),
    [
        ({"locale": "fr_FR"}, "Bonjour !"),  # its own entry
        ({"locale": "fr_CA"}, "Salut !"),  # no fr_CA: the language's
        ({"locale": "de_DE"}, "Hello!"),  # no German at all: default
        ({}, "Hello!"),  # Meta gives no locale
    ],
)
async def test_the_profile_locale_picks_the_text(
    tmp_path: Path,
    env: dict[str, str],
    graph: FakeGraphAPI,
    profile: dict[str, str],
    reply: str,
) -> None:
    graph.people[PSID] = {"first_name": "Ada", **profile}
    async with running(bot(tmp_path, BY_LOCALE), env=env) as server:
        assert await say(server, graph, "hi") == reply
        assert await say(server, graph, "hmm") == ("Pardon ?" if reply != "Hello!" else "Sorry?")
    # asked once, with the one field the texts need (and the name a template uses)
    assert [call["fields"] for call in profile_calls(graph)] == ["first_name,locale"]


async def test_a_person_meta_has_no_profile_for_reads_the_default(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    graph.error_next(100, subcode=2018218, message="No profile available", endpoint=PSID)
    async with running(bot(tmp_path, BY_LOCALE), env=env) as server:
        assert await say(server, graph, "hi") == "Hello!"


async def test_vars_locale_set_by_a_flow_wins_over_the_profile_from_the_next_step_on(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    graph.people[PSID] = {"locale": "fr_FR"}
    async with running(bot(tmp_path, BY_LOCALE), env=env) as server:
        assert await say(server, graph, "hi") == "Bonjour !"
        before = len(graph.messages(PSID))
        await server.post(text("deutsch"), secret=APP_SECRET)
        replies = await graph.wait_for(before + 2, psid=PSID)
        # the step before the `set` spoke the profile's language, the one after the flow's
        assert [m.text for m in replies[before:]] == ["On change.", "Fertig."]
        assert await say(server, graph, "hi") == "Hello!"  # no `de` entry: default, not fr
        assert await say(server, graph, "deutsch") == "Wird umgestellt."


async def test_a_missing_locale_permission_costs_the_language_not_the_name(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="runtime")
    graph.unpermitted = {"locale"}  # the page never granted pages_user_locale
    graph.people[PSID] = {"first_name": "Ada", "locale": "fr_FR"}
    graph.people[OTHER] = {"first_name": "Grace", "locale": "fr_FR"}
    graph.people[THIRD] = {"first_name": "Alan", "locale": "en_GB"}
    async with running(bot(tmp_path, BY_LOCALE), env=env) as server:
        assert await say(server, graph, "name") == "Hi Ada!"
        assert await say(server, graph, "name", psid=OTHER) == "Hi Grace!"
        assert await say(server, graph, "name", psid=THIRD) == "Hi Alan!"
        assert await say(server, graph, "name") == "Hi Ada!"
    # the first lookup failed whole and was asked again without locale; the account's next
    # lookups leave it out from the start (no failed call first)
    assert [call["fields"] for call in profile_calls(graph)] == ["first_name,locale", "first_name"]
    assert [call["fields"] for call in profile_calls(graph, OTHER)] == ["first_name"]
    assert [call["fields"] for call in profile_calls(graph, THIRD)] == ["first_name"]
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name == "runtime.people" and r.levelno >= logging.WARNING
    ]
    assert len(warnings) == 1, warnings  # one for the account, not one a person
    assert "pages_user_locale" in warnings[0]
    assert "Page Settings > Advanced Messaging > Info About People" in warnings[0]
    assert "default language" in warnings[0]
    assert TOKEN not in caplog.text


async def test_a_refusal_that_is_not_about_the_locale_is_not_blamed_on_it(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """Meta refuses the whole profile (the app lacks profile access altogether): asking
    without locale fails too, so the account keeps asking for it, and no permission of the
    locale is named."""
    caplog.set_level(logging.INFO, logger="runtime")
    graph.unpermitted = {"locale", "first_name"}
    graph.people[PSID] = {"first_name": "Ada", "locale": "fr_FR"}
    graph.people[OTHER] = {"first_name": "Grace", "locale": "fr_FR"}
    async with running(bot(tmp_path, BY_LOCALE), env=env) as server:
        assert await say(server, graph, "name") == "Hi there!"
        graph.unpermitted = set()  # granted meanwhile: the next person reads their language
        assert await say(server, graph, "name", psid=OTHER) == "Salut Grace !"
    assert [call["fields"] for call in profile_calls(graph)] == ["first_name,locale", "first_name"]
    assert [call["fields"] for call in profile_calls(graph, OTHER)] == ["first_name,locale"]
    assert "pages_user_locale" not in caplog.text
    assert "cannot read the profile of" in caplog.text


async def test_a_bot_using_only_the_locale_without_its_permission_asks_for_the_id(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """With nothing else to ask, `id` tells a missing permission from a person out of reach."""
    caplog.set_level(logging.WARNING, logger="runtime")
    graph.unpermitted = {"locale"}
    graph.people[PSID] = {"locale": "fr_FR"}
    graph.people[OTHER] = {"locale": "fr_FR"}
    async with running(bot(tmp_path, LOCALE_ONLY), env=env) as server:
        assert await say(server, graph, "hi") == "Hello!"
        assert await say(server, graph, "hi", psid=OTHER) == "Hello!"
    assert [call["fields"] for call in profile_calls(graph)] == ["locale", "id"]
    assert profile_calls(graph, OTHER) == []  # nothing left worth asking
    assert "pages_user_locale" in caplog.text


async def test_the_locale_is_asked_again_once_the_retry_period_is_over(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    """UserProfiles alone, `now` moved by hand: the permission granted meanwhile counts after
    RETRY_AFTER_FAILURE, even for a person whose name is kept longer than that."""
    compiled = build_bot(bot(tmp_path, BY_LOCALE), env=env).bot
    account = compiled.accounts["default"]
    wanted = {"first_name", "locale"}
    graph.unpermitted = {"locale"}
    graph.people[PSID] = {"first_name": "Ada", "locale": "fr_FR"}
    graph.people[OTHER] = {"first_name": "Grace", "locale": "fr_FR"}
    store = MemoryStore()
    await store.open()
    async with GraphClient(compiled.config.graph, pools=1) as client:
        profiles = UserProfiles(store, client)
        assert await profiles.fields(account, PSID, wanted, now=0.0) == {"first_name": "Ada"}
        early = RETRY_AFTER_FAILURE - 1
        assert await profiles.fields(account, OTHER, wanted, now=early) == {"first_name": "Grace"}
        graph.unpermitted = set()  # the page granted pages_user_locale
        assert await profiles.fields(account, PSID, wanted, now=early) == {"first_name": "Ada"}
        later = RETRY_AFTER_FAILURE
        assert await profiles.fields(account, PSID, wanted, now=later) == graph.people[PSID]
        assert await profiles.fields(account, OTHER, wanted, now=later) == graph.people[OTHER]
        await profiles.close()
    await store.close()
    assert [call["fields"] for call in profile_calls(graph)] == [
        "first_name,locale",
        "first_name",
        "first_name,locale",
    ]
