"""The dialog engine: one inbound Envelope + the sender's Session -> the bot's messages.

Pure and synchronous: no network, no store, no clock (`now` is passed in). A timer, when
there are timers, will be one more kind of event handed to `run_turn`, like a message.

One turn:

1. If an `ask` waits, the event answers it, unless it is a payload a payload trigger handles
   that is not one of the ask's own quick replies (a menu button still works; the wait is
   dropped). A wait on a flow or step that is gone or no longer an `ask` (the flows were
   reloaded) is dropped with a note, and the event is handled as if nothing waited.
2. Otherwise a trigger picks the flow (dialog/triggers.py), else the `fallback` flow, else
   nothing answers.
3. Steps run in order until the flow ends, an `ask` waits or a `handover` passes the thread
   to a human; `goto` jumps to another flow's first step (at most MAX_GOTOS times a turn).
   A handover ends the turn: its messages go first, then the thread-control call (a turn
   effect, `dialog/effects.py`); the session records the handover and drops any wait.
4. If templates failed and nothing at all was sent, the `fallback` flow answers instead
   (unless the fallback is what failed).

Referral and opt-in events carry no message: they start a flow only through a trigger,
never the fallback, and a waiting `ask` keeps waiting through them.

While a session's `handover` is set, a human has the thread and the caller runs no turn at
all (the worker, `runtime chat` and `runtime test` each check `Session.handover` first).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from runtime.bot import FALLBACK_FLOW, AskStep, Bot, CompiledFlow, GotoStep, HandoverStep, SetStep
from runtime.dialog.answers import check_answer
from runtime.dialog.context import build_context
from runtime.dialog.effects import Effect, PassThread
from runtime.dialog.messages import OutMessage
from runtime.dialog.notes import Notes
from runtime.dialog.render import Renderer
from runtime.dialog.templates import Template
from runtime.dialog.triggers import find_start, payload_flow
from runtime.envelope import Envelope, EventKind
from runtime.messenger.limits import LIMITS
from runtime.session import Handover, Session

MAX_GOTOS: Final = 20  # per turn; a loop of gotos stops here instead of spinning
_NOT_MESSAGES: Final = frozenset({EventKind.REFERRAL, EventKind.OPTIN, EventKind.THREAD_CONTROL})


@dataclass(frozen=True, slots=True, kw_only=True)
class Turn:
    """What one event produced.

    `messages` are ready to send, in order, within Messenger's limits. `session` is the
    sender's new state, to save. `flow` names the flow that answered (None when nothing did).
    `notes` are problems met on the way (a template that failed to render, a value cut to
    fit): one line each, `file: flows.x.steps.n.field: message`, for the caller to log.
    `effects` are what the caller does after sending `messages`, in order (a handover's
    thread-control call).
    """

    messages: tuple[OutMessage, ...]
    session: Session
    flow: str | None
    notes: tuple[str, ...] = ()
    effects: tuple[Effect, ...] = ()


def run_turn(
    bot: Bot,
    envelope: Envelope,
    session: Session | None,
    *,
    now: float,
    user: Mapping[str, object] | None = None,
) -> Turn:
    """Answer one event. `session` is None for a sender the bot has never seen; `user` holds
    the person's profile fields known for this turn (`first_name`...), fetched by the caller."""
    if session is None:
        session = Session(
            key=envelope.session_key, account_id=envelope.account_id, psid=envelope.psid
        )
    conversation = _Conversation(bot, envelope, session, user or {}, now)
    conversation.handle()
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
        self.notes = Notes()
        self.context = build_context(bot, envelope, self.variables, user)
        self.renderer = Renderer(self.context, self.notes)
        self.flow: str | None = None  # the first flow that answered
        self.gotos = 0

    def turn(self) -> Turn:
        flow, step = self.waiting if self.waiting is not None else (None, None)
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
        )
        return Turn(
            messages=tuple(self.messages),
            session=session,
            flow=self.flow,
            notes=tuple(self.notes.lines),
            effects=tuple(self.effects),
        )

    # -- choosing what runs ----------------------------------------------------------------
    def handle(self) -> None:
        waiting = self._waiting_ask()
        is_message = self.envelope.kind not in _NOT_MESSAGES
        if waiting is not None and not self._interrupts(waiting.ask):
            if is_message:
                self._answer(waiting)
            self._fallback_if_failed()
            return
        self.waiting = None
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

    def _interrupts(self, ask: AskStep) -> bool:
        """A payload trigger's payload that is not one of the ask's own quick replies."""
        payload = self.envelope.payload
        if payload_flow(self.bot.triggers, payload) is None:
            return False
        return payload not in self.renderer.quick_reply_payloads(ask.quick_replies)

    def _answer(self, waiting: _Waiting) -> None:
        ask = waiting.ask
        self.flow = waiting.flow
        payload = self.envelope.payload
        own = payload is not None and payload in self.renderer.quick_reply_payloads(
            ask.quick_replies
        )
        value = check_answer(ask.check, payload if own else self.envelope.text)
        if value is None:
            self.retries += 1
            self.messages.extend(self.renderer.prompt(ask, again=True))
            return
        self.variables[ask.save_as] = value
        self.waiting = None
        self._run(waiting.flow, waiting.position + 1)

    def _fallback_if_failed(self) -> None:
        """Nothing was sent because templates failed: let the fallback flow answer."""
        fallback = self.bot.triggers.fallback
        failed = self.notes.failed_flows
        if self.messages or self.effects or not failed:
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
                return
            elif isinstance(step, HandoverStep):
                self._hand_over(step)
                return
            else:
                self.messages.extend(self.renderer.messages(step))

    def _goto(self, step: GotoStep) -> CompiledFlow | None:
        if self.gotos >= MAX_GOTOS:
            message = f"more than {MAX_GOTOS} gotos in one turn (a loop?); the turn stops here"
            self.notes.add(step.source, "goto", message)
            return None
        self.gotos += 1
        target = self.bot.flows.get(step.flow)
        if target is None:
            self.notes.add(step.source, "goto", f"no flow is named '{step.flow}'; the turn stops")
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
