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
from dataclasses import dataclass, field
from pathlib import Path
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
    HandoverStep,
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
from runtime.dialog.effects import NAMED_APPS
from runtime.dialog.templates import Expression, Template, undeclared_names
from runtime.dialog.user_fields import used_user_fields
from runtime.validation.cycles import goto_cycle_problems
from runtime.validation.flows import check_literals, flow_warnings, template_warnings
from runtime.validation.media import MediaFiles, Stamp, files_outside, unchanged
from runtime.validation.problems import Problem, ProblemCollector, Severity
from runtime.validation.profile import profile_warnings
from runtime.validation.schema import drop_invalid, validate_document

DEFAULT_PAIRING_MESSAGE = (
    "Hi! This bot only talks to people its owner has approved. Your pairing code is {{ code }}."
    " To approve you, the owner runs: runtime pair approve messenger {{ code }}"
)
STEP_KINDS = ("text", "buttons", "cards", "attachment", "ask", "set", "goto", "handover")
TRIGGER_KINDS = ("payload", "keywords", "regex", "attachment")
_ASK_ONLY = ("save_as", "validate", "retry")
_NO_QUICK_REPLIES = ("set", "goto", "handover")
# (key, why it is needed, how to add it) for the keys a text quick reply needs
_QUICK_REPLY_KEYS = (
    ("title", "a text quick reply shows it on its button", 'add title: "Yes"'),
    ("payload", "a text quick reply sends it back when tapped", 'add payload: "YES"'),
)
# by button type: the key it needs, why, and how to add it
_BUTTON_KEYS = {
    "web_url": ("url", "a web_url button opens it", 'add url: "https://example.com"'),
    "postback": ("payload", "a postback button sends it back when tapped", 'add payload: "BUY"'),
    "phone_number": (
        "payload",
        "a phone_number button calls the number in it",
        'add payload: "+15105551234"',
    ),
}


class _Compiler(ProblemCollector):
    """Compiles one file's flows, collecting every problem on the way."""

    def __init__(self, file: str, folder: Path | None = None) -> None:
        super().__init__(file)
        self.media = MediaFiles(folder or Path(), file)  # `file` attachments: from `folder`

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

    def trigger(self, flow: str, path: str, data: Mapping[str, Any]) -> list[TriggerSpec]:
        kinds = [kind for kind in TRIGGER_KINDS if kind in data]
        if len(kinds) != 1:
            found = f"has {', '.join(kinds)}" if kinds else "has none"
            self.problem(
                path, f"a trigger needs exactly one of {', '.join(TRIGGER_KINDS)}; {found}"
            )
            return []
        if "payload" in data:
            return [TriggerSpec(flow, f"{path}.payload", "payload", data["payload"])]
        if "keywords" in data:
            return [
                TriggerSpec(flow, f"{path}.keywords.{number}", "keyword", normalize_keyword(word))
                for number, word in enumerate(data["keywords"])
            ]
        if "attachment" in data:
            return [TriggerSpec(flow, f"{path}.attachment", "attachment type", data["attachment"])]
        pattern = self.regex(data["regex"], f"{path}.regex")
        if pattern is None:
            return []
        return [TriggerSpec(flow, f"{path}.regex", "regex", data["regex"], pattern)]

    # -- steps -------------------------------------------------------------------------------
    def flow(self, name: str, data: Mapping[str, Any]) -> CompiledFlow:
        steps: list[Step] = []
        for index, step in enumerate(data.get("steps", [])):
            source = StepSource(file=self.file, flow=name, index=index)
            compiled = self.step(step, source)
            if compiled is not None:
                steps.append(compiled)
        self.after_handover(name, data.get("steps", []))
        return CompiledFlow(name=name, file=self.file, steps=tuple(steps))

    def after_handover(self, name: str, steps: Sequence[Mapping[str, Any]]) -> None:
        """Steps after a handover with no `when` never run: the turn ends at the handover,
        and the bot answers nothing more until the thread comes back. An error, not a
        warning: a message written there ("A human will answer soon") would silently
        never be sent."""
        for index, step in enumerate(steps[:-1]):
            if "handover" in step and "when" not in step:
                self.problem(
                    f"flows.{name}.steps.{index + 1}",
                    f"never runs: the handover at flows.{name}.steps.{index} ends the turn,"
                    " and the bot says nothing more until the thread comes back; move this"
                    " step (and those after it) before the handover, or give the handover a"
                    " `when`",
                )
                return

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
            return self.attachment(data["attachment"], common, quick_replies)
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
        if kind == "handover":
            return self.handover(data["handover"], common)
        return GotoStep(**common, flow=data["goto"])

    def attachment(
        self,
        spec: Mapping[str, Any],
        common: dict[str, Any],
        quick_replies: tuple[QuickReplySpec, ...],
    ) -> AttachmentStep | None:
        """By `url` (a template), or a `file` of the bot's folder, checked and hashed now."""
        path = f"{common['source'].key_path}.attachment"
        sources = [key for key in ("url", "file") if key in spec]
        if len(sources) != 1:
            found = "it has both: keep one" if sources else "it has neither"
            self.problem(
                path,
                f"an attachment needs exactly one of url, file; {found}"
                ' (url: "https://example.com/logo.png", or file: "media/logo.png", a path'
                " relative to the flow file)",
            )
            return None
        if "url" in spec:
            url = self.template(spec["url"], f"{path}.url")
            return AttachmentStep(**common, type=spec["type"], url=url, quick_replies=quick_replies)
        file, problems = self.media.check(spec["file"], spec["type"], f"{path}.file")
        self.problems.extend(problems)
        if file is None:
            return None
        return AttachmentStep(**common, type=spec["type"], file=file, quick_replies=quick_replies)

    def ask(
        self,
        data: Mapping[str, Any],
        common: dict[str, Any],
        quick_replies: tuple[QuickReplySpec, ...],
    ) -> AskStep | None:
        path = common["source"].key_path
        if "save_as" not in data:
            self.missing(
                f"{path}.save_as",
                why="an `ask` keeps the answer in a variable",
                fix='add save_as: "email" (the answer is then vars.email)',
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

    def handover(self, spec: Mapping[str, Any], common: dict[str, Any]) -> HandoverStep | None:
        """`to`: "inbox" (the Page Inbox) or an app id, as a number or a string of digits."""
        path = f"{common['source'].key_path}.handover"
        to = str(spec["to"])
        target = NAMED_APPS.get(to) or (to if to.isdigit() and to.isascii() else None)
        if target is None:
            close = difflib.get_close_matches(to.strip().casefold(), list(NAMED_APPS), n=1)
            self.problem(
                f"{path}.to",
                f'unknown target {to!r}; expected "inbox" (the Page Inbox, where the page\'s'
                " people answer) or the numeric id of the app to pass the thread to"
                + (f'; did you mean "{close[0]}"?' if close else ""),
            )
            return None
        note = self.optional(spec, "note", path)
        return HandoverStep(**common, to=to, target_app_id=target, note=note)

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
            if content_type == "text":
                for key, why, fix in _QUICK_REPLY_KEYS:
                    if key not in item:
                        self.missing(f"{where}.{key}", why=why, fix=fix)
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
            needs, why, fix = _BUTTON_KEYS[item["type"]]
            if needs not in item:
                self.missing(f"{where}.{needs}", why=why, fix=fix)
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


@dataclass(frozen=True, slots=True)
class TriggerSpec:
    """One trigger of one flow, compiled: `kind` is payload, keyword, attachment or regex."""

    flow: str
    path: str
    kind: str
    key: str  # the payload, the normalized keyword, the attachment type, or the regex source
    pattern: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True)
class CompiledDocument:
    """One flow file compiled on its own: what linking the whole Bot starts from."""

    document: Document
    digest: bytes
    flows: tuple[CompiledFlow, ...]
    triggers: tuple[TriggerSpec, ...]
    problems: tuple[Problem, ...]  # its errors, and the warnings it has on its own
    media: tuple[tuple[str, Stamp | None], ...] = ()  # its attachment files, as stat'ed


@dataclass(slots=True)
class CompileCache:
    """Compiled flow files by path, reused while the file's Document is the same object.

    With FlowFileCache (which keeps a Document while its file is unchanged), a reload
    compiles only the files that changed.
    """

    entries: dict[str, CompiledDocument] = field(default_factory=dict)
    compiled: int = 0  # how many files were compiled: tests and benchmarks look at it

    def get(self, document: Document) -> CompiledDocument:
        cached = self.entries.get(document.display)
        if cached is not None and cached.document is document and unchanged(cached.media):
            return cached
        self.compiled += 1
        fresh = compile_document(document)
        self.entries[document.display] = fresh
        return fresh

    def keep_only(self, documents: Sequence[Document]) -> None:
        keep = {document.display for document in documents}
        for display in set(self.entries) - keep:
            del self.entries[display]


def compile_document(document: Document) -> CompiledDocument:
    """Validate and compile one flow file, with the problems found in it alone."""
    file = document.display
    data, schema_problems = validate_document(document.data, "flow", file=file)
    problems = list(schema_problems)
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
    compiler = _Compiler(file, document.path.parent)
    declared: Mapping[str, Any] = data.get("flows") or {}  # type: ignore[assignment]
    flows: list[CompiledFlow] = []
    triggers: list[TriggerSpec] = []
    for name, definition in declared.items():
        if name in broken:
            flows.append(CompiledFlow(name=name, file=file, steps=()))
            continue
        flows.append(compiler.flow(name, definition))
        for number, trigger in enumerate(definition.get("triggers", [])):
            triggers.extend(compiler.trigger(name, f"flows.{name}.triggers.{number}", trigger))
    problems.extend(compiler.problems)
    problems.extend(template_warnings(flows))
    digest = hashlib.sha256(document.display.encode() + b"\0" + document.raw)
    for step in (step for flow in flows for step in flow.steps):
        if isinstance(step, AttachmentStep) and step.file is not None:
            digest.update(step.file.sha256.encode())  # new content, new version: a reload swaps
    return CompiledDocument(
        document=document,
        digest=digest.digest(),
        flows=tuple(flows),
        triggers=tuple(triggers),
        problems=tuple(problems),
        media=tuple(compiler.media.stamps.items()),
    )


@dataclass(frozen=True, slots=True)
class LinkedFlows:
    """Every flow file compiled and linked together, with the problems of all of them."""

    parts: tuple[CompiledDocument, ...]
    flows: MappingProxyType[str, CompiledFlow]
    triggers: TriggerIndex
    problems: tuple[Problem, ...]


def link_flows(documents: Sequence[Document], cache: CompileCache | None = None) -> LinkedFlows:
    """Compile each flow file (with `cache`, only those that changed), then link them: flow
    names, the trigger index, gotos and goto cycles.

    Needs no config, so a config with errors hides no problem of the flows.
    """
    compiled_files = cache or CompileCache()
    parts = tuple(compiled_files.get(document) for document in documents)
    if cache is not None:
        cache.keep_only(documents)
    problems: list[Problem] = []
    flows: dict[str, CompiledFlow] = {}
    for part in parts:
        problems.extend(part.problems)
        for flow in part.flows:
            if flow.name in flows:
                message = f"flow '{flow.name}' is already defined in {flows[flow.name].file}"
                problems.append(Problem(file=flow.file, path=f"flows.{flow.name}", message=message))
                continue
            flows[flow.name] = flow
    index, trigger_problems = _index_triggers(parts, flows)
    problems.extend(trigger_problems)
    problems.extend(_check_gotos(flows))
    problems.extend(goto_cycle_problems(flows))
    return LinkedFlows(
        parts=parts, flows=MappingProxyType(flows), triggers=index, problems=tuple(problems)
    )


def compile_bot(
    config: Config, documents: Sequence[Document], cache: CompileCache | None = None
) -> tuple[Bot | None, list[Problem]]:
    """Compile the flows; return the Bot (None if anything is an error) and every problem."""
    linked = link_flows(documents, cache)
    problems = list(linked.problems)
    wrong = any(problem.is_error for problem in problems)
    if documents and not linked.flows and not wrong:  # no file: find_flow_files said so
        problems.append(_no_flow(config, len(documents)))
    pairing, pairing_problems = _pairing_messages(config)
    problems.extend(pairing_problems)
    problems.extend(files_outside(config.base_dir, linked.flows.values()))
    if any(problem.is_error for problem in problems):
        return None, problems

    bot = Bot(
        version=_version(config, linked.parts),
        config=config,
        flows=linked.flows,
        triggers=linked.triggers,
        pairing_messages=MappingProxyType(pairing),
        accounts_by_page_id=MappingProxyType(_accounts_by_page_id(config)),
        user_fields=used_user_fields(linked.flows.values()),
    )
    problems.extend(flow_warnings(bot))
    problems.extend(profile_warnings(bot))  # the page's taps: payloads the flows must handle
    return bot, problems


def _index_triggers(
    parts: Sequence[CompiledDocument], flows: Mapping[str, CompiledFlow]
) -> tuple[TriggerIndex, list[Problem]]:
    problems: list[Problem] = []
    tables: dict[str, dict[str, str]] = {"payload": {}, "keyword": {}, "attachment type": {}}
    regexes: list[tuple[re.Pattern[str], str]] = []
    for part in parts:
        for trigger in part.triggers:
            if trigger.pattern is not None:
                regexes.append((trigger.pattern, trigger.flow))
                continue
            owner = tables[trigger.kind].setdefault(trigger.key, trigger.flow)
            if owner != trigger.flow:
                message = (
                    f"{trigger.kind} {trigger.key!r} is already claimed by flow '{owner}'"
                    f" ({flows[owner].file})"
                )
                problems.append(
                    Problem(file=part.document.display, path=trigger.path, message=message)
                )
    index = TriggerIndex(
        by_payload=MappingProxyType(tables["payload"]),
        by_keyword=MappingProxyType(tables["keyword"]),
        by_attachment=MappingProxyType(tables["attachment type"]),
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


def _no_flow(config: Config, files: int) -> Problem:
    """Flow files that define no flow: a bot that answers nothing is never valid."""
    counted = "the flow file it names defines" if files == 1 else f"its {files} flow files define"
    message = (
        f"{counted} no flow, so the bot would answer nothing; add one, such as"
        ' flows: { welcome: { triggers: [{ keywords: ["hi"] }], steps: [{ text: "Hi!" }] } }'
    )
    return Problem(file=str(config.path), path="flows", message=message)


def _pairing_messages(config: Config) -> tuple[dict[str, Template], list[Problem]]:
    compiler = _Compiler(str(config.path))
    messages = {
        account.id: compiler.template(
            account.pairing_message or DEFAULT_PAIRING_MESSAGE, f"{account.key_path}.pairingMessage"
        )
        for account in config.accounts.values()
    }
    compiler.problems.extend(
        Problem(
            file=compiler.file,
            path=f"{account.key_path}.pairingMessage",
            message=(
                "does not use {{ code }}: strangers will not see their pairing code, so you "
                "will have to find them by PSID in `runtime pair list messenger`; add "
                "{{ code }} (and the command runtime pair approve messenger {{ code }}) unless "
                "that is what you want"
            ),
            severity=Severity.WARNING,
        )
        for account in config.accounts.values()
        if account.pairing_message is not None and not _uses_code(account.pairing_message)
    )
    return messages, compiler.problems


def _uses_code(source: str) -> bool:
    """Whether a pairingMessage shows the code (the owner's text is sent as written)."""
    try:
        return "code" in undeclared_names(source)
    except jinja2.TemplateSyntaxError:
        return True  # reported as an error already


def _accounts_by_page_id(config: Config) -> dict[str, Account]:
    return {account.page_id: account for account in config.accounts.values() if account.page_id}


def _version(config: Config, parts: Sequence[CompiledDocument]) -> str:
    digest = hashlib.sha256(config.version.encode())
    for part in parts:
        digest.update(part.digest)
    return digest.hexdigest()[:12]
