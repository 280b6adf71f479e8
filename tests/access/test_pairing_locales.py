"""The pairing reply and the approval confirmation in the stranger's language: a real server
under dmPolicy "pairing", the fake Graph API's User Profile API giving (or not) the stranger's
`locale`, and `runtime pair approve` reading it where the server keeps it."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from runtime.commands.pair import run_pair_command
from runtime.config.load import load_config
from runtime.pairing import PairAction
from tests.access.conftest import STRANGER, bot_config, code_in, pair, said
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import running
from tests.messenger.conftest import APP_SECRET, single_page, write_bot

BY_LOCALE = (
    '{ default: "Ask Anna to approve {{ code }}.",'
    ' fr: "Demandez à Anna d\'approuver {{ code }}.",'
    ' es: ["Pide a Anna que apruebe {{ code }}.", "Anna debe aprobar {{ code }}."] }'
)
APPROVED_BY_LOCALE = '{ default: "You are in!", fr: "C\'est bon, {{ account.name }} vous répond." }'
FLOWS = """{
  flows: {
    welcome: {
      triggers: [{ keywords: ["hi"] }],
      steps: [{ text: { default: "Welcome!", fr: "Bienvenue !" } }],
    },
  },
}
"""


def profile_calls(graph: FakeGraphAPI) -> list[str]:
    """The `fields` of each User Profile API call for the stranger."""
    return [call.query["fields"] for call in graph.calls(STRANGER, method="GET")]


async def pairing_reply(tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI) -> str:
    """The reply a stranger's first message gets from a bot whose pairing message is
    written by locale."""
    config = bot_config(tmp_path, "pairing", pairingMessage=BY_LOCALE)
    async with running(config, env=env) as server:
        await server.post(said("hi", psid=STRANGER), secret=APP_SECRET)
        [reply] = await graph.wait_for(1, psid=STRANGER)
    return reply.text or ""


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ({"locale": "fr_FR"}, "Demandez à Anna d'approuver {code}."),
        ({"locale": "fr_CA"}, "Demandez à Anna d'approuver {code}."),
        ({"locale": "de_DE"}, "Ask Anna to approve {code}."),
        ({}, "Ask Anna to approve {code}."),
    ],
)
async def test_a_stranger_gets_the_pairing_message_of_their_profile_locale(
    tmp_path: Path,
    env: dict[str, str],
    graph: FakeGraphAPI,
    profile: dict[str, str],
    expected: str,
) -> None:
    graph.people[STRANGER] = {"first_name": "Ada", **profile}
    text = await pairing_reply(tmp_path, env, graph)
    assert text == expected.format(code=code_in(text))
    assert profile_calls(graph) == ["locale"]  # only what choosing the language needs


async def test_a_locale_with_variations_gets_one_of_them(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    graph.people[STRANGER] = {"locale": "es_LA"}
    text = await pairing_reply(tmp_path, env, graph)
    code = code_in(text)
    assert text in {f"Pide a Anna que apruebe {code}.", f"Anna debe aprobar {code}."}


async def test_a_stranger_meta_has_no_profile_for_gets_the_default(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    graph.error_next(100, subcode=2018218, message="No profile available", endpoint=STRANGER)
    text = await pairing_reply(tmp_path, env, graph)
    assert text == f"Ask Anna to approve {code_in(text)}."


async def test_meta_answering_late_does_not_hold_the_code_back(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    """The lookup's 2 seconds are all the pairing reply waits: then it goes in `default`."""
    graph.people[STRANGER] = {"locale": "fr_FR"}
    graph.reply_next_to(STRANGER, delay=5)
    text = await pairing_reply(tmp_path, env, graph)
    assert text == f"Ask Anna to approve {code_in(text)}."


async def test_without_the_locale_permission_the_default_goes_and_the_owner_is_told(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="runtime.people")
    graph.unpermitted = {"locale"}
    graph.people[STRANGER] = {"locale": "fr_FR"}
    text = await pairing_reply(tmp_path, env, graph)
    assert text == f"Ask Anna to approve {code_in(text)}."
    assert "pages_user_locale" in caplog.text


async def test_a_pairing_message_in_one_language_asks_no_profile(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    graph.people[STRANGER] = {"locale": "fr_FR"}
    config = bot_config(tmp_path, "pairing", pairingMessage='["Code: {{ code }}", "{{ code }}"]')
    async with running(config, env=env) as server:
        await server.post(said("hi", psid=STRANGER), secret=APP_SECRET)
        [reply] = await graph.wait_for(1, psid=STRANGER)
    code = code_in(reply.text)
    assert reply.text in {f"Code: {code}", code}
    assert profile_calls(graph) == []


async def test_once_approved_the_stranger_is_answered_in_the_same_language(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    graph.people[STRANGER] = {"locale": "fr_FR"}
    keys = {
        "dmPolicy": '"pairing"',
        "name": '"Anna"',
        "pairingMessage": BY_LOCALE,
        "approvedMessage": APPROVED_BY_LOCALE,
    }
    config = write_bot(tmp_path, single_page(**keys), flows=FLOWS)
    async with running(config, env=env) as server:
        await server.post(said("hi", psid=STRANGER), secret=APP_SECRET)
        [reply] = await graph.wait_for(1, psid=STRANGER)
        code = code_in(reply.text)
        assert reply.text == f"Demandez à Anna d'approuver {code}."
        approved = await pair(config, "approve", "messenger", code)
        assert approved.returncode == 0, approved.stderr
        confirmation = (await graph.wait_for(2, psid=STRANGER))[1]
        assert confirmation.text == "C'est bon, Anna vous répond."
        await server.post(said("hi", psid=STRANGER), secret=APP_SECRET)
        welcome = (await graph.wait_for(3, psid=STRANGER))[2]
    assert welcome.text == "Bienvenue !"
    assert profile_calls(graph) == ["locale"]  # the pairing reply's lookup served the turn


async def test_an_approval_confirmation_by_locale_alone_is_sent_in_the_stranger_s_language(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    """The built-in pairing reply is English, but the confirmation is written by locale: the
    server looks the strangers' locales up all the same, for `runtime pair approve`. A
    locale the text has no entry for gets `default`."""
    german = "2000000000000103"
    graph.people[STRANGER] = {"locale": "fr_FR"}
    graph.people[german] = {"locale": "de_DE"}
    config = bot_config(tmp_path, "pairing", name='"Anna"', approvedMessage=APPROVED_BY_LOCALE)
    async with running(config, env=env) as server:
        for psid in (STRANGER, german):
            await server.post(said("hi", psid=psid), secret=APP_SECRET)
        codes = [
            code_in((await graph.wait_for(1, psid=psid))[0].text) for psid in (STRANGER, german)
        ]
        config_now = load_config(config).config
        for code in codes:  # the command's own code, in this process: no interpreter to start
            await run_pair_command(config_now, PairAction.APPROVE, argument=code, now=time.time())
        server.app.ctx.runtime.worker.poll_now()  # as the emulator's Approve: no 1 s poll wait
        french = (await graph.wait_for(2, psid=STRANGER))[1]
        default = (await graph.wait_for(2, psid=german))[1]
    assert (french.text, default.text) == ("C'est bon, Anna vous répond.", "You are in!")
    assert [call.query["fields"] for call in graph.calls(german, method="GET")] == ["locale"]
