"""Flow checks a schema cannot express: Messenger's limits on literal values, and warnings.

Errors here are about literal values only: a string with Jinja syntax is checked when it is
rendered, at send time. Warnings look at the compiled Bot: a tap nothing answers, a flow
nothing starts, a template naming a variable templates do not have.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, TypeGuard
from urllib.parse import urlsplit

from runtime.bot import (
    AskStep,
    Bot,
    ButtonSpec,
    CompiledFlow,
    QuickReplySpec,
    Step,
    jump_targets,
)
from runtime.dialog.templates import (
    CONTEXT_NAMES,
    Expression,
    Template,
    has_jinja_syntax,
    undeclared_names,
)
from runtime.messenger.limits import LIMITS
from runtime.step_fields import step_values
from runtime.texts import Text
from runtime.validation.problems import Problem, ProblemCollector, Severity

# Messenger dials a phone_number button's payload: "+", the country code, then the number
_PHONE_NUMBER = re.compile(r"\+[0-9]{2,15}")
_WEB_SCHEMES = frozenset({"http", "https"})


# -- errors: limits on literal values -------------------------------------------------------


class _LiteralChecker(ProblemCollector):
    """Collects the limit errors of one flow file; `path` arguments are dotted key paths."""

    def count(self, items: Sequence[object], limit: int, noun: str, path: str) -> None:
        if len(items) > limit:
            self.problem(path, f"has {len(items)} {noun}; Messenger allows at most {limit}")

    def length(self, value: object, limit: int, path: str) -> None:
        if _is_literal(value) and len(value) > limit:
            self.problem(path, f"is {len(value)} characters; Messenger allows at most {limit}")

    def text_length(self, value: object, limit: int, path: str) -> None:
        """`length` of each string of a text a person reads: every locale's, every variation's,
        each at its own key path (`...title.fr_FR.1`)."""
        for where, text in _written_strings(value, path):
            self.length(text, limit, where)

    def url(self, value: object, path: str) -> None:
        if _is_literal(value) and not _is_web_url(value):
            self.problem(path, f"{value!r} is not an http(s) URL")

    def phone_number(self, value: object, path: str) -> None:
        if _is_literal(value) and not _PHONE_NUMBER.fullmatch(value):
            self.problem(
                path,
                f"{value!r} is not a phone number in international form:"
                " '+', the country code and the number, digits only, like '+15555550123'",
            )

    def flow(self, name: str, flow: Mapping[str, Any]) -> None:
        for number, trigger in enumerate(flow.get("triggers", [])):
            where = f"flows.{name}.triggers.{number}.payload"
            self.length(trigger.get("payload"), LIMITS.payload, where)
        for number, step in enumerate(flow.get("steps", [])):
            self.step(step, f"flows.{name}.steps.{number}")

    def step(self, step: Mapping[str, Any], path: str) -> None:
        # a long `text` is not an error: it goes out as several messages
        for key in ("ask", "retry"):  # one message each: the question the next answer answers
            self.text_length(step.get(key), LIMITS.text, f"{path}.{key}")
        replies = step.get("quick_replies", [])
        self.count(replies, LIMITS.quick_replies, "quick replies", f"{path}.quick_replies")
        for number, reply in enumerate(replies):
            where = f"{path}.quick_replies.{number}"
            self.text_length(reply.get("title"), LIMITS.quick_reply_title, f"{where}.title")
            self.length(reply.get("payload"), LIMITS.payload, f"{where}.payload")
            self.url(reply.get("image_url"), f"{where}.image_url")
        template = step.get("buttons")
        if isinstance(template, Mapping):
            self.text_length(
                template.get("text"), LIMITS.button_template_text, f"{path}.buttons.text"
            )
            self.buttons(template.get("buttons", []), f"{path}.buttons.buttons")
        cards = step.get("cards", [])
        self.count(cards, LIMITS.cards, "cards", f"{path}.cards")
        for number, card in enumerate(cards):
            self.card(card, f"{path}.cards.{number}")
        attachment = step.get("attachment")
        if isinstance(attachment, Mapping):
            self.url(attachment.get("url"), f"{path}.attachment.url")
        handover = step.get("handover")
        if isinstance(handover, Mapping):  # the note goes as the call's metadata
            self.length(handover.get("note"), LIMITS.thread_metadata, f"{path}.handover.note")

    def card(self, card: Mapping[str, Any], path: str) -> None:
        self.text_length(card.get("title"), LIMITS.card_title, f"{path}.title")
        self.text_length(card.get("subtitle"), LIMITS.card_subtitle, f"{path}.subtitle")
        self.url(card.get("image_url"), f"{path}.image_url")
        action = card.get("default_action")
        if isinstance(action, Mapping):
            self.url(action.get("url"), f"{path}.default_action.url")
        self.buttons(card.get("buttons", []), f"{path}.buttons")

    def buttons(self, buttons: Sequence[Mapping[str, Any]], path: str) -> None:
        self.count(buttons, LIMITS.buttons, "buttons", path)
        for number, button in enumerate(buttons):
            where = f"{path}.{number}"
            self.text_length(button.get("title"), LIMITS.button_title, f"{where}.title")
            self.length(button.get("payload"), LIMITS.payload, f"{where}.payload")
            if button.get("type") == "web_url":
                self.url(button.get("url"), f"{where}.url")
            if button.get("type") == "phone_number":
                self.phone_number(button.get("payload"), f"{where}.payload")


def check_literals(data: Mapping[str, object], *, file: str) -> list[Problem]:
    """Messenger's limits on the literal (template-free) values of one flow file.

    `data` is the file after schema validation (values of the wrong shape dropped), so each
    value present has the type the schema says.
    """
    checker = _LiteralChecker(file)
    flows = data.get("flows")
    if isinstance(flows, Mapping):  # else the schema has said what is wrong with it
        for name, flow in flows.items():
            checker.flow(name, flow)
    return checker.problems


def _written_strings(value: object, path: str) -> Iterator[tuple[str, object]]:
    """The strings of a text as a file writes it ("Hi", ["Hi", "Hello"], or a map by locale
    of either), each with its key path; what is no string is yielded as is (not a literal)."""
    if isinstance(value, Mapping):
        for locale, item in value.items():
            yield from _written_strings(item, f"{path}.{locale}")
    elif isinstance(value, list):
        for number, item in enumerate(value):
            yield f"{path}.{number}", item
    else:
        yield path, value


def _is_literal(value: object) -> TypeGuard[str]:
    """A string without Jinja syntax; a template's length is only known once rendered."""
    return isinstance(value, str) and not has_jinja_syntax(value)


def _is_web_url(text: str) -> bool:
    try:
        parts = urlsplit(text)
    except ValueError:  # such as "http://[::1" (an unclosed IPv6 address)
        return False
    return parts.scheme in _WEB_SCHEMES and bool(parts.netloc)


# -- warnings: the compiled bot as a whole --------------------------------------------------


class _Field(NamedTuple):
    """One template or `when` expression of a step, with its key path and what holds it."""

    path: str
    value: Template | Expression
    holder: object  # the step itself, or its quick reply, button or card


def flow_warnings(bot: Bot) -> list[Problem]:
    """Warnings about the flows together: taps nothing answers, flows nothing reaches."""
    reached = _reached_flows(bot)
    problems: list[Problem] = []
    for flow in bot.flows.values():
        if flow.name not in reached:
            message = (
                "no trigger starts this flow and no `goto` leads to it; give it triggers,"
                f' or go to it from another flow with {{ goto: "{flow.name}" }}'
            )
            problems.append(_warning(flow.file, f"flows.{flow.name}", message))
        for step in flow.steps:
            for field in _step_fields(step):
                found = _unhandled_payload(bot, step, field)
                if found is not None:
                    problems.append(_warning(step.source.file, field.path, found))
    return problems


def template_warnings(flows: Iterable[CompiledFlow]) -> list[Problem]:
    """Template names not in the context, in flows of one file (so a reload reuses them)."""
    problems: list[Problem] = []
    for flow in flows:
        for step in flow.steps:
            for field in _step_fields(step):
                found = _unknown_names(field)
                if found is not None:
                    problems.append(_warning(step.source.file, field.path, found))
    return problems


def _reached_flows(bot: Bot) -> set[str]:
    """Flows a trigger starts or another flow leads to (a `goto`, an `on_error`...; the
    fallback needs neither)."""
    index = bot.triggers
    reached = {*index.by_payload.values(), *index.by_keyword.values()}
    reached |= {*index.by_attachment.values(), *(flow for _, flow in index.regexes)}
    if index.fallback is not None:
        reached.add(index.fallback)
    for flow in bot.flows.values():
        reached |= {
            target for step in flow.steps for _, target in jump_targets(step) if target != flow.name
        }
    return reached


def _unknown_names(field: _Field) -> str | None:
    """A template naming a variable that is not in its context: a typo, most likely."""
    value = field.value
    if isinstance(value, Expression):
        names = undeclared_names(value.source, expression=True)
    elif value.is_literal:
        return None
    else:
        names = undeclared_names(value.source)
    if not names:
        return None
    quoted = [repr(name) for name in sorted(names)]
    named = " and ".join([", ".join(quoted[:-1]), quoted[-1]] if len(quoted) > 1 else quoted)
    return (
        f"names {named}, which templates do not have; they have {', '.join(sorted(CONTEXT_NAMES))}"
    )


def _unhandled_payload(bot: Bot, step: Step, field: _Field) -> str | None:
    """A tap on a quick reply or postback button whose payload no flow's trigger has.

    An `ask` step's quick replies are exempt: a tap on one answers the question.
    """
    holder = field.holder
    if not isinstance(holder, QuickReplySpec | ButtonSpec) or field.value is not holder.payload:
        return None
    if isinstance(step, AskStep) or (isinstance(holder, ButtonSpec) and holder.type != "postback"):
        return None
    value = field.value
    if not isinstance(value, Template) or not value.is_literal:
        return None
    if value.source in bot.triggers.by_payload:
        return None
    goes = (
        f"goes to the '{bot.triggers.fallback}' flow"
        if bot.triggers.fallback is not None
        else "gets no answer"
    )
    trigger = f"{{ payload: {json.dumps(value.source, ensure_ascii=False)} }}"
    return (
        f"no flow's triggers have {trigger}, so a tap on it {goes};"
        " add that trigger to the flow it should start"
    )


def _warning(file: str, path: str, message: str) -> Problem:
    return Problem(file=file, path=path, message=message, severity=Severity.WARNING)


def _step_fields(step: Step) -> Iterator[_Field]:
    """Every template and `when` expression of a step, in file order (a text's templates
    each at its own key path: `...title.fr_FR.1`)."""
    for found in step_values(step):
        if isinstance(found.value, Text):
            for written in found.value.written:
                yield _Field(f"{found.path}{written.suffix}", written.template, found.holder)
        else:
            yield _Field(found.path, found.value, found.holder)
