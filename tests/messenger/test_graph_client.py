"""GraphClient: every kind of call the runtime makes, against the fake Graph API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runtime.config.load import load_config
from runtime.config.model import Account, GraphSettings
from runtime.errors import GraphUnavailableError, PermanentSendError, TokenError
from runtime.messenger.endpoints import MESSAGE_ATTACHMENTS, MESSENGER_PROFILE
from runtime.messenger.graph import GraphClient, Upload
from tests.fakes.graph_api import FakeGraphAPI
from tests.messenger.conftest import TOKEN, single_page, write_bot


def client_settings(tmp_path: Path, env: dict[str, str]) -> GraphSettings:
    return load_config(tmp_path / "config.json5", env=env).config.graph


@pytest.fixture
async def client_and_account(
    tmp_path: Path, env: dict[str, str]
) -> AsyncIterator[tuple[GraphClient, Account]]:
    config = load_config(write_bot(tmp_path, single_page()), env=env).config
    async with GraphClient(config.graph, pools=1) as client:
        yield client, next(iter(config.accounts.values()))


async def test_get_sends_the_query_and_the_token_and_reads_the_answer(
    client_and_account: tuple[GraphClient, Account], graph: FakeGraphAPI
) -> None:
    client, account = client_and_account
    graph.people["4001"] = {"first_name": "Ada", "last_name": "Lovelace", "locale": "en_GB"}
    answer = await client.get(account, "4001", {"fields": "first_name,locale"})
    assert answer == {"first_name": "Ada", "locale": "en_GB"}
    [call] = graph.calls("4001")
    assert (call.method, call.token) == ("GET", TOKEN)


async def test_post_and_delete_carry_json_bodies(
    client_and_account: tuple[GraphClient, Account], graph: FakeGraphAPI
) -> None:
    client, account = client_and_account
    await client.post(account, MESSENGER_PROFILE, {"get_started": {"payload": "GO"}})
    assert graph.page_profiles[TOKEN] == {"get_started": {"payload": "GO"}}
    answer = await client.delete(account, MESSENGER_PROFILE, {"fields": ["get_started"]})
    assert answer == {"result": "success"}
    assert graph.page_profiles[TOKEN] == {}
    assert [c.method for c in graph.calls(MESSENGER_PROFILE)] == ["POST", "DELETE"]


async def test_an_upload_is_a_multipart_form_with_the_file(
    client_and_account: tuple[GraphClient, Account], graph: FakeGraphAPI
) -> None:
    client, account = client_and_account
    picture = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    answer = await client.upload(
        account,
        MESSAGE_ATTACHMENTS,
        {"message": '{"attachment":{"type":"image","payload":{"is_reusable":true}}}'},
        Upload("filedata", "logo.png", "image/png", picture),
    )
    assert answer["attachment_id"]
    [call] = graph.calls(MESSAGE_ATTACHMENTS)
    assert call.files == {"filedata": picture}
    assert call.json["message"]["attachment"]["payload"] == {"is_reusable": True}


async def test_errors_are_mapped_and_never_carry_the_token(
    client_and_account: tuple[GraphClient, Account],
    graph: FakeGraphAPI,
    tmp_path: Path,
    env: dict[str, str],
) -> None:
    client, account = client_and_account
    graph.error_next(190, endpoint=MESSENGER_PROFILE, message="Error validating access token")
    with pytest.raises(TokenError) as expired:
        await client.get(account, MESSENGER_PROFILE, {"fields": "greeting"})
    graph.error_next(100, endpoint="4002", subcode=2018218, message="No profile available")
    with pytest.raises(PermanentSendError) as unavailable:
        await client.get(account, "4002", {"fields": "first_name"})
    graph.refuse()  # a new connection is refused (one kept alive would still be served)
    async with GraphClient(client_settings(tmp_path, env), pools=1) as fresh:
        with pytest.raises(GraphUnavailableError) as down:
            await fresh.get(account, "4003", {"fields": "first_name"})
    for error in (expired.value, unavailable.value, down.value):
        assert TOKEN not in str(error)
    assert unavailable.value.subcode == 2018218
