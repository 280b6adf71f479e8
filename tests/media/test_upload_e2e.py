"""A flow's image file through the real server: uploaded once per page and content, then
sent by its attachment id; upload failures are the message's failures."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from pathlib import Path

import pytest

from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import RunningApp, running
from tests.fakes.webhooks import PAGE_ID, PSID, text
from tests.media.conftest import LOGO, attachment_payloads, media_bot, png, uploads
from tests.messenger.conftest import APP_SECRET, TOKEN, single_page

SECOND_PAGE = "100000000000002"
SECOND_TOKEN = "EAAH-page-token-support-0987654321"
SECOND_SECRET = "app-secret-support-fedcba"


async def ask_logo(server: RunningApp, graph: FakeGraphAPI, psid: str = PSID) -> None:
    """Send "logo"; wait for the two answers: the image, then a text."""
    before = len(graph.messages(psid))
    assert (await server.post(text("logo", psid=psid), secret=APP_SECRET)).status_code == 200
    await graph.wait_for(before + 2, psid=psid)


async def dead_letters(server: RunningApp, count: int, within: float = 10.0) -> list[str]:
    """Wait until `count` messages are dead letters; their errors."""
    store = server.app.ctx.runtime.store
    deadline = time.monotonic() + within
    while True:
        letters = await store.list_dead_letters()
        if len(letters) >= count:
            return [letter.error for letter in letters]
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} dead letters, got {len(letters)}")
        await asyncio.sleep(0.02)


async def test_the_first_send_uploads_the_file_then_sends_its_attachment_id(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    async with running(media_bot(tmp_path), env=env) as server:
        await ask_logo(server, graph)
    [upload] = uploads(graph)
    assert upload.files == {"filedata": LOGO}
    assert upload.json["message"] == {
        "attachment": {"type": "image", "payload": {"is_reusable": True}}
    }
    assert upload.token == TOKEN
    message, words = graph.messages(PSID)
    assert words.text == "That is our logo."
    attachment_id = graph_answer_id(graph)
    # what Meta gets: the id, the quick replies; no trace of the file's path
    assert message.json["message"]["attachment"] == {
        "type": "image",
        "payload": {"attachment_id": attachment_id},
    }
    assert message.json["message"]["quick_replies"][0]["payload"] == "THANKS"
    assert str(tmp_path) not in json.dumps(message.json)


def graph_answer_id(graph: FakeGraphAPI) -> str:
    [(attachment_id, _token)] = graph.uploaded.items()
    return attachment_id


async def test_a_second_person_and_a_second_message_reuse_the_upload(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    async with running(media_bot(tmp_path), env=env) as server:
        await ask_logo(server, graph, "3001")
        await ask_logo(server, graph, "3002")
        await ask_logo(server, graph, "3001")
    assert len(uploads(graph)) == 1
    attachment_id = graph_answer_id(graph)
    assert attachment_payloads(graph) == [{"attachment_id": attachment_id}] * 3


async def test_ten_people_asking_at_once_make_one_upload(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    people = [f"40{number:02d}" for number in range(10)]
    graph.reply_next_to("me/message_attachments", delay=0.2)  # they all wait for it
    async with running(media_bot(tmp_path), env=env) as server:
        await asyncio.gather(
            *(server.post(text("logo", psid=psid), secret=APP_SECRET) for psid in people)
        )
        await graph.wait_for(20)
    assert len(uploads(graph)) == 1
    assert {psid: attachment_payloads(graph, psid) for psid in people} == {
        psid: [{"attachment_id": graph_answer_id(graph)}] for psid in people
    }


async def test_another_page_uploads_its_own(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    messenger = f"""verifyToken: "v", dmPolicy: "open", senderActions: false, accounts: {{
        main: {{ pageAccessToken: "{TOKEN}", appSecret: "{APP_SECRET}", pageId: "{PAGE_ID}" }},
        support: {{ pageAccessToken: "{SECOND_TOKEN}", appSecret: "{SECOND_SECRET}",
                   pageId: "{SECOND_PAGE}" }} }}"""
    async with running(media_bot(tmp_path, messenger), env=env) as server:
        await ask_logo(server, graph, "3001")
        other = text("logo", psid="3002", page_id=SECOND_PAGE)
        assert (await server.post(other, secret=SECOND_SECRET)).status_code == 200
        await graph.wait_for(2, psid="3002")
        await ask_logo(server, graph, "3003")
    assert [upload.token for upload in uploads(graph)] == [TOKEN, SECOND_TOKEN]
    by_token = {token: attachment_id for attachment_id, token in graph.uploaded.items()}
    sent = {
        m.psid: (m.token, m.json["message"]["attachment"]["payload"])
        for m in graph.messages()
        if m.text is None
    }
    assert sent == {
        "3001": (TOKEN, {"attachment_id": by_token[TOKEN]}),
        "3002": (SECOND_TOKEN, {"attachment_id": by_token[SECOND_TOKEN]}),
        "3003": (TOKEN, {"attachment_id": by_token[TOKEN]}),
    }


async def test_a_changed_file_is_uploaded_again_after_a_reload(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    async with running(media_bot(tmp_path), env=env) as server:
        await ask_logo(server, graph)
        version = (await server.get("/healthz")).json()["version"]
        (tmp_path / "media" / "logo.png").write_bytes(png(200, 30, 30))
        os.kill(os.getpid(), signal.SIGHUP)  # what `kill -HUP` does for the server
        deadline = time.monotonic() + 5
        while (await server.get("/healthz")).json()["version"] == version:
            assert time.monotonic() < deadline, "the new file content made no new version"
            await asyncio.sleep(0.02)
        await ask_logo(server, graph)
    assert [upload.files["filedata"] for upload in uploads(graph)] == [LOGO, png(200, 30, 30)]
    first, second = (upload_id for upload_id in graph.uploaded)
    assert attachment_payloads(graph) == [{"attachment_id": first}, {"attachment_id": second}]


async def test_saving_a_new_file_over_the_old_one_reloads_by_itself(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    async with running(media_bot(tmp_path), env=env) as server:
        await ask_logo(server, graph)
        version = (await server.get("/healthz")).json()["version"]
        (tmp_path / "media" / "logo.png").write_bytes(png(200, 30, 30))  # no flow file touched
        deadline = time.monotonic() + 10
        while (await server.get("/healthz")).json()["version"] == version:
            assert time.monotonic() < deadline, "saving the media file did not reload the bot"
            await asyncio.sleep(0.05)
        await ask_logo(server, graph)
    assert [upload.files["filedata"] for upload in uploads(graph)] == [LOGO, png(200, 30, 30)]


async def test_a_temporary_upload_failure_is_retried_and_the_message_then_goes(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    graph.error_next(2, status=500, message="temporary", endpoint="me/message_attachments")
    async with running(media_bot(tmp_path), env=env) as server:
        await ask_logo(server, graph)
        assert await server.app.ctx.runtime.store.list_dead_letters() == []
    assert [upload.status for upload in uploads(graph)] == [500, 200]
    assert attachment_payloads(graph) == [{"attachment_id": graph_answer_id(graph)}]


async def test_a_refused_upload_dead_letters_the_message_and_the_next_one_still_goes(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    graph.error_next(
        100,
        subcode=2018047,
        message="Upload attachment failure.",
        endpoint="me/message_attachments",
    )
    async with running(media_bot(tmp_path), env=env) as server:
        await server.post(text("logo"), secret=APP_SECRET)
        [error] = await dead_letters(server, 1)
        await server.post(text("hi"), secret=APP_SECRET)
        await graph.wait_for(2)
    logo = tmp_path / "media" / "logo.png"
    assert error.startswith(f"uploading {logo} failed: (#100)")
    assert "Upload attachment failure." in error
    assert [m.text for m in graph.messages()] == ["That is our logo.", "Hello!"]
    assert len(uploads(graph)) == 1  # refused for good: not tried again
    assert TOKEN not in caplog.text


async def test_a_file_gone_since_the_bot_started_dead_letters_the_message_naming_it(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    async with running(media_bot(tmp_path), env=env) as server:
        logo = tmp_path / "media" / "logo.png"
        logo.unlink()
        await server.post(text("logo"), secret=APP_SECRET)
        [error] = await dead_letters(server, 1)
        await graph.wait_for(1)
    assert error.startswith(f"the attachment file {logo} cannot be read: No such file")
    assert uploads(graph) == []
    assert [m.text for m in graph.messages()] == ["That is our logo."]


async def test_with_batches_off_the_file_goes_the_same_way(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    config = media_bot(tmp_path, single_page(senderActions="false", graphBatch="false"))
    async with running(config, env=env) as server:
        await ask_logo(server, graph, "3001")
        await ask_logo(server, graph, "3002")
    assert len(uploads(graph)) == 1
    assert {m.batch for m in graph.messages()} == {None}
    assert attachment_payloads(graph) == [{"attachment_id": graph_answer_id(graph)}] * 2


async def test_a_retried_upload_holds_back_the_persons_next_message_in_a_batch(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    graph.error_next(2, status=500, message="temporary", endpoint="me/message_attachments")
    async with running(media_bot(tmp_path, single_page()), env=env) as server:
        await ask_logo(server, graph)
    # mark_seen and typing_on went in the first batch; the image and the text after it
    # waited for the upload, in order
    sent = [m.sender_action or m.text or "[image]" for m in graph.all()]
    assert sent == ["mark_seen", "typing_on", "[image]", "That is our logo."]
    assert {m.batch for m in graph.all()} != {None}
    assert [upload.status for upload in uploads(graph)] == [500, 200]
