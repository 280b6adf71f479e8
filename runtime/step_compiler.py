"""StepCompiler: one flow file's triggers and steps -> compiled values, every problem collected.

Each step kind is one entry of STEP_KINDS: the function that compiles it, whether it sends
a message (and so may carry `quick_replies`), and the step-level keys only it uses. A new
step kind is one entry here, its dataclass in `bot.py`, its schema and its place in the
engine.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jinja2

from runtime.bot import (
    AnswerCheck,
    AnswerKind,
    AskStep,
    AttachmentStep,
    ButtonSpec,
    ButtonsStep,
    CardSpec,
    CardsStep,
    DelayStep,
    GotoStep,
    HandoverStep,
    QuickReplySpec,
    SetStep,
    Step,
    StepSource,
    TextStep,
    normalize_keyword,
)
from runtime.dialog.effects import NAMED_APPS
from runtime.dialog.templates import Expression, Template
from runtime.http_step import compile_http_step
from runtime.locales import DEFAULT_LOCALE, WrittenText
from runtime.texts import Text
from runtime.validation.media import MediaFiles
from runtime.validation.problems import ProblemCollector
from runtime.validation.schema import describe_value_type
from runtime.validation.waits import HANDOVER_LONGEST, wait_seconds

TRIGGER_KINDS = ("payload", "keywords", "regex", "attachment")
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Common:
    """What every step has, compiled: where it is written, its `when`, its quick replies
    (empty for a kind that sends no message)."""

    source: StepSource
    when: Expression | None
    quick_replies: tuple[QuickReplySpec, ...]

    @property
    def path(self) -> str:
        return self.source.key_path

    @property
    def base(self) -> dict[str, Any]:
        """The StepBase fields, for a step's constructor."""
        return {"source": self.source, "when": self.when}


@dataclass(frozen=True, slots=True)
class TriggerSpec:
    """One trigger of one flow, compiled: `kind` is payload, keyword, attachment or regex;
    `interrupt` when it wins over a waiting ask."""

    flow: str
    path: str
    kind: str
    key: str  # the payload, the normalized keyword, the attachment type, or the regex source
    pattern: re.Pattern[str] | None = None
    interrupt: bool = False


class StepCompiler(ProblemCollector):
    """Compiles one file's flows, collecting every problem on the way."""

    def __init__(self, file: str, folder: Path | None = None) -> None:
        super().__init__(file)
        self.media = MediaFiles(folder or Path(), file)  # `file` attachments: from `folder`

    # -- values ------------------------------------------------------------------------------
    def template(
        self, source: str, path: str, kind: Callable[[str], Template] = Template
    ) -> Template:
        """`source` compiled as a `kind` of template; a syntax error is a problem at `path`."""
        try:
            return kind(source)
        except jinja2.TemplateSyntaxError as err:
            where = f" on line {err.lineno} of the template" if err.lineno else ""
            self.problem(path, f"Jinja syntax error{where}: {err.message}")
            return Template("")

    def optional(self, data: Mapping[str, Any], key: str, path: str) -> Template | None:
        value = data.get(key)
        return self.template(value, f"{path}.{key}") if isinstance(value, str) else None

    def text(self, value: WrittenText, path: str) -> Text:
        """A text a person reads (a string, variations, or a map by locale), compiled.

        The schema checked its shape but for the items of a list of variations: an item
        that is no text is a problem here, and left out.
        """
        value = self._variations_checked(value, path)
        if isinstance(value, Mapping) and DEFAULT_LOCALE not in value:
            written = ", ".join(str(locale) for locale in value) or "none"
            self.problem(
                path,
                f"has no `{DEFAULT_LOCALE}` text (it has {written}): a person whose locale"
                f" is none of these reads it; add {DEFAULT_LOCALE}: ... beside them",
            )
        return Text.compile(value, lambda source, suffix: self.template(source, path + suffix))

    def _variations_checked(self, value: WrittenText, path: str) -> WrittenText:
        if isinstance(value, str):
            return value
        if isinstance(value, Mapping):
            return {
                locale: item if isinstance(item, str) else self._items(item, f"{path}.{locale}")
                for locale, item in value.items()
            }
        return self._items(value, path)

    def _items(self, value: Sequence[object], path: str) -> list[str]:
        kept = []
        for number, item in enumerate(value):
            if isinstance(item, str) and item.strip():
                kept.append(item)
            else:
                shown = "an empty text" if isinstance(item, str) else describe_value_type(item)
                self.problem(f"{path}.{number}", f"expected a text, got {shown}")
        return kept or [""]

    def optional_text(self, data: Mapping[str, Any], key: str, path: str) -> Text | None:
        value = data.get(key)
        return None if value is None else self.text(value, f"{path}.{key}")

    def expression(self, source: str, path: str) -> Expression | None:
        try:
            return Expression(source)
        except jinja2.TemplateSyntaxError as err:
            self.problem(path, f"expression does not parse: {err.message}")
            return None

    def regex(self, source: str, path: str) -> re.Pattern[str] | None:
        try:
            return re.compile(source)
        except re.error as err:
            self.problem(path, f"regex does not compile: {err}")
            return None

    # -- triggers ----------------------------------------------------------------------------
    def trigger(self, flow: str, path: str, data: Mapping[str, Any]) -> list[TriggerSpec]:
        kinds = [kind for kind in TRIGGER_KINDS if kind in data]
        if len(kinds) != 1:
            found = f"has {', '.join(kinds)}" if kinds else "has none"
            self.problem(
                path, f"a trigger needs exactly one of {', '.join(TRIGGER_KINDS)}; {found}"
            )
            return []
        interrupt = data.get("interrupt") is True
        if "payload" in data:
            payload = data["payload"]
            return [TriggerSpec(flow, f"{path}.payload", "payload", payload, None, interrupt)]
        if "keywords" in data:
            return [
                TriggerSpec(
                    flow,
                    f"{path}.keywords.{number}",
                    "keyword",
                    normalize_keyword(word),
                    None,
                    interrupt,
                )
                for number, word in enumerate(data["keywords"])
            ]
        if "attachment" in data:
            kind = data["attachment"]
            return [
                TriggerSpec(flow, f"{path}.attachment", "attachment type", kind, None, interrupt)
            ]
        pattern = self.regex(data["regex"], f"{path}.regex")
        if pattern is None:
            return []
        return [TriggerSpec(flow, f"{path}.regex", "regex", data["regex"], pattern, interrupt)]

    # -- steps -------------------------------------------------------------------------------
    def steps(self, name: str, data: Sequence[Mapping[str, Any]]) -> tuple[Step, ...]:
        steps: list[Step] = []
        for index, step in enumerate(data):
            compiled = self.step(step, StepSource(file=self.file, flow=name, index=index))
            if compiled is not None:
                steps.append(compiled)
        self.after_handover(name, data)
        return tuple(steps)

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
        entry = STEP_KINDS[kind]
        for key, owner in OWNED_KEYS.items():
            if key in data and owner != kind:
                inside = (
                    f"; put it inside: {{ {kind}: {{ ..., {key}: ... }} }}"
                    if key in entry.inner_keys
                    else ""
                )
                self.problem(
                    f"{path}.{key}", f"is only used with `{owner}`, not with `{kind}`{inside}"
                )
        if "quick_replies" in data and not entry.sends_message:
            self.problem(
                f"{path}.quick_replies", f"a `{kind}` step sends no message to put them on"
            )
        when = None
        if isinstance(data.get("when"), str):
            when = self.expression(data["when"], f"{path}.when")
        quick_replies: tuple[QuickReplySpec, ...] = ()
        if entry.sends_message:
            quick_replies = self.quick_replies(
                data.get("quick_replies", []), f"{path}.quick_replies"
            )
        return entry.compile(
            self, data, Common(source=source, when=when, quick_replies=quick_replies)
        )

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
                    title=self.optional_text(item, "title", where),
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
                    title=self.text(item["title"], f"{where}.title"),
                    payload=self.optional(item, "payload", where),
                    url=self.optional(item, "url", where),
                )
            )
        return tuple(buttons)

    def card(self, data: Mapping[str, Any], path: str) -> CardSpec:
        action = data.get("default_action")
        return CardSpec(
            title=self.text(data["title"], f"{path}.title"),
            subtitle=self.optional_text(data, "subtitle", path),
            image_url=self.optional(data, "image_url", path),
            default_action_url=(
                self.template(action["url"], f"{path}.default_action.url")
                if isinstance(action, Mapping)
                else None
            ),
            buttons=self.buttons(data.get("buttons", []), f"{path}.buttons"),
        )

    def answer_check(self, spec: object, path: str) -> AnswerCheck | None:
        if spec is None:
            return None
        if isinstance(spec, Mapping):
            pattern = self.regex(str(spec.get("regex", "")), f"{path}.regex")
            return AnswerCheck(kind=AnswerKind.REGEX, pattern=pattern) if pattern else None
        named = [kind.value for kind in AnswerKind if kind is not AnswerKind.REGEX]
        if spec in named:
            return AnswerCheck(kind=AnswerKind(spec))
        close = difflib.get_close_matches(str(spec).strip().casefold(), named, n=1)
        self.problem(
            path,
            f"unknown value {spec!r}; expected one of {', '.join(named)},"
            ' or { regex: "..." }' + (f'; did you mean "{close[0]}"?' if close else ""),
        )
        return None

    def retry_cap(self, data: Mapping[str, Any], path: str) -> None:
        """`on_fail` runs after `max_retries` wrong answers: one without the other is wrong."""
        if "on_fail" in data and "max_retries" not in data:
            self.problem(
                f"{path}.on_fail",
                "runs after `max_retries` wrong answers, and this ask has no max_retries;"
                " add max_retries: 3 (the third wrong answer then runs this flow)",
            )

    def timeout_needed(self, data: Mapping[str, Any], path: str) -> None:
        """`on_timeout` runs when the ask's `timeout` ends: one without a timeout never runs."""
        if "on_timeout" in data and "timeout" not in data:
            self.problem(
                f"{path}.on_timeout",
                "runs when no answer came within the ask's timeout, and this ask has no"
                ' timeout; add timeout: "10m" (no answer within 10 minutes then runs this flow)',
            )

    def choices_offered(self, check: AnswerCheck | None, common: Common) -> None:
        """A `choice` is one of the ask's text quick replies: it needs some."""
        if check is None or check.kind is not AnswerKind.CHOICE:
            return
        if not any(reply.content_type == "text" for reply in common.quick_replies):
            self.problem(
                f"{common.path}.validate",
                '"choice" takes one of the ask\'s quick replies as the answer, and this ask'
                ' has no text quick replies; add quick_replies: [{ title: "Yes", payload:'
                ' "YES" }, { title: "No", payload: "NO" }], or choose another validate',
            )


# -- one function a step kind ----------------------------------------------------------------
def _text(compiler: StepCompiler, data: Mapping[str, Any], common: Common) -> Step:
    text = compiler.text(data["text"], f"{common.path}.text")
    return TextStep(**common.base, text=text, quick_replies=common.quick_replies)


def _buttons(compiler: StepCompiler, data: Mapping[str, Any], common: Common) -> Step:
    spec, path = data["buttons"], f"{common.path}.buttons"
    return ButtonsStep(
        **common.base,
        text=compiler.text(spec["text"], f"{path}.text"),
        buttons=compiler.buttons(spec.get("buttons", []), f"{path}.buttons"),
        quick_replies=common.quick_replies,
    )


def _cards(compiler: StepCompiler, data: Mapping[str, Any], common: Common) -> Step:
    cards = tuple(
        compiler.card(card, f"{common.path}.cards.{number}")
        for number, card in enumerate(data["cards"])
    )
    return CardsStep(**common.base, cards=cards, quick_replies=common.quick_replies)


def _attachment(compiler: StepCompiler, data: Mapping[str, Any], common: Common) -> Step | None:
    """By `url` (a template), or a `file` of the bot's folder, checked and hashed now."""
    spec, path = data["attachment"], f"{common.path}.attachment"
    sources = [key for key in ("url", "file") if key in spec]
    if len(sources) != 1:
        found = "it has both: keep one" if sources else "it has neither"
        compiler.problem(
            path,
            f"an attachment needs exactly one of url, file; {found}"
            ' (url: "https://example.com/logo.png", or file: "media/logo.png", a path'
            " relative to the flow file)",
        )
        return None
    kept = {**common.base, "type": spec["type"], "quick_replies": common.quick_replies}
    if "url" in spec:
        return AttachmentStep(**kept, url=compiler.template(spec["url"], f"{path}.url"))
    file, problems = compiler.media.check(spec["file"], spec["type"], f"{path}.file")
    compiler.problems.extend(problems)
    return None if file is None else AttachmentStep(**kept, file=file)


def _ask(compiler: StepCompiler, data: Mapping[str, Any], common: Common) -> Step | None:
    path = common.path
    if "save_as" not in data:
        compiler.missing(
            f"{path}.save_as",
            why="an `ask` keeps the answer in a variable",
            fix='add save_as: "email" (the answer is then vars.email)',
        )
        return None
    check = compiler.answer_check(data.get("validate"), f"{path}.validate")
    compiler.choices_offered(check, common)
    compiler.retry_cap(data, path)
    compiler.timeout_needed(data, path)
    timeout = None
    if "timeout" in data:  # None when wrong: the problem is collected, the ask still compiled
        timeout = wait_seconds(compiler, data["timeout"], f"{path}.timeout")
    return AskStep(
        **common.base,
        prompt=compiler.text(data["ask"], f"{path}.ask"),
        save_as=data["save_as"],
        check=check,
        retry=compiler.optional_text(data, "retry", path),
        quick_replies=common.quick_replies,
        max_retries=data.get("max_retries"),
        on_fail=data.get("on_fail"),
        timeout=timeout,
        on_timeout=data.get("on_timeout"),
    )


def _set(compiler: StepCompiler, data: Mapping[str, Any], common: Common) -> Step:
    values = tuple(
        (
            name,
            compiler.template(value, f"{common.path}.set.{name}")
            if isinstance(value, str)
            else value,
        )
        for name, value in data["set"].items()
    )
    return SetStep(**common.base, values=values)


def _goto(compiler: StepCompiler, data: Mapping[str, Any], common: Common) -> Step:
    return GotoStep(**common.base, flow=data["goto"])


def _handover(compiler: StepCompiler, data: Mapping[str, Any], common: Common) -> Step | None:
    """`to`: "inbox" (the Page Inbox) or an app id, as a number or a string of digits."""
    spec, path = data["handover"], f"{common.path}.handover"
    to = str(spec["to"])
    target = NAMED_APPS.get(to) or (to if to.isdigit() and to.isascii() else None)
    if target is None:
        close = difflib.get_close_matches(to.strip().casefold(), list(NAMED_APPS), n=1)
        compiler.problem(
            f"{path}.to",
            f'unknown target {to!r}; expected "inbox" (the Page Inbox, where the page\'s'
            " people answer) or the numeric id of the app to pass the thread to"
            + (f'; did you mean "{close[0]}"?' if close else ""),
        )
        return None
    note = compiler.optional(spec, "note", path)
    timeout = None
    if "timeout" in spec:
        timeout = wait_seconds(
            compiler, spec["timeout"], f"{path}.timeout", longest=HANDOVER_LONGEST
        )
    return HandoverStep(**common.base, to=to, target_app_id=target, note=note, timeout=timeout)


def _delay(compiler: StepCompiler, data: Mapping[str, Any], common: Common) -> Step | None:
    """The rest of the flow runs after the wait; `keep`: the person's messages meanwhile do
    not cancel it."""
    seconds = wait_seconds(compiler, data["delay"], f"{common.path}.delay")
    if seconds is None:
        return None
    return DelayStep(**common.base, seconds=seconds, keep=data.get("keep") is True)


def _http(compiler: StepCompiler, data: Mapping[str, Any], common: Common) -> Step | None:
    return compile_http_step(compiler, data["http"], common.base)


@dataclass(frozen=True, slots=True, kw_only=True)
class StepKind:
    """How one kind of step compiles: `keys` are the step-level keys only it uses;
    `inner_keys` the keys of its own object that another kind uses at step level (a
    `timeout` written beside a handover instead of inside it)."""

    compile: Callable[[StepCompiler, Mapping[str, Any], Common], Step | None]
    sends_message: bool
    keys: tuple[str, ...] = ()
    inner_keys: tuple[str, ...] = ()


STEP_KINDS: Final[Mapping[str, StepKind]] = {
    "text": StepKind(compile=_text, sends_message=True),
    "buttons": StepKind(compile=_buttons, sends_message=True),
    "cards": StepKind(compile=_cards, sends_message=True),
    "attachment": StepKind(compile=_attachment, sends_message=True),
    "ask": StepKind(
        compile=_ask,
        sends_message=True,
        keys=("save_as", "validate", "retry", "max_retries", "on_fail", "timeout", "on_timeout"),
    ),
    "set": StepKind(compile=_set, sends_message=False),
    "goto": StepKind(compile=_goto, sends_message=False),
    "delay": StepKind(compile=_delay, sends_message=False, keys=("keep",)),
    "handover": StepKind(compile=_handover, sends_message=False, inner_keys=("timeout",)),
    "http": StepKind(compile=_http, sends_message=False, inner_keys=("timeout", "save_as")),
}
# a step-level key -> the one kind of step that uses it
OWNED_KEYS: Final = {key: kind for kind, entry in STEP_KINDS.items() for key in entry.keys}
