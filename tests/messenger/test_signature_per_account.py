"""Signatures are per account: each entry of a POST must be signed with its own page's secret.

A real server on a socket, two accounts with different App Secrets and page ids, bodies
signed with real HMACs, the fake Graph API recording what is sent.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import RunningApp, running
from tests.fakes.webhooks import PAGE_ID, text
from tests.messenger.conftest import APP_SECRET, TOKEN, write_bot

SUPPORT_PAGE = "100000000000002"
SUPPORT_TOKEN = "EAAH-page-token-support-0987654321"
SUPPORT_SECRET = "app-secret-support-fedcba"
UNKNOWN_PAGE = "100000000000099"
HELP = "Help is on the way."


def two_pages(support_secret: str | None = SUPPORT_SECRET) -> str:
    """`main` (PAGE_ID, APP_SECRET) and `support` (SUPPORT_PAGE, its own secret or none)."""
    secret = f'appSecret: "{support_secret}", ' if support_secret else ""
    return f"""verifyToken: "v", dmPolicy: "open", accounts: {{
        main: {{ pageAccessToken: "{TOKEN}", appSecret: "{APP_SECRET}", pageId: "{PAGE_ID}" }},
        support: {{ pageAccessToken: "{SUPPORT_TOKEN}", {secret}pageId: "{SUPPORT_PAGE}" }} }}"""


def batched(*bodies: dict[str, Any]) -> dict[str, Any]:
    """One POST holding the entries of several bodies, as Meta batches them."""
    return {"object": "page", "entry": [entry for data in bodies for entry in data["entry"]]}


async def inbox_size(server: RunningApp) -> int:
    store = server.app.ctx.runtime.store
    assert store is not None
    count: int = await store.count_inbound()
    return count


async def answered_only_after(
    server: RunningApp, graph: FakeGraphAPI, *markers: tuple[str, str, str]
) -> None:
    """Post a "help" from each (psid, page, secret) and check that only those were answered.

    Each person's events are processed in order (per account and PSID): had an earlier
    event of the same person been kept, its reply would have come first.
    """
    for psid, page, secret in markers:
        answer = await server.post(text("help", psid=psid, page_id=page), secret=secret)
        assert answer.status_code == 200
    await graph.wait_for(len(markers))
    assert sorted((m.psid, m.text) for m in graph.messages()) == sorted(
        (psid, HELP) for psid, _, _ in markers
    )


@pytest.fixture
async def server(tmp_path: Path, env: dict[str, str]) -> AsyncIterator[RunningApp]:
    async with running(write_bot(tmp_path, two_pages()), env=env) as app:
        yield app


async def test_an_entry_signed_with_another_accounts_secret_gets_403_and_nothing_is_kept(
    server: RunningApp, graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    forged = batched(
        text("hi", psid="3001", page_id=PAGE_ID), text("hi", psid="3002", page_id=SUPPORT_PAGE)
    )
    answer = await server.post(forged, secret=APP_SECRET)
    assert answer.status_code == 403
    assert await inbox_size(server) == 0
    assert graph.attempts() == []
    # not even main's own entry, signed with main's secret, was kept
    await answered_only_after(
        server, graph, ("3001", PAGE_ID, APP_SECRET), ("3002", SUPPORT_PAGE, SUPPORT_SECRET)
    )
    [line] = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert "account 'support'" in line
    assert SUPPORT_PAGE in line
    assert APP_SECRET not in caplog.text
    assert SUPPORT_SECRET not in caplog.text


async def test_the_same_entries_each_signed_with_its_own_secret_are_both_answered(
    server: RunningApp, graph: FakeGraphAPI
) -> None:
    main = text("help", psid="3001", page_id=PAGE_ID)
    support = text("help", psid="3002", page_id=SUPPORT_PAGE)
    assert (await server.post(main, secret=APP_SECRET)).status_code == 200
    assert (await server.post(support, secret=SUPPORT_SECRET)).status_code == 200
    replies = await graph.wait_for(2)
    tokens = {reply.psid: reply.token for reply in replies}
    assert tokens == {"3001": TOKEN, "3002": SUPPORT_TOKEN}


async def test_an_entry_for_an_unknown_page_beside_a_signed_one_is_ignored(
    server: RunningApp, graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    data = batched(
        text("hi", psid="3003", page_id=UNKNOWN_PAGE), text("help", psid="3001", page_id=PAGE_ID)
    )
    assert (await server.post(data, secret=APP_SECRET)).status_code == 200
    [reply] = await graph.wait_for(1)
    assert (reply.psid, reply.text) == ("3001", HELP)
    assert f"entry for page {UNKNOWN_PAGE}, which no account has: ignored" in caplog.text
    # the unknown page's person got nothing: their next message is the first one answered
    await answered_only_after(server, graph, ("3001", PAGE_ID, APP_SECRET))


async def test_a_body_no_configured_secret_signed_is_refused_even_for_unknown_pages(
    server: RunningApp, graph: FakeGraphAPI
) -> None:
    data = text("hi", psid="3003", page_id=UNKNOWN_PAGE)
    assert (await server.post(data, secret="some-other-apps-secret")).status_code == 403
    assert (await server.post(data, secret=None)).status_code == 403
    # signed by a configured secret, the same body is taken and its entry ignored
    assert (await server.post(data, secret=SUPPORT_SECRET)).status_code == 200
    assert await inbox_size(server) == 0


async def test_the_account_path_takes_only_its_own_secret(
    server: RunningApp, graph: FakeGraphAPI
) -> None:
    path = "/webhook/messenger/support"
    data = text("hi", psid="3002", page_id=SUPPORT_PAGE)
    assert (await server.post(data, secret=APP_SECRET, path=path)).status_code == 403
    assert (await server.post(data, secret=None, path=path)).status_code == 403
    assert graph.attempts() == []
    await answered_only_after(server, graph, ("3002", SUPPORT_PAGE, SUPPORT_SECRET))


async def test_an_account_without_app_secret_takes_its_entries_unsigned_and_only_those(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    async with running(write_bot(tmp_path, two_pages(support_secret=None)), env=env) as server:
        # support has no secret: its entry is taken unsigned, or signed with anything
        support = text("help", psid="3002", page_id=SUPPORT_PAGE)
        assert (await server.post(support, secret=None)).status_code == 200
        # main has one: an unsigned entry for main refuses the whole POST
        mixed = batched(
            text("hi", psid="3001", page_id=PAGE_ID),
            text("hi", psid="3002", page_id=SUPPORT_PAGE),
        )
        assert (await server.post(mixed, secret=None)).status_code == 403
        # signed with main's secret, both entries are taken
        both = batched(
            text("help", psid="3001", page_id=PAGE_ID),
            text("help", psid="3004", page_id=SUPPORT_PAGE),
        )
        assert (await server.post(both, secret=APP_SECRET)).status_code == 200
        # unsigned, with only an unknown page's entry: nothing vouches for it
        stray = text("hi", psid="3003", page_id=UNKNOWN_PAGE)
        assert (await server.post(stray, secret=None)).status_code == 403
        replies = await graph.wait_for(3)
        assert sorted((reply.psid, reply.text) for reply in replies) == [
            ("3001", HELP),
            ("3002", HELP),
            ("3004", HELP),
        ]
