"""Meta's standby and messaging_handovers events as envelopes, and what each does to a session."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.dialog.effects import PAGE_INBOX_APP_ID
from runtime.envelope import Envelope, EventKind, ThreadAction, ThreadControl
from runtime.handover import TAKE_METADATA, thread_change
from runtime.messenger.webhook import PageEvent, page_events, parse_body, to_envelope
from runtime.session import Handover, Session, session_key
from tests.fakes.graph_api import FAKE_APP_ID
from tests.fakes.webhooks import PSID, encode
from tests.handover.conftest import passed_back, standby, standby_postback, standby_text, taken

KEY = session_key("main", PSID)


def envelopes(data: dict[str, Any]) -> list[Envelope | str]:
    found: list[Envelope | str] = []
    for item in page_events(parse_body(encode(data))):
        assert isinstance(item, PageEvent)
        found.append(
            to_envelope(
                item.event,
                account_id="default",
                session_key=lambda psid: session_key("main", psid),
                standby=item.standby,
            )
        )
    return found


def test_standby_events_are_kept_marked_and_a_standby_postback_has_no_payload() -> None:
    message, postback = envelopes(standby(standby_text("hi"), standby_postback("Talk to us")))
    assert isinstance(message, Envelope)
    assert isinstance(postback, Envelope)
    assert (message.kind, message.text, message.standby) == (EventKind.MESSAGE, "hi", True)
    assert (postback.kind, postback.postback_title, postback.payload) == (
        EventKind.POSTBACK,
        "Talk to us",
        None,
    )
    assert postback.standby


def test_the_three_handover_events_become_thread_control_envelopes() -> None:
    [back] = envelopes(passed_back())
    [took] = envelopes(taken())
    [asked] = envelopes(
        {
            "object": "page",
            "entry": [
                {
                    "id": "1",
                    "messaging": [
                        {
                            "sender": {"id": PSID},
                            "recipient": {"id": "1"},
                            "timestamp": 1,
                            "request_thread_control": {
                                "requested_owner_app_id": int(PAGE_INBOX_APP_ID),
                                "metadata": "please",
                            },
                        }
                    ],
                }
            ],
        }
    )
    assert isinstance(back, Envelope)
    assert back.kind is EventKind.THREAD_CONTROL
    assert back.thread_control == ThreadControl(
        action=ThreadAction.PASS,
        new_owner_app_id=FAKE_APP_ID,
        previous_owner_app_id=PAGE_INBOX_APP_ID,
        metadata="done here",
    )
    assert isinstance(took, Envelope)
    assert took.thread_control is not None
    assert took.thread_control.action is ThreadAction.TAKE
    assert isinstance(asked, Envelope)
    assert asked.thread_control == ThreadControl(
        action=ThreadAction.REQUEST, requested_owner_app_id=PAGE_INBOX_APP_ID, metadata="please"
    )


def test_a_handover_event_in_standby_is_between_other_apps_and_skipped() -> None:
    event = passed_back()["entry"][0]["messaging"][0]
    [skipped] = envelopes(standby(event))
    assert skipped == "a pass_thread_control event in standby (between other apps)"


def control(action: ThreadAction, **fields: Any) -> Envelope:
    return Envelope(
        account_id="default",
        psid=PSID,
        session_key=KEY,
        kind=EventKind.THREAD_CONTROL,
        timestamp=1.0,
        thread_control=ThreadControl(action=action, **fields),
    )


WITH_HUMAN = Session(
    key=KEY,
    account_id="default",
    psid=PSID,
    vars={"email": "ada@example.com"},
    handover=Handover(app_id=PAGE_INBOX_APP_ID, since=10.0, note="order"),
)


def test_the_thread_passed_back_ends_the_handover_and_keeps_the_variables() -> None:
    event = control(
        ThreadAction.PASS, previous_owner_app_id=PAGE_INBOX_APP_ID, new_owner_app_id=FAKE_APP_ID
    )
    change = thread_change(WITH_HUMAN, event, now=20.0)
    assert change.session is not None
    assert change.session.handover is None
    assert change.session.vars == {"email": "ada@example.com"}
    assert change.line == (
        f"handover ended: account=default psid={PSID}; thread passed back from Page Inbox,"
        " the bot answers"
    )


def test_a_human_taking_the_thread_starts_a_handover_and_drops_the_waiting_question() -> None:
    asking = Session(key=KEY, account_id="default", psid=PSID, flow="signup", step=0)
    event = control(
        ThreadAction.TAKE,
        previous_owner_app_id=FAKE_APP_ID,
        new_owner_app_id=PAGE_INBOX_APP_ID,
        metadata="mine now",
    )
    change = thread_change(asking, event, now=30.0)
    assert change.session is not None
    assert change.session.handover == Handover(
        app_id=PAGE_INBOX_APP_ID, since=30.0, note="mine now"
    )
    assert (change.session.flow, change.session.step) == (None, None)


def test_a_take_of_someone_the_bot_never_saw_starts_their_session_with_a_human() -> None:
    event = control(ThreadAction.TAKE, new_owner_app_id=PAGE_INBOX_APP_ID)
    change = thread_change(None, event, now=30.0)
    assert change.session is not None
    assert change.session.key == KEY
    assert change.session.handover is not None


@pytest.mark.parametrize(
    ("session", "event"),
    [
        # told of the bot's own pass: the thread went to the human, it did not come back
        (WITH_HUMAN, control(ThreadAction.PASS, new_owner_app_id=PAGE_INBOX_APP_ID)),
        # told of the bot's own `runtime handover take`
        (None, control(ThreadAction.TAKE, new_owner_app_id=FAKE_APP_ID, metadata=TAKE_METADATA)),
        # passed to a bot that has the thread already
        (None, control(ThreadAction.PASS, new_owner_app_id=FAKE_APP_ID)),
        # another app asks: the bot keeps the thread
        (None, control(ThreadAction.REQUEST, requested_owner_app_id=PAGE_INBOX_APP_ID)),
    ],
    ids=["own pass", "own take", "passed while the bot has it", "request"],
)
def test_events_that_change_nothing_save_nothing(session: Session | None, event: Envelope) -> None:
    change = thread_change(session, event, now=40.0)
    assert change.session is None
    assert f"psid={PSID}" in change.line
