"""UserProfiles on its own: the real GraphClient against the fake Graph API, a real store,
and `now` moved by hand to see what is kept, and for how long."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from runtime.build import build_bot
from runtime.config.model import Account
from runtime.messenger.graph import GraphClient
from runtime.people import (
    CACHE_KIND,
    LOOKUP_SECONDS,
    PROFILE_PIC_SECONDS,
    RETRY_AFTER_FAILURE,
    UserProfiles,
)
from runtime.store.memory import MemoryStore
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.webhooks import PSID
from tests.messenger.conftest import single_page, write_bot

DAY = 24 * 3600.0
PIC = "https://scontent.xx.fbcdn.net/v/t1.0-1/p200x200/1.jpg?oe=5F2B1C3D"


class CountingStore(MemoryStore):
    """The memory store, counting the cache reads (what a lookup costs the store), each
    taking `read_delay` seconds (a store, or a server, slow for a moment)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.read_delay = 0.0

    async def cache_get(self, kind: str, key: str, *, now: float) -> str | None:
        self.reads += 1
        await asyncio.sleep(self.read_delay)
        return await super().cache_get(kind, key, now=now)


@dataclass
class Setup:
    account: Account
    store: CountingStore
    client: GraphClient
    graph: FakeGraphAPI
    made: list[UserProfiles] = field(default_factory=list)

    def profiles(self, *, within: float = LOOKUP_SECONDS) -> UserProfiles:
        """A fresh UserProfiles on the same store: a new process, or a restart."""
        self.made.append(UserProfiles(self.store, self.client, within=within))
        return self.made[-1]

    def asked(self) -> list[str]:
        return [call.query["fields"] for call in self.graph.calls(PSID, method="GET")]


@pytest.fixture
async def setup(tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI) -> AsyncIterator[Setup]:
    bot = build_bot(write_bot(tmp_path, single_page()), env=env).bot
    store = CountingStore()
    await store.open()
    async with GraphClient(bot.config.graph, pools=1) as client:
        setup = Setup(next(iter(bot.accounts.values())), store, client, graph)
        yield setup
        for profiles in setup.made:
            await profiles.close()
    await store.close()


async def test_a_known_person_costs_no_store_read_and_no_graph_call(setup: Setup) -> None:
    setup.graph.people[PSID] = {"first_name": "Ada"}
    profiles = setup.profiles()
    assert await profiles.fields(setup.account, PSID, {"first_name"}, now=0.0) == {
        "first_name": "Ada"
    }
    reads = setup.store.reads
    for second in range(1, 4):
        found = await profiles.fields(setup.account, PSID, {"first_name"}, now=float(second))
        assert found == {"first_name": "Ada"}
    assert setup.store.reads == reads
    assert setup.asked() == ["first_name"]


async def test_two_lookups_of_one_person_at_once_share_one_call(setup: Setup) -> None:
    setup.graph.people[PSID] = {"first_name": "Ada"}
    setup.graph.reply_next_to(PSID, delay=0.3)
    profiles = setup.profiles()
    found = await asyncio.gather(
        *(profiles.fields(setup.account, PSID, {"first_name"}, now=0.0) for _ in range(3))
    )
    assert found == [{"first_name": "Ada"}] * 3
    assert setup.asked() == ["first_name"]


async def test_a_lookup_the_reply_stopped_waiting_for_serves_the_next_messages(
    setup: Setup,
) -> None:
    setup.graph.people[PSID] = {"first_name": "Ada"}
    setup.store.read_delay = 0.5
    profiles = setup.profiles(within=0.2)
    assert await profiles.fields(setup.account, PSID, {"first_name"}, now=0.0) == {}
    # the lookup goes on; meanwhile the person's messages do not wait for it
    assert await profiles.fields(setup.account, PSID, {"first_name"}, now=1.0) == {}
    deadline = time.monotonic() + 10
    found: Mapping[str, object] = {}
    while not found and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
        found = await profiles.fields(setup.account, PSID, {"first_name"}, now=2.0)
    assert found == {"first_name": "Ada"}
    assert setup.asked() == ["first_name"]


async def test_the_profile_is_asked_again_once_its_ttl_is_over(setup: Setup) -> None:
    setup.graph.people[PSID] = {"first_name": "Ada"}
    profiles = setup.profiles()
    await profiles.fields(setup.account, PSID, {"first_name"}, now=0.0)
    setup.graph.people[PSID] = {"first_name": "Ada Lovelace"}
    ttl = setup.account.user_profile_ttl
    assert await profiles.fields(setup.account, PSID, {"first_name"}, now=ttl - 1) == {
        "first_name": "Ada"
    }
    assert await profiles.fields(setup.account, PSID, {"first_name"}, now=ttl + 1) == {
        "first_name": "Ada Lovelace"
    }
    assert len(setup.asked()) == 2


async def test_a_failure_is_asked_again_after_ten_minutes(setup: Setup) -> None:
    setup.graph.people[PSID] = {"first_name": "Ada"}
    setup.graph.error_next(2, status=500, message="An unexpected error", endpoint=PSID)
    profiles = setup.profiles()
    assert await profiles.fields(setup.account, PSID, {"first_name"}, now=0.0) == {}
    late = RETRY_AFTER_FAILURE - 1
    assert await profiles.fields(setup.account, PSID, {"first_name"}, now=late) == {}
    # another process (or a restart) sees the failure in the store too
    assert await setup.profiles().fields(setup.account, PSID, {"first_name"}, now=late) == {}
    assert len(setup.asked()) == 1
    after = RETRY_AFTER_FAILURE + 1
    assert await profiles.fields(setup.account, PSID, {"first_name"}, now=after) == {
        "first_name": "Ada"
    }


async def test_no_profile_is_an_answer_kept_for_the_ttl(setup: Setup) -> None:
    setup.graph.error_next(2018218, message="No profile available for this user", endpoint=PSID)
    profiles = setup.profiles()
    assert await profiles.fields(setup.account, PSID, {"first_name"}, now=0.0) == {}
    assert await profiles.fields(setup.account, PSID, {"first_name"}, now=DAY / 2) == {}
    assert len(setup.asked()) == 1


async def test_a_field_the_templates_start_using_is_asked_for(setup: Setup) -> None:
    """After a reload that added `user.locale`: what is known does not answer it."""
    setup.graph.people[PSID] = {"first_name": "Ada", "locale": "en_GB"}
    profiles = setup.profiles()
    await profiles.fields(setup.account, PSID, {"first_name"}, now=0.0)
    found = await profiles.fields(setup.account, PSID, {"first_name", "locale"}, now=1.0)
    assert found == {"first_name": "Ada", "locale": "en_GB"}
    assert setup.asked() == ["first_name", "first_name,locale"]


async def test_a_profile_pic_url_is_never_stored_and_kept_an_hour_in_memory(setup: Setup) -> None:
    setup.graph.people[PSID] = {"first_name": "Ada", "profile_pic": PIC}
    wanted = {"first_name", "profile_pic"}
    profiles = setup.profiles()
    assert await profiles.fields(setup.account, PSID, wanted, now=0.0) == {
        "first_name": "Ada",
        "profile_pic": PIC,
    }
    kept = await setup.store.cache_get(CACHE_KIND, f"{setup.account.id}:{PSID}", now=1.0)
    assert kept is not None
    assert PIC not in kept
    assert json.loads(kept)["fields"] == {"first_name": "Ada"}
    await profiles.fields(setup.account, PSID, wanted, now=PROFILE_PIC_SECONDS - 1)
    assert len(setup.asked()) == 1
    await profiles.fields(setup.account, PSID, wanted, now=PROFILE_PIC_SECONDS + 1)
    assert len(setup.asked()) == 2
    # a restart knows the name from the store, and asks for the picture again
    restarted = setup.profiles()
    assert await restarted.fields(setup.account, PSID, {"first_name"}, now=2.0) == {
        "first_name": "Ada"
    }
    assert len(setup.asked()) == 2
    await restarted.fields(setup.account, PSID, wanted, now=3.0)
    assert len(setup.asked()) == 3


async def test_a_store_that_fails_costs_the_cache_not_the_profile(setup: Setup) -> None:
    setup.graph.people[PSID] = {"first_name": "Ada"}
    profiles = setup.profiles()
    await setup.store.close()  # every store call now raises StoreError
    assert await profiles.fields(setup.account, PSID, {"first_name"}, now=0.0) == {
        "first_name": "Ada"
    }
    await setup.store.open()
