"""Bot: the compiled, immutable result of the config and the flows; built by compiler.py only.

A reload builds a new Bot and swaps one reference; a turn in flight keeps the Bot it started
with.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from runtime.config.model import Account, Config
from runtime.dialog.messages import MediaFile
from runtime.dialog.templates import (
    Expression,
    JsonTemplate,
    RequestTemplate,
    Template,
    UrlTemplate,
)
from runtime.texts import Text

FALLBACK_FLOW = "fallback"


@dataclass(frozen=True, slots=True, kw_only=True)
class StepSource:
    """Where a step was written, for messages: `flows/welcome.json5: flows.welcome.steps.2`."""

    file: str
    flow: str
    index: int

    @property
    def key_path(self) -> str:
        return f"flows.{self.flow}.steps.{self.index}"


@dataclass(frozen=True, slots=True, kw_only=True)
class QuickReplySpec:
    content_type: str = "text"
    title: Text | None = None
    payload: Template | None = None
    image_url: Template | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ButtonSpec:
    type: str
    title: Text
    payload: Template | None = None
    url: Template | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CardSpec:
    title: Text
    subtitle: Text | None = None
    image_url: Template | None = None
    default_action_url: Template | None = None
    buttons: tuple[ButtonSpec, ...] = ()


class AnswerKind(StrEnum):
    EMAIL = "email"
    NUMBER = "number"
    PHONE = "phone"
    DATE = "date"
    URL = "url"
    CHOICE = "choice"  # one of the ask's own text quick replies
    IMAGE = "image"  # answered by an attachment of this type, as are FILE and LOCATION
    FILE = "file"
    LOCATION = "location"
    REGEX = "regex"


ATTACHMENT_ANSWERS = frozenset({AnswerKind.IMAGE, AnswerKind.FILE, AnswerKind.LOCATION})


@dataclass(frozen=True, slots=True, kw_only=True)
class AnswerCheck:
    """How an `ask` checks an answer; `pattern` is set for REGEX."""

    kind: AnswerKind
    pattern: re.Pattern[str] | None = None

    @property
    def attachment_type(self) -> str | None:
        """The attachment type that answers (image, file, location); None for text answers."""
        return str(self.kind) if self.kind in ATTACHMENT_ANSWERS else None


@dataclass(frozen=True, slots=True, kw_only=True)
class StepBase:
    source: StepSource
    when: Expression | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TextStep(StepBase):
    text: Text
    quick_replies: tuple[QuickReplySpec, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ButtonsStep(StepBase):
    text: Text
    buttons: tuple[ButtonSpec, ...]
    quick_replies: tuple[QuickReplySpec, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CardsStep(StepBase):
    cards: tuple[CardSpec, ...]
    quick_replies: tuple[QuickReplySpec, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AttachmentStep(StepBase):
    """Sends media by `url`, or a `file` of the bot's folder (uploaded once per page)."""

    type: str
    url: Template | None = None
    file: MediaFile | None = None
    quick_replies: tuple[QuickReplySpec, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AskStep(StepBase):
    """Send `prompt`, then wait: the next message answers it and is saved as `save_as`.

    After `max_retries` wrong answers the wait is dropped: the `on_fail` flow runs, or,
    without one, that last answer is handled as any message (triggers, then the fallback).
    With `timeout` (seconds), no answer within that time drops the wait and runs the
    `on_timeout` flow (without one, the wait just ends).
    """

    prompt: Text
    save_as: str
    check: AnswerCheck | None = None
    retry: Text | None = None
    quick_replies: tuple[QuickReplySpec, ...] = ()
    max_retries: int | None = None
    on_fail: str | None = None
    timeout: float | None = None
    on_timeout: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SetStep(StepBase):
    """Set variables; a string value is a template, anything else is kept as it is."""

    values: tuple[tuple[str, Template | object], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class GotoStep(StepBase):
    flow: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoverStep(StepBase):
    """Pass the thread to a human: `to` as written (`inbox`, or an app id), `target_app_id`
    the app it names, `note` the call's metadata. The turn ends here, and the bot answers
    nothing more until the thread comes back, or, with `timeout` (seconds), until the bot
    takes it back then."""

    to: str
    target_app_id: str
    note: Template | None = None
    timeout: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DelayStep(StepBase):
    """Wait `seconds`, then run the rest of the flow (the turn ends here). A message from
    the person that starts or continues a flow meanwhile cancels the rest, unless `keep`."""

    seconds: float
    keep: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpStep(StepBase):
    """Call the business's API: the turn pauses here (`Turn.call`) and goes on with the
    answer in `vars.<save_as>`, or in the `on_error` flow when it is not ok.

    `env_names` are the `${VAR}` secrets the request names, filled in as it leaves.
    """

    method: str
    url: UrlTemplate
    headers: tuple[tuple[str, RequestTemplate], ...] = ()
    body: JsonTemplate | None = None
    timeout: float = 5.0
    save_as: str | None = None
    on_error: str | None = None
    env_names: frozenset[str] = frozenset()


Step = (
    TextStep
    | ButtonsStep
    | CardsStep
    | AttachmentStep
    | AskStep
    | SetStep
    | GotoStep
    | HandoverStep
    | HttpStep
    | DelayStep
)


def jump_targets(step: Step) -> tuple[tuple[str, str], ...]:
    """The flows `step` may run next, each with the key that names it: a `goto`'s target,
    an `http` step's `on_error`, an `ask`'s `on_fail` and `on_timeout`."""
    if isinstance(step, GotoStep):
        return (("goto", step.flow),)
    if isinstance(step, HttpStep) and step.on_error is not None:
        return (("http.on_error", step.on_error),)
    if isinstance(step, AskStep):
        targets = (("on_fail", step.on_fail), ("on_timeout", step.on_timeout))
        return tuple((key, flow) for key, flow in targets if flow is not None)
    return ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CompiledFlow:
    name: str
    file: str
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerIndex:
    """Which flow an event starts. Payloads, keywords and attachment types are dict lookups,
    so matching costs the same with 10 or 10,000 flows; regexes are tried in file order.
    """

    by_payload: Mapping[str, str]
    by_keyword: Mapping[str, str]  # normalized with `normalize_keyword`
    by_attachment: Mapping[str, str]
    regexes: tuple[tuple[re.Pattern[str], str], ...]
    fallback: str | None
    # the triggers with `interrupt: true`, indexed the same way: they win over a waiting ask
    interrupting: TriggerIndex | None = None


def normalize_keyword(text: str) -> str:
    """Keywords match the whole message, case and surrounding space ignored."""
    return text.strip().casefold()


@dataclass(frozen=True, slots=True, kw_only=True)
class Bot:
    """Everything needed to answer: the config, the flows, the trigger index."""

    version: str
    config: Config
    flows: Mapping[str, CompiledFlow]
    triggers: TriggerIndex
    # the owner's pairingMessage and approvedMessage by account id; an account left out
    # gets the built-in text (runtime/access.py, runtime/pairing.py)
    pairing_messages: Mapping[str, Text]
    approved_messages: Mapping[str, Text] = field(default_factory=dict)
    accounts_by_page_id: Mapping[str, Account] = field(default_factory=dict)
    # the person's profile fields some template uses (`user.first_name`...): what the worker
    # fetches from the User Profile API before a turn; empty, and nothing is fetched
    user_fields: frozenset[str] = frozenset()

    @property
    def accounts(self) -> Mapping[str, Account]:
        return self.config.accounts

    @property
    def media_paths(self) -> frozenset[Path]:
        """The files of the bot's folder its flows send (`attachment: { file }`)."""
        return frozenset(
            Path(step.file.path)
            for compiled in self.flows.values()
            for step in compiled.steps
            if isinstance(step, AttachmentStep) and step.file is not None
        )

    @property
    def env_names(self) -> frozenset[str]:
        """The `${VAR}` secrets the flows' `http` steps name."""
        return frozenset(
            name
            for compiled in self.flows.values()
            for step in compiled.steps
            if isinstance(step, HttpStep)
            for name in step.env_names
        )

    def step_at(self, flow: str, position: int) -> Step | None:
        """The step a session points at (a waiting `ask`), if this version of the flows
        still has one there: a reload may have removed the flow or shortened it."""
        found = self.flows.get(flow)
        if found is None or not 0 <= position < len(found.steps):
            return None
        return found.steps[position]
