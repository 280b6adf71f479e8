"""The dialog engine: one inbound Envelope + the sender's Session -> the bot's messages.

Pure and synchronous: no network, no store, no clock (`now` is passed in). A timer that
fell due is one more kind of event handed to `run_turn`, like a message (see "Timers").

One turn:

1. If an `ask` waits, the event answers it (dialog/answers.py), unless a payload trigger or
   an `interrupt: true` trigger claims it (dialog/triggers.py `find_interrupt`): then the
   wait is dropped and that trigger's flow runs (a menu button, "stop", "menu" still work).
   The ask's own wins over any trigger: a tap on one of its quick replies, text equal to one
   of their titles or payloads (case ignored), an attachment of the type it asks for.
   A wrong answer gets the `retry` text and counts in `Session.retries`; the `max_retries`th
   wrong answer drops the wait instead, and the `on_fail` flow runs, or, without one, the
   event is handled from step 2 as if nothing waited. A wait on a flow or step that is gone
   or no longer an `ask` (the flows were reloaded) is dropped with a note, and the event is
   handled as if nothing waited.
2. Otherwise a trigger picks the flow (dialog/triggers.py), else the `fallback` flow, else
   nothing answers.
3. Steps run in order until the flow ends, an `ask` waits or a `handover` passes the thread
   to a human; `goto` jumps to another flow's first step (at most MAX_GOTOS times a turn).
   A handover ends the turn: its messages go first, then the thread-control call (a turn
   effect, `dialog/effects.py`); the session records the handover and drops any wait.
   An `http` step pauses the turn: `Turn.call` is the request, and the caller hands its
   HttpResult to `continue_turn`, which saves it (`vars.<save_as>`) and runs on from the
   next step, or runs the step's `on_error` flow when the call was not ok. A turn makes at
   most MAX_CALLS calls; past that, a call fails without being made.
4. If templates failed and nothing at all was sent, the `fallback` flow answers instead
   (unless the fallback is what failed).

Referral and opt-in events carry no message: they start a flow only through a trigger,
never the fallback, and a waiting `ask` keeps waiting through them.

Timers (`runtime/timers.py`) live in `Session.timers`, by slot; the engine sets and drops
them, and the caller writes what changed with the turn:

- an `ask` with a `timeout` sets the `ask` slot when it starts waiting, and again at each
  wrong answer (the time counts from the last prompt); any end of the wait drops it;
- a `delay` step sets its own slot and ends the turn; a later event from the person that
  runs a flow (a trigger, the fallback, an answer to an ask) drops every delay set before
  it, except those with `keep`;
- a `handover` with a `timeout` sets the `handover` slot.

A TIMER event fires the session's timer only if it still holds that slot with that due
time (else the event is stale: the turn does nothing): an ask's timeout drops the wait and
runs `on_timeout`; a delay runs the rest of its flow (with the `match` it started with); a
handover's timeout gives the bot the thread back (a TakeThread effect). A timer whose step
a reload removed or changed is dropped with a note, like a wait on a step that is gone. No
fallback answers a timer.

While a session's `handover` is set, a human has the thread and the caller runs no turn at
all (the worker, `runtime chat` and `runtime test` each check `Session.handover` first).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Final

from runtime.bot import (
    FALLBACK_FLOW,
    AskStep,
    Bot,
    CompiledFlow,
    DelayStep,
    GotoStep,
    HandoverStep,
    HttpStep,
    SetStep,
    normalize_keyword,
)
from runtime.dialog.answers import check_answer
from runtime.dialog.context import build_context
from runtime.dialog.effects import Effect, HttpCall, HttpResult, PassThread, TakeThread
from runtime.dialog.messages import OutMessage
from runtime.dialog.notes import Notes
from runtime.dialog.render import Renderer
from runtime.dialog.templates import Template
from runtime.dialog.triggers import Start, find_interrupt, find_start
from runtime.envelope import Envelope, EventKind
from runtime.messenger.limits import LIMITS
from runtime.session import Handover, Session, timers_by_slot
from runtime.timers import ASK_SLOT, HANDOVER_SLOT, FiredTimer, Timer, TimerKind, delay_slot

MAX_GOTOS: Final = 20  # per turn; a loop of gotos stops here instead of spinning
MAX_CALLS: Final = 10  # `http` calls per turn; a loop of calls stops here
_NOT_MESSAGES: Final = frozenset(
    {EventKind.REFERRAL, EventKind.OPTIN, EventKind.THREAD_CONTROL, EventKind.TIMER}
)
TIMEOUT_METADATA: Final = "the handover's timeout ran out: the bot takes the thread back"


@dataclass(frozen=True, slots=True, kw_only=True)
class Paused:
    """Where a turn stopped for an `http` call: what `continue_turn` needs to run on."""

    call: HttpCall
    flow: str
    position: int
    match: Mapping[str, object]
    gotos: int
    calls: int
    failed_flows: frozenset[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Turn:
    """What one event produced.

    `messages` are ready to send, in order, within Messenger's limits. `session` is the
    sender's new state, to save. `flow` names the flow that answered (None when nothing did).
    `notes` are problems met on the way (a template that failed to render, a value cut to
    fit): one line each, `file: flows.x.steps.n.field: message`, for the caller to log.
    `effects` are what the caller does after sending `messages`, in order (a handover's
    thread-control call). `fired` is the timer a TIMER event fired (None for any other
    event, and for a stale timer: then nothing happened).

    A turn `paused` at an `http` step is not finished: make `call` and hand the result to
    `continue_turn`; only the Turn it returns once `call` is None is to be kept.
    """

    messages: tuple[OutMessage, ...]
    session: Session
    flow: str | None
    notes: tuple[str, ...] = ()
    effects: tuple[Effect, ...] = ()
    fired: Timer | None = None
    paused: Paused | None = field(default=None, repr=False)

    @property
    def call(self) -> HttpCall | None:
        """The request the turn waits on, if it paused at an `http` step."""
        return None if self.paused is None else self.paused.call


def run_turn(
    bot: Bot,
    envelope: Envelope,
    session: Session | None,
    *,
    now: float,
    user: Mapping[str, object] | None = None,
    variations: dict[str, frozenset[str]] | None = None,
) -> Turn:
    """Answer one event. `session` is None for a sender the bot has never seen; `user` holds
    the person's profile fields known for this turn (`first_name`...), fetched by the caller.
    `variations`, when given, gets each text sent that was picked among variations, with all
    of them (Renderer's), so `runtime test` can accept any."""
    if session is None:
        session = Session(
            key=envelope.session_key, account_id=envelope.account_id, psid=envelope.psid
        )
    conversation = _Conversation(bot, envelope, session, user or {}, now, variations)
    conversation.handle()
    return conversation.turn()


def continue_turn(
    bot: Bot,
    envelope: Envelope,
    turn: Turn,
    result: HttpResult,
    *,
    now: float,
    user: Mapping[str, object] | None = None,
    variations: dict[str, frozenset[str]] | None = None,
) -> Turn:
    """Run the rest of a turn paused at an `http` step, with the call's `result`.

    `bot`, `envelope` and `user` are those the turn started with (`variations` as in
    run_turn). The Turn returned holds everything of the turn so far (the messages before
    the call come first).
    """
    paused = turn.paused
    if paused is None:
        raise ValueError("continue_turn needs a turn paused at an http step (turn.call is None)")
    conversation = _Conversation(bot, envelope, turn.session, user or {}, now, variations)
    conversation.take_over(turn, paused)
    conversation.resume(paused, result)
    return conversation.turn()


@dataclass(frozen=True, slots=True, kw_only=True)
class _Waiting:
    """The ask a session waits on: `position` is its index in the flow's steps."""

    flow: str
    position: int
    ask: AskStep


class _Conversation:
    """The mutable state of one turn; `turn()` freezes it into the result."""

    def __init__(
        self,
        bot: Bot,
        envelope: Envelope,
        session: Session,
        user: Mapping[str, object],
        now: float,
        variations: dict[str, frozenset[str]] | None = None,
    ) -> None:
        self.bot = bot
        self.now = now
        self.envelope = envelope
        self.session = session
        self.variables: dict[str, object] = dict(session.vars)
        self.waiting: tuple[str, int] | None = None  # (flow, step position) of the ask
        if session.flow is not None and session.step is not None:
            self.waiting = (session.flow, session.step)
        self.retries = session.retries
        self.messages: list[OutMessage] = []
        self.effects: list[Effect] = []
        self.handover = session.handover
        self.timers: dict[str, Timer] = dict(session.timers)
        self.fired: Timer | None = None
        self.notes = Notes()
        self.context = build_context(bot, envelope, self.variables, user)
        self.renderer = Renderer(self.context, self.notes, variations=variations)
        self.flow: str | None = None  # the first flow that answered
        self.gotos = 0
        self.calls = 0
        self.paused: Paused | None = None

    def take_over(self, turn: Turn, paused: Paused) -> None:
        """Carry on from where `turn` paused: what it sent, noted and counted."""
        self.messages.extend(turn.messages)
        self.effects.extend(turn.effects)
        self.notes.lines.extend(turn.notes)
        self.notes.failed_flows.update(paused.failed_flows)
        self.flow = turn.flow
        self.fired = turn.fired
        self.gotos = paused.gotos
        self.calls = paused.calls
        self.context["match"] = paused.match

    def turn(self) -> Turn:
        flow, step = self.waiting if self.waiting is not None else (None, None)
        ask_timer = self.timers.get(ASK_SLOT)
        if self.paused is None and ask_timer is not None and self.waiting is None:
            del self.timers[ASK_SLOT]  # the wait ended, however it did: so did its timeout
        session = Session(
            key=self.session.key,
            account_id=self.session.account_id,
            psid=self.session.psid,
            vars=MappingProxyType(self.variables),
            flow=flow,
            step=step,
            retries=self.retries if self.waiting is not None else 0,
            updated_at=self.now,
            handover=self.handover,
            timers=timers_by_slot(self.timers.values()),
        )
        return Turn(
            messages=tuple(self.messages),
            session=session,
            flow=self.flow,
            notes=tuple(self.notes.lines),
            effects=tuple(self.effects),
            fired=self.fired,
            paused=self.paused,
        )

    # -- choosing what runs ----------------------------------------------------------------
    def handle(self) -> None:
        if self.envelope.timer is not None:
            self._fire(self.envelope.timer)
            return
        delays = self._cancellable_delays()
        self._handle_event()
        if self.flow is not None:  # a flow started or went on: the delays' rests are off
            for slot, timer in delays.items():
                if self.timers.get(slot) is timer:  # not set again by this very turn
                    del self.timers[slot]

    def _handle_event(self) -> None:
        waiting = self._waiting_ask()
        is_message = self.envelope.kind not in _NOT_MESSAGES
        start: Start | None = None
        if waiting is not None:
            start = self._interruption(waiting.ask)
            if start is None and (not is_message or self._answer(waiting)):
                self._fallback_if_failed()
                return
            self.waiting = None
        if start is None:
            start = find_start(self.bot.triggers, self.envelope)
        if start is not None:
            self.context["match"] = start.match
            self._run(start.flow)
        elif is_message and self.bot.triggers.fallback is not None:
            self._run(self.bot.triggers.fallback)
        self._fallback_if_failed()

    def _waiting_ask(self) -> _Waiting | None:
        """The ask the session waits on; a wait the flows no longer have is dropped."""
        if self.waiting is None:
            return None
        name, position = self.waiting
        step = self.bot.step_at(name, position)
        if isinstance(step, AskStep):
            return _Waiting(flow=name, position=position, ask=step)
        where = f"flows.{name}.steps.{position}"
        gone = "no longer exists" if step is None else "is no longer an ask"
        line = f"{where}: the session waited here for an answer, but it {gone}; the wait is dropped"
        flow = self.bot.flows.get(name)
        self.notes.add_line(f"{flow.file}: {line}" if flow else line)
        self.waiting = None
        return None

    def _interruption(self, ask: AskStep) -> Start | None:
        """The flow that takes over from the waiting `ask` (dialog/triggers.py), unless the
        event is the ask's own: a tap on one of its quick replies, typed text equal to the
        title or payload of one, or an attachment of the type it asks for."""
        envelope = self.envelope
        if self._own_payload(ask) is not None:
            return None
        wanted = ask.check.attachment_type if ask.check is not None else None
        if wanted is not None and any(item.type == wanted for item in envelope.attachments):
            return None
        # typed text only: a tap on another message's quick reply is known by its payload
        if envelope.payload is None and envelope.text is not None and ask.quick_replies:
            typed = normalize_keyword(envelope.text)
            for title, payload in self.renderer.quick_reply_choices(ask.quick_replies):
                if typed in (normalize_keyword(title), normalize_keyword(payload)):
                    return None
        return find_interrupt(self.bot.triggers, envelope)

    def _own_payload(self, ask: AskStep) -> str | None:
        """The payload of the ask's own quick reply the person tapped, if they did."""
        payload = self.envelope.payload
        if payload is None or payload not in self.renderer.quick_reply_payloads(ask.quick_replies):
            return None
        return payload

    def _answer(self, waiting: _Waiting) -> bool:
        """Check and save the answer and run on; a wrong one gets the retry text. False when
        `max_retries` wrong answers dropped the wait and no `on_fail` flow takes the event:
        it is then handled as any message."""
        ask = waiting.ask
        self.flow = waiting.flow
        own = self._own_payload(ask)
        value = check_answer(
            ask.check,
            own if own is not None else self.envelope.text,
            attachments=self.envelope.attachments,
            choices=self.renderer.quick_reply_choices(ask.quick_replies),
            today=datetime.fromtimestamp(self.now, UTC).date(),
        )
        if value is not None:
            self.variables[ask.save_as] = value
            self.waiting = None
            self._run(waiting.flow, waiting.position + 1)
            return True
        self.retries += 1
        if ask.max_retries is None or self.retries < ask.max_retries:
            self.messages.extend(self.renderer.prompt(ask, again=True))
            self._time_ask(ask, waiting.flow, waiting.position)  # counts from the new prompt
            return True
        self.waiting = None  # given up: no retry text this time
        if ask.on_fail is None:
            self.flow = None
            return False
        self._run(ask.on_fail)
        return True

    def _fallback_if_failed(self) -> None:
        """Nothing was sent because templates failed: let the fallback flow answer (not a
        timer's turn: the fallback answers the person)."""
        fallback = self.bot.triggers.fallback
        failed = self.notes.failed_flows
        if self.paused is not None or self.messages or self.effects or not failed:
            return
        if self.envelope.kind is EventKind.TIMER:
            return
        if fallback is None or FALLBACK_FLOW in failed:
            return
        self.waiting = None
        self.context["match"] = {}
        self._run(fallback)

    # -- running steps ---------------------------------------------------------------------
    def _run(self, name: str, position: int = 0) -> None:
        """Run flow `name` from step `position` until it ends or an ask waits."""
        flow: CompiledFlow | None = self.bot.flows.get(name)
        if flow is None:  # compile_bot resolves every goto and trigger; a guard, not a path
            self.notes.add_line(f"flows.{name}: no flow has this name; nothing is sent")
            return
        if self.flow is None:
            self.flow = name
        while position < len(flow.steps):
            step = flow.steps[position]
            position += 1
            if not self.renderer.is_shown(step):
                continue
            if isinstance(step, SetStep):
                self._set(step)
            elif isinstance(step, GotoStep):
                target = self._goto(step)
                if target is None:
                    return
                flow, position = target, 0
            elif isinstance(step, AskStep):
                self.messages.extend(self.renderer.prompt(step))
                self.waiting = (flow.name, position - 1)
                self.retries = 0
                self._time_ask(step, flow.name, position - 1)
                return
            elif isinstance(step, DelayStep):
                self._delay(step, flow.name, position - 1)
                return
            elif isinstance(step, HandoverStep):
                self._hand_over(step)
                return
            elif isinstance(step, HttpStep):
                call = self._http_call(step)
                if call is not None:
                    self._pause(call, flow.name, position - 1)
                    return
                failed = HttpResult(ok=False, error="the request was not made (see the note)")
                if self._save_result(step, failed):
                    target = self._jump(step, "http.on_error", step.on_error or "")
                    if target is None:
                        return
                    flow, position = target, 0
            else:
                self.messages.extend(self.renderer.messages(step))

    # -- http calls ----------------------------------------------------------------------
    def _http_call(self, step: HttpStep) -> HttpCall | None:
        """The request `step` makes, rendered; None (noted) when it cannot be made."""
        if self.calls >= MAX_CALLS:
            message = f"more than {MAX_CALLS} http calls in one turn (a loop?); not called"
            self.notes.add(step.source, "http", message)
            return None
        consequence = "the request is not made"
        render = self.renderer.render
        url = render(step.url, step.source, "http.url", consequence)
        headers = []
        for name, template in step.headers:
            value = render(template, step.source, f"http.headers.{name}", consequence)
            if value is None:
                return None
            headers.append((name, value.strip()))
        body = None
        if step.body is not None:
            try:
                body = step.body.render(self.context)
            except Exception as err:  # as in Renderer.render: the flow's bug, not the turn's end
                self.notes.failure(step.source, "http.json", err, consequence)
                return None
        if url is None:
            return None
        self.calls += 1
        source = step.source
        return HttpCall(
            method=step.method,
            url=url.strip(),
            headers=tuple(headers),
            json=body,
            timeout=step.timeout,
            idempotency_key=self._idempotency_key(source.flow, source.index),
            where=f"{source.file}: {source.key_path}",
        )

    def _idempotency_key(self, flow: str, position: int) -> str:
        """The same for one event's turn at one step, however often a crash replays it."""
        envelope = self.envelope
        event = envelope.message_id or f"{envelope.kind}@{envelope.timestamp!r}"
        seed = "\0".join(
            (envelope.account_id, envelope.psid, event, flow, str(position), str(self.calls))
        )
        return hashlib.sha256(seed.encode()).hexdigest()[:32]

    def _pause(self, call: HttpCall, flow: str, position: int) -> None:
        self.waiting = (flow, position)
        self.paused = Paused(
            call=call,
            flow=flow,
            position=position,
            match=dict(self.context["match"]),  # type: ignore[call-overload]
            gotos=self.gotos,
            calls=self.calls,
            failed_flows=frozenset(self.notes.failed_flows),
        )

    def resume(self, paused: Paused, result: HttpResult) -> None:
        """Run on after the call `paused` waited on, with its `result`."""
        self.waiting = None
        step = self.bot.step_at(paused.flow, paused.position)
        if not isinstance(step, HttpStep):  # the caller keeps the Bot; a guard, not a path
            self.notes.add_line(f"flows.{paused.flow}.steps.{paused.position}: not an http step")
            return
        if not self._save_result(step, result):
            self._run(paused.flow, paused.position + 1)
        else:
            target = self._jump(step, "http.on_error", step.on_error or "")
            if target is not None:
                self._run(target.name)
        self._fallback_if_failed()

    def _save_result(self, step: HttpStep, result: HttpResult) -> bool:
        """Save the result (`vars.<save_as>`); True when the `on_error` flow runs next."""
        if step.save_as is not None:
            self.variables[step.save_as] = result.as_value()
        return not result.ok and step.on_error is not None

    def _goto(self, step: GotoStep) -> CompiledFlow | None:
        return self._jump(step, "goto", step.flow)

    def _jump(self, step: GotoStep | HttpStep, key: str, name: str) -> CompiledFlow | None:
        """Flow `name`, to run instead of the rest of this one; counted as a goto."""
        if self.gotos >= MAX_GOTOS:
            message = f"more than {MAX_GOTOS} gotos in one turn (a loop?); the turn stops here"
            self.notes.add(step.source, key, message)
            return None
        self.gotos += 1
        target = self.bot.flows.get(name)
        if target is None:
            self.notes.add(step.source, key, f"no flow is named '{name}'; the turn stops")
        return target

    def _hand_over(self, step: HandoverStep) -> None:
        """Pass the thread; the note, rendered and cut to Meta's limit, is its metadata."""
        note = None
        if step.note is not None:
            note = self.renderer.render(
                step.note, step.source, "handover.note", "the handover goes without its note"
            )
        limit = LIMITS.thread_metadata
        if note is not None and len(note) > limit:
            message = f"is {len(note)} characters; cut to Meta's {limit}"
            self.notes.add(step.source, "handover.note", message)
            note = note[:limit]
        self.effects.append(PassThread(target_app_id=step.target_app_id, metadata=note or None))
        self.handover = Handover(app_id=step.target_app_id, since=self.now, note=note or None)
        self.waiting = None
        self.timers.pop(HANDOVER_SLOT, None)
        if step.timeout is not None:
            where = (step.source.flow, step.source.index)
            self._set_timer(HANDOVER_SLOT, TimerKind.HANDOVER_TIMEOUT, step.timeout, where)

    # -- timers --------------------------------------------------------------------------
    def _set_timer(
        self,
        slot: str,
        kind: TimerKind,
        seconds: float,
        where: tuple[str, int],
        *,
        keep: bool = False,
        match: Mapping[str, object] | None = None,
    ) -> None:
        flow, position = where
        self.timers[slot] = Timer(
            slot=slot,
            kind=kind,
            due_at=self.now + seconds,
            set_at=self.now,
            flow=flow,
            step=position,
            keep=keep,
            match=MappingProxyType(dict(match or {})),
        )

    def _time_ask(self, ask: AskStep, flow: str, position: int) -> None:
        """The waiting ask's timeout, from now (none when the ask has no timeout)."""
        self.timers.pop(ASK_SLOT, None)
        if ask.timeout is not None:
            self._set_timer(ASK_SLOT, TimerKind.ASK_TIMEOUT, ask.timeout, (flow, position))

    def _delay(self, step: DelayStep, flow: str, position: int) -> None:
        """The rest of the flow runs when the delay's timer fires; the turn ends here."""
        match: Mapping[str, object] = self.context["match"]  # type: ignore[assignment]
        slot = delay_slot(flow, position)
        kind = TimerKind.DELAY
        self._set_timer(slot, kind, step.seconds, (flow, position), keep=step.keep, match=match)

    def _cancellable_delays(self) -> dict[str, Timer]:
        """The delays pending before this event that a flow it runs cancels (not `keep`)."""
        return {
            slot: timer
            for slot, timer in self.timers.items()
            if timer.kind is TimerKind.DELAY and not timer.keep
        }

    def _fire(self, fired: FiredTimer) -> None:
        """A timer fell due: act on it if the session still holds it (else it is stale)."""
        timer = self.timers.get(fired.slot)
        if timer is None or timer.due_at != fired.due_at:
            return
        del self.timers[fired.slot]
        self.fired = timer
        if timer.kind is TimerKind.HANDOVER_TIMEOUT:
            if self.handover is not None:
                self.effects.append(TakeThread(metadata=TIMEOUT_METADATA))
                self.handover = None
                # those due meanwhile were dropped, unwritten, while the human had it
                for slot in [slot for slot, t in self.timers.items() if t.due_at <= self.now]:
                    del self.timers[slot]
            return
        step = self.bot.step_at(timer.flow, timer.step)
        if timer.kind is TimerKind.DELAY:
            if isinstance(step, DelayStep):
                self.context["match"] = timer.match
                self._run(timer.flow, timer.step + 1)
            else:
                self._drop_timer(timer, step, "a delay", "the rest of the flow is not run")
            return
        at = (timer.flow, timer.step)
        if not isinstance(step, AskStep):
            if self.waiting == at:
                self.waiting = None
            self._drop_timer(timer, step, "an ask", "the wait and its timeout are dropped")
            return
        if self.waiting != at:  # a guard: the ask slot goes when its wait ends
            return
        if step.timeout is None:
            self._drop_timer(timer, step, "an ask with a timeout", "the ask keeps waiting")
            return
        self.waiting = None
        if step.on_timeout is None:
            self.flow = timer.flow  # the wait just ends
        else:
            self._run(step.on_timeout)

    def _drop_timer(self, timer: Timer, step: object, was: str, consequence: str) -> None:
        gone = "no longer exists" if step is None else f"is no longer {was}"
        line = f"{timer.where}: a timer was pending here, but the step {gone}; {consequence}"
        flow = self.bot.flows.get(timer.flow)
        self.notes.add_line(f"{flow.file}: {line}" if flow else line)

    def _set(self, step: SetStep) -> None:
        for name, value in step.values:
            if isinstance(value, Template):
                field = f"set.{name}"
                rendered = self.renderer.render(value, step.source, field, "the value is not set")
                if rendered is not None:
                    self.variables[name] = rendered
            else:
                # shared with the Bot, safely: templates cannot change a value (the sandbox is
                # immutable) and nothing else here does
                self.variables[name] = value
