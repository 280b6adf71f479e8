"""Rendering compiled steps into outbound messages that fit Messenger's limits.

Templates are rendered with the turn's context. Nothing here raises: a template that fails is
noted and the step goes out without the failing part (a quick reply, button or card is left
out; a failing main text drops the step's message; a failing optional part such as a card's
subtitle is left out alone). Rendered values are then fitted to LIMITS: long titles are cut
with an ellipsis, extra quick replies, buttons and cards are left out, a long text is split
into several messages (the quick replies go on the last one), at most
LIMITS.messages_per_text of them. Each cut is noted.

A text a person reads is a Text: the renderer takes the variations of the person's locale
(`vars.locale`, else the profile's `user.locale`; read at each text, so a `set` step that
changes `vars.locale` changes the language of the steps after it) and picks one at random.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Final, TypeGuard, TypeVar

from runtime.bot import (
    AskStep,
    AttachmentStep,
    ButtonSpec,
    ButtonsStep,
    CardSpec,
    CardsStep,
    QuickReplySpec,
    StepBase,
    StepSource,
    TextStep,
)
from runtime.dialog.messages import (
    Button,
    ButtonTemplate,
    Card,
    GenericTemplate,
    MediaAttachment,
    OutMessage,
    QuickReply,
    TextMessage,
)
from runtime.dialog.notes import Notes
from runtime.dialog.templates import Template
from runtime.locales import normalize_locale
from runtime.messenger.limits import LIMITS, fit, split_message_text
from runtime.texts import Text

# which variation to send: nothing secret hangs on it (the OS's randomness, `secrets`, costs a
# system call a pick)
_random = random.Random().random  # noqa: S311
_UNREAD: Final = object()  # no vars.locale read yet
MessageStep = TextStep | ButtonsStep | CardsStep | AttachmentStep
_Item = TypeVar("_Item")


class Renderer:
    """Renders the steps of one turn with one context, writing problems to `notes`.

    With `variations` (a dict, for `runtime test` and `runtime chat`), each text picked among
    variations is recorded with all of them, rendered: `variations[sent]` is the set `sent`
    was picked from.
    """

    __slots__ = ("_locale", "_seen", "_vars", "context", "notes", "variations")

    def __init__(
        self,
        context: Mapping[str, object],
        notes: Notes,
        *,
        variations: dict[str, frozenset[str]] | None = None,
    ) -> None:
        self.context = context
        self.notes = notes
        self.variations = variations
        # `vars` is a live view of the turn's variables: a `set` step may change vars.locale
        found = context.get("vars")
        self._vars: Mapping[str, object] = found if _is_mapping(found) else {}
        self._seen: object = _UNREAD  # the vars.locale `_locale` was worked out from
        self._locale: str | None = None

    # -- single values -------------------------------------------------------------------
    @property
    def locale(self) -> str | None:
        """The person's locale, Meta's form: `vars.locale`, else `user.locale`, else None.

        Read for every text of a turn that has locales: only `vars` can change within one,
        so the rest is worked out again only when `vars.locale` changed.
        """
        chosen = self._vars.get("locale")
        if chosen is not self._seen:
            self._locale = normalize_locale(chosen or _field(self.context.get("user"), "locale"))
            self._seen = chosen
        return self._locale

    def choose(self, text: Template | Text) -> Template:
        """The template to send of `text`: the person's locale's, one of its variations."""
        if isinstance(text, Template):
            return text
        single = text.single
        if single is not None:
            return single
        choices = text.choices(self.locale)
        return choices[0] if len(choices) == 1 else choices[int(_random() * len(choices))]

    def all_of(self, text: Text) -> tuple[Template, ...]:
        """Every variation of `text` the person's locale has (a typed answer may be any)."""
        single = text.single
        return (single,) if single is not None else text.choices(self.locale)

    def render(
        self, template: Template | Text, source: StepSource, field: str, consequence: str
    ) -> str | None:
        """`template` (of a Text: the variation chosen) rendered, or None (noted) when it
        raised."""
        chosen = self.choose(template)
        try:
            value = chosen.render(self.context)
            if self.variations is not None and isinstance(template, Text):
                self._record(template, value, self.variations)
            return value
        # a template may raise anything (UndefinedError, a filter's TypeError, ZeroDivisionError,
        # the sandbox's SecurityError): it is the flow author's bug, and the turn goes on
        except Exception as err:
            self.notes.failure(source, field, err, consequence)
            return None

    def _record(self, text: Text, sent: str, variations: dict[str, frozenset[str]]) -> None:
        choices = self.all_of(text)
        if len(choices) < 2:
            return
        rendered = set()
        for choice in choices:
            try:
                rendered.add(choice.render(self.context))
            except Exception:  # noqa: S112 - a failing variation is noted when it is picked
                continue
        variations[sent] = frozenset(rendered)

    def is_shown(self, step: StepBase) -> bool:
        """The step's `when`; an expression that raises counts as false."""
        if step.when is None:
            return True
        try:
            return step.when.is_true(self.context)
        except Exception as err:  # as in render(): never lose the turn to a flow's bug
            self.notes.failure(step.source, "when", err, "the step is skipped")
            return False

    def _required(
        self, template: Template | Text | None, source: StepSource, field: str, consequence: str
    ) -> str | None:
        if template is None:
            self.notes.add(source, field, f"is missing; {consequence}")
            return None
        value = self.render(template, source, field, consequence)
        if value is not None and not value.strip():
            self.notes.add(source, field, f"renders empty; {consequence}")
            return None
        return value

    def _optional(
        self, template: Template | Text | None, source: StepSource, field: str
    ) -> str | None:
        """An optional part: left out when it fails or renders empty."""
        if template is None:
            return None
        value = self.render(template, source, field, "it is left out")
        return value if value and value.strip() else None

    def _fit(self, value: str, limit: int, source: StepSource, field: str) -> str:
        if len(value) > limit:
            self.notes.add(
                source, field, f"is {len(value)} characters after rendering; cut to {limit}"
            )
            return fit(value, limit)
        return value

    def _payload(self, value: str, source: StepSource, field: str) -> str:
        # no ellipsis: a payload is matched, not read, and the cut one will not match anyway
        if len(value) > LIMITS.payload:
            message = f"is {len(value)} characters after rendering; cut to {LIMITS.payload}"
            self.notes.add(source, field, message)
            return value[: LIMITS.payload]
        return value

    def _cap(
        self, items: list[_Item], limit: int, source: StepSource, field: str, what: str
    ) -> tuple[_Item, ...]:
        if len(items) > limit:
            message = f"{len(items)} {what} after rendering; Messenger takes {limit}, "
            message += "the rest are left out"
            self.notes.add(source, field, message)
        return tuple(items[:limit])

    # -- parts ---------------------------------------------------------------------------
    def quick_replies(
        self, specs: Sequence[QuickReplySpec], source: StepSource
    ) -> tuple[QuickReply, ...]:
        replies = []
        for number, spec in enumerate(specs):
            reply = self._quick_reply(spec, source, f"quick_replies.{number}")
            if reply is not None:
                replies.append(reply)
        return self._cap(replies, LIMITS.quick_replies, source, "quick_replies", "quick replies")

    def _quick_reply(
        self, spec: QuickReplySpec, source: StepSource, path: str
    ) -> QuickReply | None:
        if spec.content_type != "text":  # user_email, user_phone_number: Messenger fills them in
            return QuickReply(content_type=spec.content_type)
        dropped = "the quick reply is left out"
        title = self._required(spec.title, source, f"{path}.title", dropped)
        if title is None:
            return None
        payload = self._required(spec.payload, source, f"{path}.payload", dropped)
        if payload is None:
            return None
        return QuickReply(
            title=self._fit(title, LIMITS.quick_reply_title, source, f"{path}.title"),
            payload=self._payload(payload, source, f"{path}.payload"),
            image_url=self._optional(spec.image_url, source, f"{path}.image_url"),
        )

    def quick_reply_payloads(self, specs: Sequence[QuickReplySpec]) -> frozenset[str]:
        """The payloads a tap on one of these quick replies sends back.

        Quiet: whatever fails here was noted when the quick replies were sent.
        """
        payloads = set()
        for spec in specs:
            if spec.content_type != "text" or spec.payload is None:
                continue
            try:
                payloads.add(spec.payload.render(self.context)[: LIMITS.payload])
            except Exception:  # noqa: S112 - noted when the quick reply was sent
                continue
        return frozenset(payloads)

    def quick_reply_choices(self, specs: Sequence[QuickReplySpec]) -> tuple[tuple[str, str], ...]:
        """The (title, payload) of each text quick reply: what a `choice` answer names; a
        title with variations gives one pair each (the person may type any they were shown).

        Quiet, as quick_reply_payloads: a failure was noted when the quick replies were sent.
        """
        choices = []
        for spec in specs:
            if spec.content_type != "text" or spec.title is None or spec.payload is None:
                continue
            try:
                payload = spec.payload.render(self.context)[: LIMITS.payload]
            except Exception:  # noqa: S112 - noted when the quick reply was sent
                continue
            for title in self.all_of(spec.title):
                try:
                    choices.append((title.render(self.context), payload))
                except Exception:  # noqa: S112 - noted when the quick reply was sent
                    continue
        return tuple(choices)

    def buttons(
        self, specs: Sequence[ButtonSpec], source: StepSource, path: str
    ) -> tuple[Button, ...]:
        buttons = []
        for number, spec in enumerate(specs):
            button = self._button(spec, source, f"{path}.{number}")
            if button is not None:
                buttons.append(button)
        return self._cap(buttons, LIMITS.buttons, source, path, "buttons")

    def _button(self, spec: ButtonSpec, source: StepSource, path: str) -> Button | None:
        dropped = "the button is left out"
        title = self._required(spec.title, source, f"{path}.title", dropped)
        if title is None:
            return None
        title = self._fit(title, LIMITS.button_title, source, f"{path}.title")
        if spec.type == "web_url":
            url = self._required(spec.url, source, f"{path}.url", dropped)
            return None if url is None else Button(type=spec.type, title=title, url=url.strip())
        payload = self._required(spec.payload, source, f"{path}.payload", dropped)
        if payload is None:
            return None
        payload = self._payload(payload, source, f"{path}.payload")
        return Button(type=spec.type, title=title, payload=payload)

    def _card(self, spec: CardSpec, source: StepSource, path: str) -> Card | None:
        title = self._required(spec.title, source, f"{path}.title", "the card is left out")
        if title is None:
            return None
        subtitle = self._optional(spec.subtitle, source, f"{path}.subtitle")
        image_url = self._optional(spec.image_url, source, f"{path}.image_url")
        default_url = self._optional(spec.default_action_url, source, f"{path}.default_action.url")
        return Card(
            title=self._fit(title, LIMITS.card_title, source, f"{path}.title"),
            subtitle=(
                None
                if subtitle is None
                else self._fit(subtitle, LIMITS.card_subtitle, source, f"{path}.subtitle")
            ),
            image_url=None if image_url is None else image_url.strip(),
            default_action_url=None if default_url is None else default_url.strip(),
            buttons=self.buttons(spec.buttons, source, f"{path}.buttons"),
        )

    # -- messages ------------------------------------------------------------------------
    def messages(self, step: MessageStep) -> list[OutMessage]:
        """The messages one text, buttons, cards or attachment step sends (maybe none)."""
        source = step.source
        if isinstance(step, TextStep):
            return self._text(step.text, step.quick_replies, source, "text")
        if isinstance(step, ButtonsStep):
            return self._button_template(step)
        if isinstance(step, CardsStep):
            return self._generic_template(step)
        if step.file is not None:  # uploaded by the sender; checked when compiled
            replies = self.quick_replies(step.quick_replies, source)
            return [MediaAttachment(type=step.type, file=step.file, quick_replies=replies)]
        url = self._required(step.url, source, "attachment.url", "the attachment is not sent")
        if url is None:
            return []
        replies = self.quick_replies(step.quick_replies, source)
        return [MediaAttachment(type=step.type, url=url.strip(), quick_replies=replies)]

    def prompt(self, step: AskStep, *, again: bool = False) -> list[OutMessage]:
        """An ask's prompt; `again` sends its `retry` text instead, or the prompt if it has none
        (or if the retry fails to render)."""
        if again and step.retry is not None:
            messages = self._text(step.retry, step.quick_replies, step.source, "retry")
            if messages:
                return messages
        return self._text(step.prompt, step.quick_replies, step.source, "ask")

    def _text(
        self,
        template: Template | Text,
        quick_replies: Sequence[QuickReplySpec],
        source: StepSource,
        field: str,
    ) -> list[OutMessage]:
        text = self._required(template, source, field, "no message is sent")
        if text is None:
            return []
        return self._text_messages(text, self.quick_replies(quick_replies, source), source, field)

    def _text_messages(
        self, text: str, replies: tuple[QuickReply, ...], source: StepSource, field: str
    ) -> list[OutMessage]:
        """`text` as one message, or several when it is too long: quick replies on the last.

        Never more than LIMITS.messages_per_text: what does not fit in them is cut (noted),
        so no text, whatever a person sent for it to echo, floods the conversation.
        """
        parts = [text]
        if len(text) > LIMITS.text:
            parts, left_out = split_message_text(text)
            if left_out:
                message = f"is {len(text)} characters after rendering, more than "
                message += f"{LIMITS.messages_per_text} messages of {LIMITS.text} hold; "
                message += f"the last {left_out} characters are left out"
                self.notes.add(source, field, message)
        messages: list[OutMessage] = [TextMessage(text=part) for part in parts[:-1]]
        messages.append(TextMessage(text=parts[-1], quick_replies=replies))
        return messages

    def _button_template(self, step: ButtonsStep) -> list[OutMessage]:
        source = step.source
        text = self._required(step.text, source, "buttons.text", "no message is sent")
        if text is None:
            return []
        buttons = self.buttons(step.buttons, source, "buttons.buttons")
        replies = self.quick_replies(step.quick_replies, source)
        if not buttons:
            # a button template needs a button; the text alone still says something
            self.notes.add(source, "buttons.buttons", "no button is left; sent as plain text")
            return self._text_messages(text, replies, source, "buttons.text")
        text = self._fit(text, LIMITS.button_template_text, source, "buttons.text")
        return [ButtonTemplate(text=text, buttons=buttons, quick_replies=replies)]

    def _generic_template(self, step: CardsStep) -> list[OutMessage]:
        source = step.source
        cards = []
        for number, spec in enumerate(step.cards):
            card = self._card(spec, source, f"cards.{number}")
            if card is not None:
                cards.append(card)
        if not cards:
            self.notes.add(source, "cards", "no card is left; no message is sent")
            return []
        kept = self._cap(cards, LIMITS.cards, source, "cards", "cards")
        replies = self.quick_replies(step.quick_replies, source)
        return [GenericTemplate(cards=kept, quick_replies=replies)]


def _field(holder: object, key: str) -> object:
    """`holder[key]` of a context mapping (`vars`, `user`), or None."""
    return holder.get(key) if _is_mapping(holder) else None


def _is_mapping(value: object) -> TypeGuard[Mapping[str, object]]:
    """isinstance(value, Mapping), the mappings a context holds first (an ABC check is slow)."""
    return type(value) in _CONTEXT_MAPPINGS or isinstance(value, Mapping)


_CONTEXT_MAPPINGS: Final = frozenset({dict, MappingProxyType})
