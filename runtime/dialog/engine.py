"""The dialog engine: one inbound Envelope + the sender's Session -> the bot's messages.

Pure and synchronous: no network, no store, no clock (`now` is passed in). A timer, when
there are timers, will be one more kind of event handed to `run_turn`, like a message.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.bot import Bot
from runtime.dialog.messages import OutMessage
from runtime.envelope import Envelope
from runtime.session import Session


@dataclass(frozen=True, slots=True, kw_only=True)
class Turn:
    """What one event produced.

    `messages` are ready to send, in order, within Messenger's limits. `session` is the
    sender's new state, to save. `flow` names the flow that answered (None when nothing did).
    `notes` are problems met on the way (a template that failed to render, a value cut to
    fit): one line each, `file: flows.x.steps.n.field: message`, for the caller to log.
    """

    messages: tuple[OutMessage, ...]
    session: Session
    flow: str | None
    notes: tuple[str, ...] = ()


def run_turn(bot: Bot, envelope: Envelope, session: Session | None, *, now: float) -> Turn:
    """Answer one event. `session` is None for a sender the bot has never seen."""
    raise NotImplementedError  # being written
