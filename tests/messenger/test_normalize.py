"""Webhook bodies to Envelopes: every event kind of the real-shaped samples."""

from __future__ import annotations

import pytest

from runtime.envelope import Envelope, EventKind
from runtime.errors import MalformedBodyError
from runtime.messenger.webhook import PageEvent, Skipped, page_events, parse_body, to_envelope
from runtime.session import session_key
from tests.fakes.webhooks import PSID, encode, sample


def envelopes(name: str) -> list[Envelope | str]:
    body = parse_body(encode(sample(name)))
    found: list[Envelope | str] = []
    for item in page_events(body):
        assert isinstance(item, PageEvent)
        found.append(
            to_envelope(item.event, account_id="main", session_key=lambda p: session_key("main", p))
        )
    return found


def only(name: str) -> Envelope:
    [envelope] = envelopes(name)
    assert isinstance(envelope, Envelope)
    return envelope


def test_a_text_message() -> None:
    envelope = only("text")
    assert envelope.kind is EventKind.MESSAGE
    assert (envelope.psid, envelope.text, envelope.account_id) == (PSID, envelope.text, "main")
    assert envelope.session_key == f"agent:main:messenger:dm:{PSID}"
    assert envelope.message_id
    assert envelope.timestamp == 1764000000.0


def test_a_quick_reply_carries_its_payload() -> None:
    envelope = only("quick_reply")
    assert (envelope.text, envelope.payload) == ("Pricing", "PRICING")


def test_a_postback_with_a_referral() -> None:
    envelope = only("get_started_referral")
    assert envelope.kind is EventKind.POSTBACK
    assert (envelope.payload, envelope.postback_title) == ("GET_STARTED", "Get Started")
    assert envelope.referral is not None
    assert envelope.referral["ref"] == "summer-promo"


def test_attachments_keep_their_urls_and_coordinates() -> None:
    [image] = only("image").attachments
    assert (image.type, image.url) == ("image", "https://scontent.example.net/v/t1/abc.jpg")
    [place] = only("location").attachments
    assert (place.type, place.latitude, place.longitude) == ("location", 48.8584, 2.2945)


def test_reply_to_referral_and_optin() -> None:
    assert only("reply_to").reply_to == "m_AAAA1"
    referral = only("referral")
    assert referral.kind is EventKind.REFERRAL
    assert referral.referral is not None
    optin = only("optin")
    assert optin.kind is EventKind.OPTIN
    assert optin.optin is not None
    assert optin.optin["notification_messages_token"] == "token-abc"


@pytest.mark.parametrize(
    ("name", "reason"),
    [("echo", "echo"), ("delivery", "delivery"), ("read", "read"), ("reaction", "reaction")],
)
def test_what_is_not_a_person_talking_is_skipped_with_a_reason(name: str, reason: str) -> None:
    [skipped] = envelopes(name)
    assert isinstance(skipped, str)
    assert reason in skipped


def test_a_batched_body_keeps_every_event_in_order() -> None:
    texts = [e.text or e.payload for e in envelopes("batched") if isinstance(e, Envelope)]
    assert texts == ["hi", "help", "PRICING"]


def test_an_envelope_survives_the_inbox_as_json() -> None:
    for name in ("text", "quick_reply", "get_started_referral", "image", "location", "optin"):
        envelope = only(name)
        assert Envelope.from_json(envelope.to_json()) == envelope


def test_changes_entries_are_skipped_and_standby_events_are_marked() -> None:
    body = {"object": "page", "entry": [{"id": "1", "standby": [{}]}, {"id": "2", "changes": []}]}
    standby, changes = page_events(body)
    assert isinstance(standby, PageEvent)
    assert standby.standby  # kept, never answered: tests/handover
    assert isinstance(changes, Skipped)
    assert changes.reason == "changes"


@pytest.mark.parametrize(
    "raw", [b"", b"null", b"[]", b'{"object":"page","entry":{}}', b"\xff\xfe", b"[" * 100000]
)
def test_malformed_bodies_are_refused_clearly(raw: bytes) -> None:
    with pytest.raises(MalformedBodyError):
        parse_body(raw)
