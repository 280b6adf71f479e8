"""AttachmentIds over the real Graph client, the fake Graph API and a real SQLite store:
how long an id is kept, where it is kept, and what a changed file does."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from runtime.bot import AttachmentStep, Bot
from runtime.build import build_bot
from runtime.dialog.messages import MediaAttachment
from runtime.media import ATTACHMENT_ID_TTL, AttachmentIds
from runtime.messenger.graph import GraphClient
from runtime.messenger.payloads import FileReference, file_reference, message_request
from runtime.store.sqlite import SQLiteStore
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.webhooks import PAGE_ID
from tests.media.conftest import LOGO, media_bot, png, uploads

DAY = 24 * 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "state.db")
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
def bot(tmp_path: Path, env: dict[str, str]) -> Bot:
    return build_bot(media_bot(tmp_path / "bot"), env=env).bot


def logo_reference(bot: Bot) -> FileReference:
    """The logo step's file as the outbox row names it."""
    step = bot.flows["logo"].steps[0]
    assert isinstance(step, AttachmentStep)
    body = message_request("3001", MediaAttachment(type=step.type, file=step.file))
    reference = file_reference(body)
    assert reference is not None
    return reference


async def test_an_id_is_kept_a_little_under_90_days_then_the_file_is_uploaded_again(
    bot: Bot, store: SQLiteStore, graph: FakeGraphAPI
) -> None:
    clock = Clock()
    account = bot.accounts["default"]
    async with GraphClient(bot.config.graph, pools=1) as client:
        ids = AttachmentIds(client, store, clock=clock)
        first = await ids.attachment_id(account, logo_reference(bot))
        clock.now += 89 * DAY - 60
        assert await ids.attachment_id(account, logo_reference(bot)) == first
        clock.now += 120
        second = await ids.attachment_id(account, logo_reference(bot))
    assert ATTACHMENT_ID_TTL < 90 * DAY
    assert second != first
    assert [upload.files["filedata"] for upload in uploads(graph)] == [LOGO, LOGO]


async def test_a_restarted_worker_finds_the_id_in_the_store_until_it_expires(
    bot: Bot, store: SQLiteStore, graph: FakeGraphAPI
) -> None:
    clock = Clock()
    account = bot.accounts["default"]
    async with GraphClient(bot.config.graph, pools=1) as client:
        first = await AttachmentIds(client, store, clock=clock).attachment_id(
            account, logo_reference(bot)
        )
        clock.now += 30 * DAY
        restarted = AttachmentIds(client, store, clock=clock)
        assert await restarted.attachment_id(account, logo_reference(bot)) == first
        assert len(uploads(graph)) == 1
        clock.now += 60 * DAY
        later = AttachmentIds(client, store, clock=clock)
        assert await later.attachment_id(account, logo_reference(bot)) != first
    assert len(uploads(graph)) == 2
    sha = hashlib.sha256(LOGO).hexdigest()
    kept = await store.cache_get("attachment", f"page {PAGE_ID}:{sha}", now=clock.now)
    assert kept is not None
    assert json.loads(kept)["attachment_id"] == [*graph.uploaded][-1]


async def test_a_file_changed_since_the_compile_sends_what_it_holds_now_uploaded_once(
    tmp_path: Path, bot: Bot, store: SQLiteStore, graph: FakeGraphAPI
) -> None:
    (tmp_path / "bot" / "media" / "logo.png").write_bytes(png(0, 0, 0))
    account = bot.accounts["default"]
    async with GraphClient(bot.config.graph, pools=1) as client:
        ids = AttachmentIds(client, store)
        first = await ids.attachment_id(account, logo_reference(bot))
        assert await ids.attachment_id(account, logo_reference(bot)) == first
    assert [upload.files["filedata"] for upload in uploads(graph)] == [png(0, 0, 0)]
    sha = hashlib.sha256(png(0, 0, 0)).hexdigest()
    assert await store.cache_get("attachment", f"page {PAGE_ID}:{sha}", now=0.0) is not None


async def test_an_account_pointed_at_another_page_uploads_for_that_page(
    bot: Bot, store: SQLiteStore, graph: FakeGraphAPI
) -> None:
    account = bot.accounts["default"]
    moved = replace(account, page_id="100000000000009")  # the same account, a new page
    async with GraphClient(bot.config.graph, pools=1) as client:
        first = await AttachmentIds(client, store).attachment_id(account, logo_reference(bot))
        again = await AttachmentIds(client, store).attachment_id(account, logo_reference(bot))
        other = await AttachmentIds(client, store).attachment_id(moved, logo_reference(bot))
    assert again == first  # the store kept the first page's id
    assert other != first
    assert len(uploads(graph)) == 2
