"""The quickstart speaks the person's language through the real pipeline: signed webhooks
into a running server on a copy of the quickstart, the User Profile API (the fake Graph
API's `people`) asked for the person's locale, the replies out to the Send API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.access.conftest import code_in, pair, said
from tests.fakes.graph_api import FakeGraphAPI, Recorded
from tests.fakes.server import RunningApp, running
from tests.testing.quickstart import copy_quickstart

AMELIE = "2000000000000201"  # her Facebook language is French
BOB = "2000000000000202"  # his is English
APP_SECRET = "quickstart-app-secret"  # as config.json5 writes it
MENU_FR = ["Tarifs", "Nos produits", "S'inscrire", "Parler à quelqu'un"]
MENU_EN = ["Pricing", "Our products", "Sign up", "Talk to a human"]


async def send(
    server: RunningApp, graph: FakeGraphAPI, words: str, psid: str, replies: int
) -> list[Recorded]:
    """`words` from `psid`, signed as Meta signs it; the `replies` messages it gets back."""
    before = len(graph.messages(psid))
    posted = await server.post(said(words, psid=psid), secret=APP_SECRET)
    assert posted.status_code == 200
    return (await graph.wait_for(before + replies, psid=psid))[before:]


async def admitted(
    server: RunningApp, graph: FakeGraphAPI, config: Path, psid: str
) -> tuple[str, str]:
    """The quickstart's dmPolicy is "pairing": a stranger gets a code, the owner approves it
    with `runtime pair approve`, and the server sends the confirmation. Both texts."""
    [pairing] = await send(server, graph, "bonjour", psid, 1)
    approved = await pair(config, "approve", "messenger", code_in(pairing.text))
    assert approved.returncode == 0, approved.stderr
    confirmation = (await graph.wait_for(2, psid=psid))[1]
    return pairing.text, confirmation.text


def quick_replies(message: Recorded) -> list[str]:
    replies: list[dict[str, Any]] = message.json["message"].get("quick_replies", [])
    return [reply["title"] for reply in replies]


def profile_fields(graph: FakeGraphAPI, psid: str) -> set[str]:
    """The fields the server asked the User Profile API for, for `psid`."""
    return {
        field
        for call in graph.calls(psid, method="GET")
        for field in call.query["fields"].split(",")
    }


async def test_a_person_whose_facebook_speaks_french_is_answered_in_french(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    config = copy_quickstart(tmp_path, tests=False)
    graph.people[AMELIE] = {"first_name": "Amélie", "locale": "fr_FR"}
    graph.people[BOB] = {"first_name": "Bob", "locale": "en_US"}
    async with running(config, env=env) as server:
        amelie_pairing, amelie_approved = await admitted(server, graph, config, AMELIE)
        bob_pairing, bob_approved = await admitted(server, graph, config, BOB)
        [french] = await send(server, graph, "bonjour", AMELIE, 1)
        [english] = await send(server, graph, "hi", BOB, 1)
        fallback, _ = await send(server, graph, "n'importe quoi", AMELIE, 2)
    # a stranger's pairing reply and the owner's confirmation are in their language too
    assert amelie_pairing.startswith("Bonjour ! Ce bot ne parle qu'aux personnes")
    assert amelie_approved == "C'est bon, vous êtes accepté ! Dites bonjour pour commencer."
    assert bob_pairing.startswith("Hi! This bot only talks to people its owner has approved.")
    assert bob_approved == "You're approved! Say hi to start."
    assert french.text == "Bonjour Amélie ! De quoi avez-vous besoin ?"
    assert quick_replies(french) == MENU_FR
    assert english.text == "Hi Bob! What do you need?"
    assert quick_replies(english) == MENU_EN
    assert fallback.text == "Désolé, je n'ai pas compris."
    # the locale comes from the profile, asked with the name, once a person
    assert profile_fields(graph, AMELIE) == {"first_name", "locale"}
    assert len(graph.calls(AMELIE, method="GET")) == 1


async def test_typing_english_wins_over_a_french_profile_until_francais(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    config = copy_quickstart(tmp_path, tests=False)
    graph.people[AMELIE] = {"first_name": "Amélie", "locale": "fr_FR"}
    async with running(config, env=env) as server:
        await admitted(server, graph, config, AMELIE)
        switched = await send(server, graph, "english", AMELIE, 2)
        [menu] = await send(server, graph, "bonjour", AMELIE, 1)
        back = await send(server, graph, "français", AMELIE, 2)
    assert [message.text for message in switched] == [
        "OK, I'll write in English from now on.",
        "Hi Amélie! What do you need?",
    ]
    assert menu.text == "Hi Amélie! What do you need?"
    assert quick_replies(menu) == MENU_EN
    assert [message.text for message in back] == [
        "C'est noté : je vous écris en français désormais.",
        "Bonjour Amélie ! De quoi avez-vous besoin ?",
    ]
    assert quick_replies(back[1]) == MENU_FR


async def test_a_person_meta_gives_no_locale_reads_english(
    tmp_path: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    # Meta leaves `locale` out when the page lacks the pages_user_locale permission
    config = copy_quickstart(tmp_path, tests=False)
    graph.people[AMELIE] = {"first_name": "Amélie"}
    async with running(config, env=env) as server:
        await admitted(server, graph, config, AMELIE)
        [menu] = await send(server, graph, "bonjour", AMELIE, 1)
    assert menu.text == "Hi Amélie! What do you need?"
    assert quick_replies(menu) == MENU_EN
