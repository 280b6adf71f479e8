"""The emulator's API against `runtime emulator`: a person's taps and texts go through the real
pipeline as signed webhooks, and the bot's Send API calls come back as their events."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from runtime.emulator.settings import emulator_token
from tests.emulator.conftest import Page, messages, new_psid, replied, texts
from tests.fakes.webhooks import encode, signed_headers, text

PAGE_INBOX = "263902037430900"


def test_bot_info_gives_each_account_and_its_profile_in_the_persons_locale(page: Page) -> None:
    info = page.client.get("/emulator/api/bot").json()
    accounts = {account["id"]: account for account in info["accounts"]}
    assert set(accounts) == {"default", "club"}
    acme = accounts["default"]
    assert acme["name"] == "Acme"
    assert acme["webhook"] == "/webhook/messenger/default"
    assert accounts["club"]["page_id"] == "100000000000777"
    assert accounts["club"]["dm_policy"] == "pairing"
    assert acme["profile"] == {
        "get_started": "GET_STARTED",
        "greeting": "Hi {{user_first_name}}!",
        "ice_breakers": [{"question": "How much?", "payload": "PRICING"}],
        "persistent_menu": [
            {"type": "postback", "title": "Pricing", "payload": "PRICING"},
            {"type": "web_url", "title": "Our website", "url": "https://example.com"},
        ],
        "composer_input_disabled": False,
    }
    french = page.client.get("/emulator/api/bot", params={"locale": "fr_FR"}).json()
    assert french["accounts"][0]["profile"]["greeting"] == "Salut {{user_first_name}} !"
    german = page.client.get("/emulator/api/bot", params={"locale": "de_DE"}).json()
    assert german["accounts"][0]["profile"]["greeting"] == "Hi {{user_first_name}}!"


def test_a_text_is_seen_typed_and_answered_with_quick_replies_by_the_persons_name(
    page: Page,
) -> None:
    psid = new_psid()
    named = page.post(
        "person", account="default", psid=psid, first_name="Ada", last_name="Lovelace"
    )
    assert named.json() == {"ok": True}
    sent = page.send(psid, text="hi")
    assert sent["status"] == 200
    assert sent["mid"].startswith("m_")
    events = page.wait_for(psid, replied())
    actions = [event["action"] for event in events if event["kind"] == "sender_action"]
    assert actions[:2] == ["mark_seen", "typing_on"]
    reply = messages(events)[0]
    assert reply["text"] == "Hi Ada! What do you need?"
    assert reply["quick_replies"] == [
        {"content_type": "text", "title": "Pricing", "payload": "PRICING"}
    ]
    assert [event["seq"] for event in events] == sorted({event["seq"] for event in events})


def test_get_started_then_a_quick_reply_tap_go_to_their_flows(page: Page) -> None:
    psid = new_psid()
    page.send(psid, postback={"title": "Get Started", "payload": "GET_STARTED"})
    first = page.wait_for(psid, replied())
    assert texts(first) == ["Hi there! What do you need?"]
    page.send(psid, quick_reply={"title": "Pricing", "payload": "PRICING"})
    then = page.wait_for(psid, replied(), after=first[-1]["seq"])
    template = messages(then)[0]["attachment"]["payload"]
    assert template["template_type"] == "button"
    assert template["text"] == "Plans start at 9.90 EUR."
    assert template["buttons"] == [{"type": "postback", "title": "Back", "payload": "GET_STARTED"}]


def test_two_people_at_once_each_get_their_own_answers(page: Page) -> None:
    ada, bob = new_psid(), new_psid()
    with ThreadPoolExecutor(2) as pool:
        waits = [pool.submit(page.wait_for, psid, replied()) for psid in (ada, bob)]
        page.send(ada, text="tea")
        page.send(bob, text="coffee")
        got = [wait.result() for wait in waits]
    assert texts(got[0]) == ["You said: tea"]
    assert texts(got[1]) == ["You said: coffee"]


def test_reset_forgets_the_persons_session_and_events(page: Page) -> None:
    psid = new_psid()
    page.send(psid, text="order")
    asked = page.wait_for(psid, replied())
    assert texts(asked) == ["Which size?"]
    assert page.post("reset", account="default", psid=psid).json() == {"ok": True}
    assert page.events(psid)["events"] == []
    page.send(psid, text="large")
    after = page.wait_for(psid, replied())
    assert texts(after) == ["You said: large"]  # not "One large coming up."


def test_under_pairing_the_code_then_approval_then_an_answer(page: Page) -> None:
    psid = new_psid()
    refused = page.post("approve", account="club", psid=psid).json()
    assert refused["ok"] is False
    assert "no pending pairing request" in refused["error"]
    page.send(psid, account="club", text="hi")
    coded = page.wait_for(psid, replied(), account="club")
    code = coded[-1]["pairing_code"]
    assert code in texts(coded)[0]
    assert page.post("approve", account="club", psid=psid).json()["ok"] is True
    confirmed = page.wait_for(psid, replied(), account="club", after=coded[-1]["seq"])
    assert texts(confirmed) == ["You're approved! Say hi to start."]
    page.send(psid, account="club", text="hi")
    answered = page.wait_for(psid, replied(), account="club", after=confirmed[-1]["seq"])
    assert texts(answered) == ["Hi there! What do you need?"]


def test_the_webhook_checks_the_signature_the_emulator_signs_with(page: Page) -> None:
    psid = new_psid()
    raw = encode(text("hi", psid=psid, page_id="100000000000000"))
    path = "/webhook/messenger/default"
    wrong = page.client.post(path, content=raw, headers=signed_headers(raw, "not-the-secret"))
    unsigned = page.client.post(path, content=raw, headers=signed_headers(raw, None))
    assert (wrong.status_code, unsigned.status_code) == (403, 403)
    assert page.send(psid, text="hi")["status"] == 200  # signed with the app secret it checks
    assert texts(page.wait_for(psid, replied())) == ["Hi there! What do you need?"]


def test_a_handover_and_an_uploaded_picture_reach_the_page(page: Page) -> None:
    psid = new_psid()
    page.send(psid, attachment={"type": "image", "url": "/emulator/static/none.png"})
    pictured = page.wait_for(psid, replied())
    payload = messages(pictured)[0]["attachment"]["payload"]
    media = page.client.get(payload["url"])
    assert payload["url"] == f"/emulator/api/media/{payload['attachment_id']}"
    assert media.headers["content-type"] == "image/png"
    assert media.content.startswith(b"\x89PNG")
    page.send(psid, text="human")
    events = page.wait_for(
        psid, lambda seen: any(e["kind"] == "handover" for e in seen), after=pictured[-1]["seq"]
    )
    handover = next(event for event in events if event["kind"] == "handover")
    assert handover["action"] == "pass_thread_control"
    assert handover["target_app_id"] == PAGE_INBOX
    assert handover["metadata"] == "asked for a human"


def test_a_send_api_call_with_the_pages_token_reaches_the_person_and_no_other_does(
    emulator: str, page: Page
) -> None:
    psid = new_psid()
    url = f"{emulator}/emulator/graph/v27.0/me/messages"
    body = {"recipient": {"id": psid}, "message": {"text": "Sent by hand"}}
    wrong = httpx.post(url, params={"access_token": "EAAG-someone-elses"}, json=body)
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == 190
    token = emulator_token("default").reveal()
    sent = httpx.post(url, params={"access_token": token}, json=body)
    assert sent.json()["recipient_id"] == psid
    events = page.wait_for(psid, replied())
    assert messages(events) == [{"text": "Sent by hand"}]
    assert events[0]["mid"] == sent.json()["message_id"]


def test_a_request_the_api_cannot_act_on_says_why(page: Page) -> None:
    psid = new_psid()
    unknown = page.post("send", account="shop", psid=psid, text="hi")
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "no account 'shop' here; the accounts are default, club"}
    both = page.post("send", account="default", psid=psid, text="hi", read=True)
    assert both.status_code == 400
    assert "exactly one of" in both.json()["error"]
    bad_psid = page.post("reset", account="default", psid="ada")
    assert bad_psid.status_code == 400
    assert "psid" in bad_psid.json()["error"]


def test_the_page_is_served(page: Page) -> None:
    answer = page.client.get("/emulator")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
