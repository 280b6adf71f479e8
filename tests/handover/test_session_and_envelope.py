"""A handover in the session and a thread-control event in the inbox: both kept as JSON."""

from __future__ import annotations

import json

import pytest

from runtime.envelope import Envelope, EventKind, ThreadAction, ThreadControl
from runtime.errors import StoreError
from runtime.session import Handover, Session

KEY = "agent:main:messenger:dm:2000000000000001"


def test_a_handover_survives_the_store_as_json() -> None:
    handover = Handover(app_id="263902037430900", since=1700000000.5, note="wants an order")
    session = Session(key=KEY, account_id="default", psid="2000000000000001", handover=handover)
    assert Session.from_json(session.to_json()) == session


def test_a_session_saved_before_handovers_existed_loads_with_none() -> None:
    old = {
        "key": KEY,
        "account_id": "default",
        "psid": "2000000000000001",
        "vars": {"email": "me@example.com"},
        "flow": None,
        "step": None,
        "retries": 0,
        "updated_at": 1.0,
    }
    session = Session.from_json(json.dumps(old))
    assert session.handover is None
    assert session.vars == {"email": "me@example.com"}
    # and one without a handover is written as before: no new key in every session
    assert "handover" not in json.loads(session.to_json())


@pytest.mark.parametrize("stored", ["yes", {"app_id": "1"}, {"app_id": "1", "since": "now"}])
def test_an_unreadable_handover_is_a_store_error_naming_it(stored: object) -> None:
    text = json.dumps({"key": KEY, "account_id": "default", "psid": "1", "handover": stored})
    with pytest.raises(StoreError, match="a stored session cannot be read"):
        Session.from_json(text)


def test_a_thread_control_event_and_a_standby_message_survive_the_inbox() -> None:
    control = Envelope(
        account_id="default",
        psid="2000000000000001",
        session_key=KEY,
        kind=EventKind.THREAD_CONTROL,
        timestamp=1.0,
        thread_control=ThreadControl(
            action=ThreadAction.PASS,
            new_owner_app_id="1100000000000001",
            previous_owner_app_id="263902037430900",
            metadata="back to you",
        ),
    )
    standby = Envelope(
        account_id="default",
        psid="2000000000000001",
        session_key=KEY,
        kind=EventKind.POSTBACK,
        timestamp=2.0,
        postback_title="Talk to a human",
        standby=True,
    )
    for envelope in (control, standby):
        assert Envelope.from_json(envelope.to_json()) == envelope
    assert not control.from_person  # Meta's, about them: it opens no 24-hour window
    assert standby.from_person
