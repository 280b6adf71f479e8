"""The engine at an `http` step: it pauses with the request, and runs on with the result.

No network here: the engine is pure, and these tests play the caller's part, handing back
the HttpResult a real call would give (tests/http has the real calls).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from runtime.bot import Bot
from runtime.dialog.effects import HttpCall, HttpResult
from runtime.dialog.engine import MAX_CALLS, Turn, continue_turn, run_turn
from runtime.envelope import Envelope
from tests.dialog.conftest import MakeBot, notes_at, said
from tests.dialog.events import text

ORDER_FLOWS = """{ flows: {
  order: {
    triggers: [{ regex: "^order (?P<number>.+)$" }],
    steps: [
      { text: "Looking up {{ match.number }}..." },
      { http: { method: "POST", url: "https://api.example.com/orders/{{ match.number }}",
                headers: { Authorization: "Bearer ${ORDERS_TOKEN}", "X-Who": "{{ vars.who }}" },
                json: { number: "{{ match.number }}", count: "{{ 2 + 1 }}", note: "n {{ 1 }}" },
                save_as: "order", on_error: "order_down" } },
      { text: "Order {{ match.number }}: {{ vars.order.body.status }}" },
    ],
  },
  order_down: { steps: [{ text: "Our order desk is closed ({{ vars.order.error }})." }] },
  fallback: { steps: [{ text: "Sorry?" }] },
} }"""

OK = HttpResult(ok=True, status=200, body={"status": "shipped"})


def carry_on(bot: Bot, envelope: Envelope, turn: Turn, *results: HttpResult) -> Turn:
    """What every caller does: hand each call its result until the turn is done."""
    answers = iter(results)
    while turn.call is not None:
        turn = continue_turn(bot, envelope, turn, next(answers), now=2.0)
    return turn


def test_the_turn_pauses_at_the_http_step_with_the_request_rendered(make_bot: MakeBot) -> None:
    bot = make_bot(ORDER_FLOWS)
    turn = run_turn(bot, text("order A1"), None, now=1.0)
    assert said(turn) == ["Looking up A1..."]
    call = turn.call
    assert isinstance(call, HttpCall)
    assert call.method == "POST"
    assert call.url == "https://api.example.com/orders/A1"
    # the secret stays a reference: it is filled in as the request leaves, never in a Turn
    assert ("Authorization", "Bearer ${ORDERS_TOKEN}") in call.headers
    # a string that is one expression alone keeps its JSON type; other strings are text
    assert call.json == {"number": "A1", "count": 3, "note": "n 1"}
    assert call.timeout == 5.0
    assert call.where.endswith("flows/main.json5: flows.order.steps.1")


def test_continue_runs_the_rest_with_the_answer_saved(make_bot: MakeBot) -> None:
    bot = make_bot(ORDER_FLOWS)
    envelope = text("order A1")
    turn = carry_on(bot, envelope, run_turn(bot, envelope, None, now=1.0), OK)
    # the messages before the call come first, and `match` lives on across the call
    assert said(turn) == ["Looking up A1...", "Order A1: shipped"]
    assert turn.flow == "order"
    assert turn.session.vars["order"] == {
        "ok": True,
        "status": 200,
        "body": {"status": "shipped"},
        "error": None,
    }
    assert turn.session.flow is None  # nothing waits once the turn is done


def test_a_failed_call_runs_the_on_error_flow(make_bot: MakeBot) -> None:
    bot = make_bot(ORDER_FLOWS)
    envelope = text("order A1")
    down = HttpResult(ok=False, error="no answer within 5 s")
    turn = carry_on(bot, envelope, run_turn(bot, envelope, None, now=1.0), down)
    assert said(turn) == ["Looking up A1...", "Our order desk is closed (no answer within 5 s)."]


def test_without_on_error_the_flow_goes_on_and_when_reads_ok(make_bot: MakeBot) -> None:
    bot = make_bot(
        """{ flows: { check: { triggers: [{ keywords: ["check"] }], steps: [
          { http: { url: "https://status.example.com/", save_as: "status" } },
          { text: "All good", when: "vars.status.ok" },
          { text: "Down: {{ vars.status.status }}", when: "not vars.status.ok" },
        ] } } }"""
    )
    envelope = text("check")
    turn = run_turn(bot, envelope, None, now=1.0)
    assert turn.call is not None
    assert turn.call.method == "GET"
    assert turn.call.json is None
    failed = HttpResult(ok=False, status=503, error="the API answered 503 Service Unavailable")
    assert said(carry_on(bot, envelope, turn, failed)) == ["Down: 503"]
    assert said(carry_on(bot, envelope, turn, OK)) == ["All good"]


def test_what_a_person_types_is_one_piece_of_the_url(make_bot: MakeBot) -> None:
    bot = make_bot(ORDER_FLOWS)
    turn = run_turn(bot, text("order ../admin?all=1#x @evil.example/${ORDERS_TOKEN}"), None, now=1)
    assert turn.call is not None
    assert turn.call.url == (
        "https://api.example.com/orders/"
        "..%2Fadmin%3Fall%3D1%23x%20%40evil.example%2F%24%7BORDERS_TOKEN%7D"
    )
    # in the body and headers, a `${` the person typed is escaped: it never names a secret
    assert turn.call.json["number"] == "../admin?all=1#x @evil.example/$${ORDERS_TOKEN}"  # type: ignore[index]


def test_the_idempotency_key_is_the_same_when_the_event_is_replayed(make_bot: MakeBot) -> None:
    bot = make_bot(ORDER_FLOWS)
    first = run_turn(bot, text("order A1"), None, now=1.0)
    replayed = run_turn(bot, text("order A1"), None, now=99.0)  # a crash replays the event
    later = run_turn(bot, replace(text("order A1"), message_id="m_2"), None, now=1.0)
    assert first.call is not None
    assert replayed.call is not None
    assert later.call is not None
    assert first.call.idempotency_key == replayed.call.idempotency_key
    assert later.call.idempotency_key != first.call.idempotency_key  # another message


def test_a_template_that_fails_makes_no_call_and_the_flow_sees_it_failed(
    make_bot: MakeBot,
) -> None:
    bot = make_bot(
        """{ flows: { q: { triggers: [{ keywords: ["q"] }], steps: [
          { http: { url: "https://api.example.com/{{ 1 / 0 }}", save_as: "r" } },
          { text: "ok={{ vars.r.ok }}" },
        ] } } }"""
    )
    turn = run_turn(bot, text("q"), None, now=1.0)
    assert turn.call is None  # nothing to call: the request could not be built
    assert said(turn) == ["ok=False"]
    assert notes_at(turn, "flows.q.steps.0.http.url")


def test_a_loop_of_calls_stops_at_max_calls(make_bot: MakeBot) -> None:
    bot = make_bot(
        """{ flows: { loop: { triggers: [{ keywords: ["go"] }], steps: [
          { http: { url: "https://api.example.com/ping", save_as: "r" } },
          { goto: "loop", when: "vars.r.ok" },
        ] } } }"""
    )
    envelope = text("go")
    turn = run_turn(bot, envelope, None, now=1.0)
    calls = 0
    while turn.call is not None:
        calls += 1
        turn = continue_turn(bot, envelope, turn, OK, now=2.0)
    assert calls == MAX_CALLS
    assert any("http calls in one turn" in note for note in turn.notes)


def test_a_paused_turn_with_nothing_said_does_not_call_the_fallback(make_bot: MakeBot) -> None:
    bot = make_bot(
        """{ flows: {
          q: { triggers: [{ keywords: ["q"] }], steps: [
            { text: "{{ nope.attr }}" },
            { http: { url: "https://api.example.com/x", save_as: "r" } },
            { text: "after" },
          ] },
          fallback: { steps: [{ text: "Sorry?" }] },
        } }"""
    )
    envelope = text("q")
    turn = run_turn(bot, envelope, None, now=1.0)
    assert turn.call is not None
    assert said(turn) == []
    assert said(carry_on(bot, envelope, turn, OK)) == ["after"]


def test_continue_turn_needs_a_paused_turn(make_bot: MakeBot) -> None:
    bot = make_bot(ORDER_FLOWS)
    done = run_turn(bot, text("hello"), None, now=1.0)
    with pytest.raises(ValueError, match="paused at an http step"):
        continue_turn(bot, text("hello"), done, OK, now=2.0)


def test_user_fields_in_a_request_are_fetched(make_bot: MakeBot) -> None:
    bot = make_bot(
        """{ flows: { q: { triggers: [{ keywords: ["q"] }], steps: [
          { http: { method: "POST", url: "https://api.example.com/?l={{ user.locale }}",
                    headers: { "X-Name": "{{ user.first_name }}" },
                    json: { last: "{{ user.last_name }}" } } },
        ] } } }"""
    )
    assert bot.user_fields == {"locale", "first_name", "last_name"}
    assert bot.env_names == frozenset()
