"""Timers in the engine: an ask's timeout, delays, a handover's timeout, as `run_turn` sees them.

A timer falls due as an event of the person's (`EventKind.TIMER`); these tests hand the
engine that event for a timer of the session, as the worker does when the store fires it.
"""

from __future__ import annotations

from dataclasses import replace

from runtime.dialog.effects import PAGE_INBOX_APP_ID, PassThread, TakeThread
from runtime.dialog.engine import Turn
from runtime.envelope import Envelope, EventKind, ThreadAction, ThreadControl
from runtime.handover import thread_change
from runtime.session import Session
from runtime.timers import ASK_SLOT, HANDOVER_SLOT, FiredTimer, TimerKind, delay_slot
from tests.dialog import events
from tests.dialog.conftest import Chat, MakeBot, notes_at, said

SIGNUP = """{ flows: {
  signup: { triggers: [{ keywords: ["sign up"] }], steps: [
    { ask: "Your email?", save_as: "email", validate: "email", retry: "An email, please.",
      timeout: "10m", on_timeout: "nudge" },
    { text: "Thanks, {{ vars.email }}!" },
  ] },
  nudge: { steps: [{ text: "Still there? Say sign up to start again." }] },
  menu: { triggers: [{ keywords: ["menu"] }], steps: [{ text: "Menu" }] },
} }"""

TOUR = """{ flows: {
  tour: { triggers: [{ regex: "^tour (?P<name>\\\\w+)$" }], steps: [
    { text: "Welcome, {{ match.name }}." },
    { delay: "2h" },
    { text: "How is it going, {{ match.name }}?" },
  ] },
  reminder: { triggers: [{ keywords: ["remind me"] }], steps: [
    { text: "I will remind you." },
    { delay: "1h", keep: true },
    { text: "Reminder!" },
  ] },
  menu: { triggers: [{ keywords: ["menu"] }], steps: [{ text: "Menu" }] },
} }"""


REMIND_AND_HUMAN = """{ flows: {
  reminder: { triggers: [{ keywords: ["remind me"] }], steps: [
    { text: "I will remind you." }, { delay: "1h", keep: true }, { text: "Reminder!" },
  ] },
  human: { triggers: [{ keywords: ["human"] }], steps: [
    { handover: { to: "inbox", timeout: "2h" } },
  ] },
} }"""


def fire(chat: Chat, slot: str, *, due_at: float | None = None) -> Turn:
    """The event of the session's timer in `slot` falling due, handed to the engine."""
    assert chat.session is not None
    timer = chat.session.timers[slot]
    due = timer.due_at if due_at is None else due_at
    chat.now = max(chat.now, due)
    return chat.send(_timer_event(slot, due))


def slots(chat: Chat) -> list[str]:
    return list(chat.session.timers) if chat.session is not None else []


class TestAskTimeout:
    def test_an_ask_with_a_timeout_sets_it_when_it_waits(self, make_bot: MakeBot) -> None:
        chat = Chat(make_bot(SIGNUP))
        assert chat.said(events.text("sign up")) == ["Your email?"]
        assert chat.session is not None
        timer = chat.session.timers[ASK_SLOT]
        assert timer.kind is TimerKind.ASK_TIMEOUT
        assert timer.due_at == chat.now + 600
        assert timer.where == "flows.signup.steps.0"

    def test_no_answer_runs_the_on_timeout_flow_and_ends_the_wait(self, make_bot: MakeBot) -> None:
        chat = Chat(make_bot(SIGNUP))
        chat.send(events.text("sign up"))
        turn = fire(chat, ASK_SLOT)
        assert said(turn) == ["Still there? Say sign up to start again."]
        assert turn.fired is not None
        assert turn.flow == "nudge"
        assert chat.session is not None
        assert chat.session.flow is None  # no longer waiting
        assert slots(chat) == []
        assert chat.said(events.text("me@example.com")) == []  # no answer to anything now

    def test_an_answer_in_time_cancels_the_timeout(self, make_bot: MakeBot) -> None:
        chat = Chat(make_bot(SIGNUP))
        chat.send(events.text("sign up"))
        assert chat.session is not None
        due = chat.session.timers[ASK_SLOT].due_at
        assert chat.said(events.text("me@example.com")) == ["Thanks, me@example.com!"]
        assert slots(chat) == []
        # fired anyway (it fell due while the answer was processed): stale, nothing happens
        late = chat.send(_timer_event(ASK_SLOT, due))
        assert late.fired is None
        assert late.messages == ()

    def test_a_wrong_answer_counts_the_timeout_from_the_retry(self, make_bot: MakeBot) -> None:
        chat = Chat(make_bot(SIGNUP))
        chat.send(events.text("sign up"))
        assert chat.session is not None
        first = chat.session.timers[ASK_SLOT].due_at
        assert chat.said(events.text("not an email")) == ["An email, please."]
        second = chat.session.timers[ASK_SLOT].due_at
        assert second > first
        stale = chat.send(_timer_event(ASK_SLOT, first))
        assert stale.fired is None
        assert stale.messages == ()
        assert said(fire(chat, ASK_SLOT)) == ["Still there? Say sign up to start again."]

    def test_an_interrupting_trigger_drops_the_wait_and_its_timeout(
        self, make_bot: MakeBot
    ) -> None:
        flows = SIGNUP.replace('keywords: ["menu"]', 'keywords: ["menu"], interrupt: true')
        chat = Chat(make_bot(flows))
        chat.send(events.text("sign up"))
        assert chat.said(events.text("menu")) == ["Menu"]
        assert slots(chat) == []

    def test_a_timeout_without_on_timeout_just_ends_the_wait(self, make_bot: MakeBot) -> None:
        flows = SIGNUP.replace(', on_timeout: "nudge"', "")
        chat = Chat(make_bot(flows))
        chat.send(events.text("sign up"))
        turn = fire(chat, ASK_SLOT)
        assert turn.messages == ()
        assert turn.fired is not None
        assert chat.session is not None
        assert chat.session.flow is None

    def test_a_reload_that_removes_the_ask_drops_its_timeout_with_a_note(
        self, make_bot: MakeBot
    ) -> None:
        chat = Chat(make_bot(SIGNUP))
        chat.send(events.text("sign up"))
        chat.bot = make_bot(SIGNUP.replace("signup:", "register:"))
        turn = fire(chat, ASK_SLOT)
        assert turn.messages == ()
        [note] = notes_at(turn, "flows.signup.steps.0")
        assert "no longer exists" in note
        assert chat.session is not None
        assert chat.session.flow is None
        assert slots(chat) == []


class TestDelay:
    def test_the_rest_of_the_flow_runs_when_the_delay_falls_due(self, make_bot: MakeBot) -> None:
        chat = Chat(make_bot(TOUR))
        assert chat.said(events.text("tour Ada")) == ["Welcome, Ada."]
        assert chat.session is not None
        timer = chat.session.timers[delay_slot("tour", 1)]
        assert timer.due_at == chat.now + 7200
        turn = fire(chat, delay_slot("tour", 1))
        assert said(turn) == ["How is it going, Ada?"]  # the trigger's match is kept
        assert turn.flow == "tour"
        assert slots(chat) == []

    def test_a_message_that_runs_another_flow_cancels_the_rest(self, make_bot: MakeBot) -> None:
        chat = Chat(make_bot(TOUR))
        chat.send(events.text("tour Ada"))
        assert chat.said(events.text("menu")) == ["Menu"]
        assert slots(chat) == []

    def test_a_message_nothing_answers_leaves_the_delay(self, make_bot: MakeBot) -> None:
        chat = Chat(make_bot(TOUR))  # no fallback flow
        chat.send(events.text("tour Ada"))
        assert chat.said(events.text("hmm")) == []
        assert slots(chat) == [delay_slot("tour", 1)]

    def test_a_delay_with_keep_outlives_other_flows(self, make_bot: MakeBot) -> None:
        chat = Chat(make_bot(TOUR))
        chat.send(events.text("remind me"))
        chat.send(events.text("tour Bob"))  # another flow: the reminder stays
        assert sorted(slots(chat)) == [delay_slot("reminder", 1), delay_slot("tour", 1)]
        chat.send(events.text("menu"))  # the tour's delay goes, the reminder stays
        assert slots(chat) == [delay_slot("reminder", 1)]
        assert said(fire(chat, delay_slot("reminder", 1))) == ["Reminder!"]

    def test_running_the_flow_again_sets_its_delay_again(self, make_bot: MakeBot) -> None:
        chat = Chat(make_bot(TOUR))
        chat.send(events.text("tour Ada"))
        assert chat.session is not None
        first = chat.session.timers[delay_slot("tour", 1)].due_at
        chat.send(events.text("tour Ada"))
        assert slots(chat) == [delay_slot("tour", 1)]  # one timer, later
        assert chat.session.timers[delay_slot("tour", 1)].due_at > first
        assert chat.send(_timer_event(delay_slot("tour", 1), first)).messages == ()

    def test_a_reload_that_removes_the_delay_drops_the_rest_with_a_note(
        self, make_bot: MakeBot
    ) -> None:
        chat = Chat(make_bot(TOUR))
        chat.send(events.text("tour Ada"))
        chat.bot = make_bot(TOUR.replace('{ delay: "2h" },', ""))
        turn = fire(chat, delay_slot("tour", 1))
        assert turn.messages == ()
        [note] = notes_at(turn, "flows.tour.steps.1")
        assert "is no longer a delay" in note
        assert "the rest of the flow is not run" in note
        assert slots(chat) == []

    def test_no_fallback_answers_a_timer_whose_templates_fail(self, make_bot: MakeBot) -> None:
        flows = TOUR.replace("How is it going, {{ match.name }}?", "{{ vars.x.y.z }}").replace(
            "menu: {", 'fallback: { steps: [{ text: "Sorry?" }] }, menu: {'
        )
        chat = Chat(make_bot(flows))
        chat.send(events.text("tour Ada"))
        turn = fire(chat, delay_slot("tour", 1))
        assert turn.messages == ()
        assert notes_at(turn, "flows.tour.steps.2.text")


class TestHandoverTimeout:
    FLOWS = """{ flows: {
      human: { triggers: [{ keywords: ["human"] }], steps: [
        { text: "Passing you to a person." },
        { handover: { to: "inbox", timeout: "2h" } },
      ] },
    } }"""

    def test_the_bot_takes_the_thread_back_when_the_timeout_runs_out(
        self, make_bot: MakeBot
    ) -> None:
        chat = Chat(make_bot(self.FLOWS))
        turn = chat.send(events.text("human"))
        assert isinstance(turn.effects[0], PassThread)
        assert slots(chat) == [HANDOVER_SLOT]
        back = fire(chat, HANDOVER_SLOT)
        [effect] = back.effects
        assert isinstance(effect, TakeThread)
        assert back.messages == ()
        assert chat.session is not None
        assert chat.session.handover is None

    def test_a_thread_back_before_the_timeout_makes_it_stale(self, make_bot: MakeBot) -> None:
        chat = Chat(make_bot(self.FLOWS))
        chat.send(events.text("human"))
        assert chat.session is not None
        due = chat.session.timers[HANDOVER_SLOT].due_at
        chat.session = replace(chat.session, handover=None).without_timers(HANDOVER_SLOT)
        late = chat.send(_timer_event(HANDOVER_SLOT, due))
        assert late.fired is None
        assert late.effects == ()

    def test_the_thread_back_drops_the_timeout_and_what_fell_due_meanwhile(
        self, make_bot: MakeBot
    ) -> None:
        chat = Chat(make_bot(REMIND_AND_HUMAN))
        chat.send(events.text("remind me"))
        chat.send(events.text("human"))
        assert chat.session is not None
        assert sorted(chat.session.timers) == [delay_slot("reminder", 1), HANDOVER_SLOT]
        # an hour on, the reminder fell due with a human holding the thread (dropped);
        # then the team passes the thread back
        back = Envelope(
            account_id=events.ACCOUNT,
            psid=events.PSID,
            session_key=events.KEY,
            kind=EventKind.THREAD_CONTROL,
            timestamp=chat.now + 3700,
            thread_control=ThreadControl(
                action=ThreadAction.PASS, previous_owner_app_id=PAGE_INBOX_APP_ID
            ),
        )
        change = thread_change(chat.session, back, now=chat.now + 3700)
        assert change.session is not None
        assert change.session.handover is None
        assert change.session.timers == {}


def test_timers_survive_the_session_json(make_bot: MakeBot) -> None:
    chat = Chat(make_bot(TOUR))
    chat.send(events.text("tour Ada"))
    assert chat.session is not None
    again = Session.from_json(chat.session.to_json())
    assert again.timers == chat.session.timers
    assert again.timers[delay_slot("tour", 1)].match == {"name": "Ada"}


def _timer_event(slot: str, due_at: float) -> Envelope:
    return Envelope(
        account_id=events.ACCOUNT,
        psid=events.PSID,
        session_key=events.KEY,
        kind=EventKind.TIMER,
        timestamp=due_at,
        timer=FiredTimer(slot=slot, due_at=due_at),
    )
