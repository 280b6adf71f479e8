"""compile_bot: the config and the flow documents -> one immutable Bot; nothing else builds one.

Compiling is also the deepest check: every template, `when` expression and regex is compiled
here, triggers are indexed (a payload or keyword claimed twice is an error) and every `goto`
is resolved, so whatever `runtime validate` accepts can run.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import jinja2

from runtime.bot import (
    FALLBACK_FLOW,
    AttachmentStep,
    Bot,
    CompiledFlow,
    TriggerIndex,
    jump_targets,
)
from runtime.config.json5file import Document
from runtime.config.model import APPROVED_MESSAGE_KEY, PAIRING_MESSAGE_KEY, Account, Config
from runtime.dialog.templates import undeclared_names
from runtime.dialog.user_fields import used_user_fields
from runtime.step_compiler import StepCompiler, TriggerSpec
from runtime.texts import Text
from runtime.validation.cycles import goto_cycle_problems
from runtime.validation.env_vars import unset_env_warnings
from runtime.validation.flows import check_literals, flow_warnings, template_warnings
from runtime.validation.media import Stamp, files_outside, unchanged
from runtime.validation.problems import Problem, Severity
from runtime.validation.profile import profile_warnings
from runtime.validation.schema import drop_invalid, validate_document
from runtime.validation.texts import locale_problems
from runtime.validation.window import window_problems


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
    compiler = StepCompiler(file, document.path.parent)
    declared: Mapping[str, Any] = data.get("flows") or {}  # type: ignore[assignment]
    flows: list[CompiledFlow] = []
    triggers: list[TriggerSpec] = []
    for name, definition in declared.items():
        if name in broken:
            flows.append(CompiledFlow(name=name, file=file, steps=()))
            continue
        steps = compiler.steps(name, definition.get("steps", []))
        flows.append(CompiledFlow(name=name, file=file, steps=steps))
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
    names, the trigger index, gotos, goto cycles and the 24-hour rule.

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
    problems.extend(window_problems(flows, index))  # Meta's 24-hour rule
    return LinkedFlows(
        parts=parts, flows=MappingProxyType(flows), triggers=index, problems=tuple(problems)
    )


def compile_bot(
    config: Config,
    documents: Sequence[Document],
    cache: CompileCache | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> tuple[Bot | None, list[Problem]]:
    """Compile the flows; return the Bot (None if anything is an error) and every problem.

    `env` (os.environ when None) is where the `http` steps' `${VAR}`s will be read: one
    unset is a warning.
    """
    linked = link_flows(documents, cache)
    problems = list(linked.problems)
    wrong = any(problem.is_error for problem in problems)
    if documents and not linked.flows and not wrong:  # no file: find_flow_files said so
        problems.append(_no_flow(config, len(documents)))
    pairing, pairing_problems = compile_account_texts(config, PAIRING_MESSAGE_KEY)
    approved, approved_problems = compile_account_texts(config, APPROVED_MESSAGE_KEY)
    problems.extend([*pairing_problems, *_code_warnings(config, pairing), *approved_problems])
    own_texts = {**pairing.by_path, **approved.by_path}
    problems.extend(locale_problems(config, linked.flows.values(), own_texts))  # `locales`
    problems.extend(files_outside(config.base_dir, linked.flows.values()))
    if any(problem.is_error for problem in problems):
        return None, problems

    bot = Bot(
        version=_version(config, linked.parts),
        config=config,
        flows=linked.flows,
        triggers=linked.triggers,
        pairing_messages=pairing.by_account,
        approved_messages=approved.by_account,
        accounts_by_page_id=MappingProxyType(_accounts_by_page_id(config)),
        user_fields=used_user_fields(linked.flows.values()),
    )
    problems.extend(flow_warnings(bot))
    problems.extend(profile_warnings(bot))  # the page's taps: payloads the flows must handle
    problems.extend(unset_env_warnings(bot.flows.values(), os.environ if env is None else env))
    return bot, problems


def _index_triggers(
    parts: Sequence[CompiledDocument], flows: Mapping[str, CompiledFlow]
) -> tuple[TriggerIndex, list[Problem]]:
    """Every trigger, and apart the `interrupt: true` ones (looked at while an ask waits)."""
    problems: list[Problem] = []
    tables: dict[str, dict[str, str]] = {"payload": {}, "keyword": {}, "attachment type": {}}
    interrupting: dict[str, dict[str, str]] = {kind: {} for kind in tables}
    regexes: list[tuple[re.Pattern[str], str]] = []
    interrupting_regexes: list[tuple[re.Pattern[str], str]] = []
    for part in parts:
        for trigger in part.triggers:
            if trigger.pattern is not None:
                regexes.append((trigger.pattern, trigger.flow))
                if trigger.interrupt:
                    interrupting_regexes.append((trigger.pattern, trigger.flow))
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
            elif trigger.interrupt:
                interrupting[trigger.kind][trigger.key] = trigger.flow
    index = TriggerIndex(
        by_payload=MappingProxyType(tables["payload"]),
        by_keyword=MappingProxyType(tables["keyword"]),
        by_attachment=MappingProxyType(tables["attachment type"]),
        regexes=tuple(regexes),
        fallback=FALLBACK_FLOW if FALLBACK_FLOW in flows else None,
        interrupting=TriggerIndex(
            by_payload=MappingProxyType(interrupting["payload"]),
            by_keyword=MappingProxyType(interrupting["keyword"]),
            by_attachment=MappingProxyType(interrupting["attachment type"]),
            regexes=tuple(interrupting_regexes),
            fallback=None,
        ),
    )
    return index, problems


def _check_gotos(flows: Mapping[str, CompiledFlow]) -> list[Problem]:
    """Every flow a step jumps to (`goto`, an `http` step's `on_error`...) must exist."""
    problems = []
    for flow in flows.values():
        for step in flow.steps:
            for key, target in jump_targets(step):
                if target in flows:
                    continue
                message = f"no flow is named '{target}'"
                close = difflib.get_close_matches(target, list(flows), n=1)
                if close:
                    message += f"; did you mean '{close[0]}'?"
                path = f"{step.source.key_path}.{key}"
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


@dataclass(frozen=True, slots=True)
class AccountTexts:
    """One of ACCOUNT_TEXT_KEYS compiled: each text the config writes, once, by the key path
    it is written at, and the text of each account (an account left out: the built-in one)."""

    by_path: Mapping[str, Text]
    by_account: Mapping[str, Text]


def compile_account_texts(config: Config, key: str) -> tuple[AccountTexts, list[Problem]]:
    """The accounts' `key` texts (pairingMessage, approvedMessage), and their problems (a
    Jinja error, at the key path where the text is written: a text on channels.messenger
    that every account inherits is compiled and reported once, there)."""
    compiler = StepCompiler(str(config.path))
    by_path: dict[str, Text] = {}
    by_account: dict[str, Text] = {}
    for account in config.accounts.values():
        own = account.texts.get(key)
        if own is None:
            continue
        if own.path not in by_path:
            by_path[own.path] = compiler.text(own.written, own.path)
        by_account[account.id] = by_path[own.path]
    compiled = AccountTexts(MappingProxyType(by_path), MappingProxyType(by_account))
    return compiled, compiler.problems


def _code_warnings(config: Config, pairing: AccountTexts) -> list[Problem]:
    """A pairingMessage that does not show the code: a warning, once where it is written."""
    return [
        Problem(
            file=str(config.path),
            path=path,
            message=(
                "does not use {{ code }}: strangers will not see their pairing code, so you "
                "will have to find them by PSID in `runtime pair list messenger`; add "
                "{{ code }} (and the command runtime pair approve messenger {{ code }}) unless "
                "that is what you want"
            ),
            severity=Severity.WARNING,
        )
        for path, text in pairing.by_path.items()
        if not all(_uses_code(template.source) for template in text)
    ]


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
