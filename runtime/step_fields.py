"""The values of a compiled step, each with its key path in its flow file.

The one walk of the step kinds' fields (runtime/bot.py): validation looks at every template
and `when` expression (runtime/validation/flows.py), the locale checks and a translator's
export at every text a person reads (`step_texts`). A new field of a step kind is added here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

from runtime.bot import (
    AskStep,
    AttachmentStep,
    ButtonSpec,
    ButtonsStep,
    CardsStep,
    DelayStep,
    GotoStep,
    HandoverStep,
    HttpStep,
    SetStep,
    Step,
    TextStep,
)
from runtime.dialog.templates import Expression, JsonTree, Template
from runtime.texts import Text


class StepValue(NamedTuple):
    """One template, `when` expression or text of a step, with its key path and its holder.

    A Text's path is its key's (`...quick_replies.0.title`); its templates' own paths add
    their `Written.suffix` (`...title.fr_FR.1`).
    """

    path: str
    value: Template | Expression | Text
    holder: object  # the step itself, or its quick reply, button or card


def step_values(step: Step) -> Iterator[StepValue]:
    """Every template, `when` expression and text of a step, in file order."""
    path = step.source.key_path
    yield from _present(step, path, ("when", step.when))
    if isinstance(step, TextStep):
        yield from _present(step, path, ("text", step.text))
    elif isinstance(step, ButtonsStep):
        yield from _present(step, path, ("buttons.text", step.text))
        yield from _buttons(step.buttons, f"{path}.buttons.buttons")
    elif isinstance(step, CardsStep):
        for number, card in enumerate(step.cards):
            where = f"{path}.cards.{number}"
            yield from _present(
                card,
                where,
                ("title", card.title),
                ("subtitle", card.subtitle),
                ("image_url", card.image_url),
                ("default_action.url", card.default_action_url),
            )
            yield from _buttons(card.buttons, f"{where}.buttons")
    elif isinstance(step, AttachmentStep):
        yield from _present(step, path, ("attachment.url", step.url))
    elif isinstance(step, AskStep):
        yield from _present(step, path, ("ask", step.prompt), ("retry", step.retry))
    elif isinstance(step, SetStep):
        yield from _present(step, f"{path}.set", *step.values)
    elif isinstance(step, HandoverStep):
        yield from _present(step, path, ("handover.note", step.note))
    elif isinstance(step, HttpStep):
        yield from _present(step, path, ("http.url", step.url))
        yield from _present(step, f"{path}.http.headers", *step.headers)
        if step.body is not None:
            yield from _body(step, f"{path}.http.json", step.body.tree)
    if not isinstance(step, SetStep | GotoStep | HandoverStep | HttpStep | DelayStep):
        for number, reply in enumerate(step.quick_replies):
            yield from _present(
                reply,
                f"{path}.quick_replies.{number}",
                ("title", reply.title),
                ("payload", reply.payload),
                ("image_url", reply.image_url),
            )


def step_texts(step: Step) -> Iterator[tuple[str, Text]]:
    """Every text a person reads of a step (`text`, `ask`, titles...) and its key path."""
    for found in step_values(step):
        if isinstance(found.value, Text):
            yield found.path, found.value


def _body(step: HttpStep, path: str, tree: JsonTree) -> Iterator[StepValue]:
    if isinstance(tree, Template | Expression):
        yield StepValue(path, tree, step)
    elif isinstance(tree, list):
        for number, item in enumerate(tree):
            yield from _body(step, f"{path}.{number}", item)
    elif isinstance(tree, dict):
        for key, item in tree.items():
            yield from _body(step, f"{path}.{key}", item)


def _buttons(buttons: Sequence[ButtonSpec], path: str) -> Iterator[StepValue]:
    for number, button in enumerate(buttons):
        yield from _present(
            button,
            f"{path}.{number}",
            ("title", button.title),
            ("payload", button.payload),
            ("url", button.url),
        )


def _present(holder: object, path: str, *fields: tuple[str, object]) -> Iterator[StepValue]:
    """The (key, value) pairs whose value is a template, expression or text (the rest are
    unset)."""
    for key, value in fields:
        if isinstance(value, Template | Expression | Text):
            yield StepValue(f"{path}.{key}", value, holder)
