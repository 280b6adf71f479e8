"""compile_bot: the config and the flow documents -> one immutable Bot; nothing else builds one.

Compiling is also the deepest check: every template, `when` expression and regex is compiled
here, triggers are indexed (a payload or keyword claimed twice is an error) and every `goto`
is resolved, so whatever `runtime validate` accepts can run.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import jinja2

from runtime.bot import (
    FALLBACK_FLOW,
    AnswerCheck,
    AnswerKind,
    AskStep,
    AttachmentStep,
    Bot,
    ButtonSpec,
    ButtonsStep,
    CardSpec,
    CardsStep,
    CompiledFlow,
    GotoStep,
    QuickReplySpec,
    SetStep,
    Step,
    StepSource,
    TextStep,
    TriggerIndex,
    normalize_keyword,
)
from runtime.config.json5file import Document
from runtime.config.model import Account, Config
from runtime.dialog.templates import Expression, Template
from runtime.validation.flows import check_literals, flow_warnings
from runtime.validation.problems import Problem
from runtime.validation.schema import drop_invalid, validate_document

DEFAULT_PAIRING_MESSAGE = (
    "Hi! This bot only talks to people its owner has approved. Your pairing code is {{ code }}."
    " To approve you, the owner runs: runtime pair approve messenger {{ code }}"
)
STEP_KINDS = ("text", "buttons", "cards", "attachment", "ask", "set", "goto")
TRIGGER_KINDS = ("payload", "keywords", "regex", "attachment")
_ASK_ONLY = ("save_as", "validate", "retry")
_NO_QUICK_REPLIES = ("set", "goto")


class _Compiler:
    """Collects problems while compiling one file's flows; never stops at the first."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(file=self.file, path=path, message=message))

    def template(self, source: str, path: str) -> Template:
        try:
            return Template(source)
        except jinja2.TemplateSyntaxError as err:
            where = f" on line {err.lineno} of the template" if err.lineno else ""
            self.problem(path, f"Jinja syntax error{where}: {err.message}")
            return Template("")

    def optional(self, data: Mapping[str, Any], key: str, path: str) -> Template | None:
        value = data.get(key)
        return self.template(value, f"{path}.{key}") if isinstance(value, str) else None

    def regex(self, source: str, path: str) -> re.Pattern[str] | None:
        try:
            return re.compile(source)
        except re.error as err:
            self.problem(path, f"regex does not compile: {err}")
            return None

    # -- steps -------------------------------------------------------------------------------
    def flow(self, name: str, data: Mapping[str, Any]) -> CompiledFlow:
        steps: list[Step] = []
        for index, step in enumerate(data.get("steps", [])):
            source = StepSource(file=self.file, flow=name, index=index)
            compiled = self.step(step, source)
            if compiled is not None:
                steps.append(compiled)
        return CompiledFlow(name=name, file=self.file, steps=tuple(steps))

    def step(self, data: Mapping[str, Any], source: StepSource) -> Step | None:
        path = source.key_path
        kinds = [kind for kind in STEP_KINDS if kind in data]
        if len(kinds) != 1:
            found = f"has {', '.join(kinds)}" if kinds else "has none"
            self.problem(path, f"a step needs exactly one of {', '.join(STEP_KINDS)}; {found}")
            return None
        kind = kinds[0]
        for key in _ASK_ONLY:
            if key in data and kind != "ask":
                self.problem(f"{path}.{key}", f"is only used with `ask`, not with `{kind}`")
        if "quick_replies" in data and kind in _NO_QUICK_REPLIES:
            self.problem(
                f"{path}.quick_replies", f"a `{kind}` step sends no message to put them on"
            )
        when = None
        if isinstance(data.get("when"), str):
            try:
                when = Expression(data["when"])
            except jinja2.TemplateSyntaxError as err:
                self.problem(f"{path}.when", f"expression does not parse: {err.message}")
        quick_replies = self.quick_replies(data.get("quick_replies", []), f"{path}.quick_replies")
        common: dict[str, Any] = {"source": source, "when": when}
        if kind == "text":
            return TextStep(
                **common,
                text=self.template(data["text"], f"{path}.text"),
                quick_replies=quick_replies,
            )
        if kind == "buttons":
            spec = data["buttons"]
            return ButtonsStep(
                **common,
                text=self.template(spec["text"], f"{path}.buttons.text"),
                buttons=self.buttons(spec.get("buttons", []), f"{path}.buttons.buttons"),
                quick_replies=quick_replies,
            )
        if kind == "cards":
            cards = tuple(
                self.card(card, f"{path}.cards.{number}")
                for number, card in enumerate(data["cards"])
            )
            return CardsStep(**common, cards=cards, quick_replies=quick_replies)
        if kind == "attachment":
            spec = data["attachment"]
            return AttachmentStep(
                **common,
                type=spec["type"],
                url=self.template(spec["url"], f"{path}.attachment.url"),
                quick_replies=quick_replies,
            )
        if kind == "ask":
            return self.ask(data, common, quick_replies)
        if kind == "set":
            values = tuple(
                (
                    name,
                    self.template(value, f"{path}.set.{name}") if isinstance(value, str) else value,
                )
                for name, value in data["set"].items()
            )
            return SetStep(**common, values=values)
        return GotoStep(**common, flow=data["goto"])

    def ask(
        self,
        data: Mapping[str, Any],
        common: dict[str, Any],
        quick_replies: tuple[QuickReplySpec, ...],
    ) -> AskStep | None:
        path = common["source"].key_path
        if "save_as" not in data:
            self.problem(
                f"{path}.save_as", "is required with `ask`: the variable the answer goes in"
            )
            return None
        return AskStep(
            **common,
            prompt=self.template(data["ask"], f"{path}.ask"),
            save_as=data["save_as"],
            check=self.answer_check(data.get("validate"), f"{path}.validate"),
            retry=self.optional(data, "retry", path),
            quick_replies=quick_replies,
        )

    def answer_check(self, spec: object, path: str) -> AnswerCheck | None:
        if spec is None:
            return None
        if isinstance(spec, Mapping):
            pattern = self.regex(str(spec.get("regex", "")), f"{path}.regex")
            return AnswerCheck(kind=AnswerKind.REGEX, pattern=pattern) if pattern else None
        named = {kind.value for kind in AnswerKind} - {AnswerKind.REGEX.value}
        if spec in named:
            return AnswerCheck(kind=AnswerKind(spec))
        self.problem(
            path,
            f'unknown value {spec!r}; expected one of email, number, phone, or {{ regex: "..." }}',
        )
        return None

    def quick_replies(
        self, items: Sequence[Mapping[str, Any]], path: str
    ) -> tuple[QuickReplySpec, ...]:
        replies = []
        for number, item in enumerate(items):
            where = f"{path}.{number}"
            content_type = item.get("content_type", "text")
            if content_type == "text" and not ("title" in item and "payload" in item):
                self.problem(where, "a text quick reply needs a title and a payload")
            replies.append(
                QuickReplySpec(
                    content_type=content_type,
                    title=self.optional(item, "title", where),
                    payload=self.optional(item, "payload", where),
                    image_url=self.optional(item, "image_url", where),
                )
            )
        return tuple(replies)

    def buttons(self, items: Sequence[Mapping[str, Any]], path: str) -> tuple[ButtonSpec, ...]:
        buttons = []
        for number, item in enumerate(items):
            where = f"{path}.{number}"
            needs = "url" if item["type"] == "web_url" else "payload"
            if needs not in item:
                self.problem(where, f"a {item['type']} button needs a `{needs}`")
            buttons.append(
                ButtonSpec(
                    type=item["type"],
                    title=self.template(item["title"], f"{where}.title"),
                    payload=self.optional(item, "payload", where),
                    url=self.optional(item, "url", where),
                )
            )
        return tuple(buttons)

    def card(self, data: Mapping[str, Any], path: str) -> CardSpec:
        action = data.get("default_action")
        return CardSpec(
            title=self.template(data["title"], f"{path}.title"),
            subtitle=self.optional(data, "subtitle", path),
            image_url=self.optional(data, "image_url", path),
            default_action_url=(
                self.template(action["url"], f"{path}.default_action.url")
                if isinstance(action, Mapping)
                else None
            ),
            buttons=self.buttons(data.get("buttons", []), f"{path}.buttons"),
        )


def compile_bot(config: Config, documents: Sequence[Document]) -> tuple[Bot | None, list[Problem]]:
    """Compile the flows; return the Bot (None if anything is an error) and every problem."""
    problems: list[Problem] = []
    flows: dict[str, CompiledFlow] = {}
    triggers: list[tuple[str, str, str, Mapping[str, Any]]] = []  # (file, flow, path, trigger)
    for document in documents:
        file = document.display
        data, schema_problems = validate_document(document.data, "flow", file=file)
        problems.extend(schema_problems)
        # a flow the schema found wrong is not compiled (its problems are reported already),
        # but its name still exists, so a goto to it is not reported as well
        broken = {problem.path.split(".")[1] for problem in schema_problems if "." in problem.path}
        data = drop_invalid(data, schema_problems)
        # a name with a "." (reported by the schema) makes a key path drop_invalid cannot
        # follow, so its values were not pruned: leave the whole flow out
        pruned = data.get("flows")
        if isinstance(pruned, dict):
            data["flows"] = {name: flow for name, flow in pruned.items() if "." not in name}
        problems.extend(check_literals(data, file=file))
        compiler = _Compiler(file)
        declared: Mapping[str, Any] = data.get("flows") or {}  # type: ignore[assignment]
        for name, definition in declared.items():
            if name in flows:
                compiler.problem(
                    f"flows.{name}", f"flow '{name}' is already defined in {flows[name].file}"
                )
                continue
            if name in broken:
                flows[name] = CompiledFlow(name=name, file=file, steps=())
                continue
            flows[name] = compiler.flow(name, definition)
            for number, trigger in enumerate(definition.get("triggers", [])):
                triggers.append((file, name, f"flows.{name}.triggers.{number}", trigger))
        problems.extend(compiler.problems)

    index, trigger_problems = _index_triggers(triggers, flows)
    problems.extend(trigger_problems)
    problems.extend(_check_gotos(flows))
    pairing, pairing_problems = _pairing_messages(config)
    problems.extend(pairing_problems)
    if any(problem.is_error for problem in problems):
        return None, problems

    bot = Bot(
        version=_version(config, documents),
        config=config,
        flows=MappingProxyType(flows),
        triggers=index,
        pairing_messages=MappingProxyType(pairing),
        accounts_by_page_id=MappingProxyType(_accounts_by_page_id(config)),
    )
    problems.extend(flow_warnings(bot))
    return bot, problems


def _index_triggers(
    triggers: Sequence[tuple[str, str, str, Mapping[str, Any]]], flows: Mapping[str, CompiledFlow]
) -> tuple[TriggerIndex, list[Problem]]:
    problems: list[Problem] = []
    by_payload: dict[str, str] = {}
    by_keyword: dict[str, str] = {}
    by_attachment: dict[str, str] = {}
    regexes: list[tuple[re.Pattern[str], str]] = []

    def claim(table: dict[str, str], key: str, flow: str, file: str, path: str, what: str) -> None:
        owner = table.setdefault(key, flow)
        if owner != flow:
            message = f"{what} {key!r} is already claimed by flow '{owner}' ({flows[owner].file})"
            problems.append(Problem(file=file, path=path, message=message))

    for file, flow, path, trigger in triggers:
        kinds = [kind for kind in TRIGGER_KINDS if kind in trigger]
        if len(kinds) != 1:
            found = f"has {', '.join(kinds)}" if kinds else "has none"
            message = f"a trigger needs exactly one of {', '.join(TRIGGER_KINDS)}; {found}"
            problems.append(Problem(file=file, path=path, message=message))
            continue
        if "payload" in trigger:
            claim(by_payload, trigger["payload"], flow, file, f"{path}.payload", "payload")
        elif "keywords" in trigger:
            for number, keyword in enumerate(trigger["keywords"]):
                where = f"{path}.keywords.{number}"
                claim(by_keyword, normalize_keyword(keyword), flow, file, where, "keyword")
        elif "attachment" in trigger:
            where = f"{path}.attachment"
            claim(by_attachment, trigger["attachment"], flow, file, where, "attachment type")
        else:
            compiler = _Compiler(file)
            pattern = compiler.regex(trigger["regex"], f"{path}.regex")
            problems.extend(compiler.problems)
            if pattern is not None:
                regexes.append((pattern, flow))
    index = TriggerIndex(
        by_payload=MappingProxyType(by_payload),
        by_keyword=MappingProxyType(by_keyword),
        by_attachment=MappingProxyType(by_attachment),
        regexes=tuple(regexes),
        fallback=FALLBACK_FLOW if FALLBACK_FLOW in flows else None,
    )
    return index, problems


def _check_gotos(flows: Mapping[str, CompiledFlow]) -> list[Problem]:
    problems = []
    for flow in flows.values():
        for step in flow.steps:
            if isinstance(step, GotoStep) and step.flow not in flows:
                message = f"no flow is named '{step.flow}'"
                close = difflib.get_close_matches(step.flow, list(flows), n=1)
                if close:
                    message += f"; did you mean '{close[0]}'?"
                path = f"{step.source.key_path}.goto"
                problems.append(Problem(file=flow.file, path=path, message=message))
    return problems


def _pairing_messages(config: Config) -> tuple[dict[str, Template], list[Problem]]:
    compiler = _Compiler(str(config.path))
    messages = {
        account.id: compiler.template(
            account.pairing_message or DEFAULT_PAIRING_MESSAGE, f"{account.key_path}.pairingMessage"
        )
        for account in config.accounts.values()
    }
    return messages, compiler.problems


def _accounts_by_page_id(config: Config) -> dict[str, Account]:
    return {account.page_id: account for account in config.accounts.values() if account.page_id}


def _version(config: Config, documents: Sequence[Document]) -> str:
    digest = hashlib.sha256(config.version.encode())
    for document in documents:
        digest.update(document.display.encode() + b"\0" + document.raw)
    return digest.hexdigest()[:12]
