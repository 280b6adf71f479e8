"""Conversation test files (JSON5) -> checked, immutable test cases; every mistake at once.

```json5
{
  tests: [
    {
      name: "welcome",
      as: "1234",  // optional PSID
      user: { first_name: "Ada" },  // optional: the profile Meta would give (user.first_name)
      locale: "fr_FR",  // optional: the profile's locale (user.locale): the texts in French
      // optional: what the APIs answer the flows' `http` steps (rules: testing/http_answers.py)
      http: [{ url: "https://api.example.com/orders/A1", json: { status: "shipped" } }],
      turns: [
        { user: "hi", expect: [{ text: "Hi Ada!", quick_replies: ["Pricing", "Sign up"] }] },
        { tap: "PRICING", expect: [{ buttons: { text: "Plans...", buttons: ["See plans"] } }] },
        { attach: "image", expect: [{ text: "Nice picture!" }, { attachment: { type: "image" } }] },
        { user: "order A1", expect: [{ text: "Order A1: shipped" }],
          requests: [{ method: "GET", url: "https://api.example.com/orders/A1" }] },
        { user: "tour", expect: [{ text: "Welcome to the tour." }] },  // then `delay: "10m"`
        { wait: "10m", expect: [{ text: "Ten minutes in: how is it going?" }] },
        { tap: "HUMAN", expect: [{ text: "Someone will answer." }, { handover: "inbox" }] },
        { wait: "30m", expect: [{ handover: "back" }] },  // the handover's `timeout` ran out
      ],
    },
  ],
}
```

A test's `locale` is the person's profile locale, as the User Profile API would give it:
the texts a person reads are those of that language (`fr_CA` falls back to `fr`, then to
another `fr_*`, then to `default`), unless a flow sets `vars.locale`. Without it (or
`user.locale`), the person has none: the `default` texts. An expected text, title or
subtitle that is any of the variations of what the bot sent matches it.

A `wait` turn lets time pass (`"30s"`, `"10m"`, `"2h"`, `"3d"`, as in flows): every timer of
the session that falls due meanwhile fires, in due order, as it would on Messenger (a
`delay`'s rest, an ask's `on_timeout`, a handover's `timeout`), and `expect` lists what all
of them sent, in order; `expect: []`, or none, when nothing should be. `{ handover: "back" }`
expects the bot to take the thread back (a handover's timeout ran out). Time passes only in
a `wait` (each other turn adds a second). Meta's 24-hour window is not checked when the
tests run, as nothing is sent: `runtime validate` rejects the flows whose waits would put a
message past it.

The shape is checked by `schemas/conversation.json5`; what a schema cannot say (exactly one
action per turn, one kind per expected message, `expect` on every turn but a `wait`, a wait
that lets time pass, test names used once, one answer per request) is checked here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, cast

from runtime.config.json5file import read_json5
from runtime.errors import ConfigError
from runtime.testing.conversation import DEFAULT_PSID
from runtime.testing.http_answers import DEFAULT_METHOD, HttpAnswer, answer_from_mapping
from runtime.testing.waits import wait_length
from runtime.validation.problems import Problem
from runtime.validation.schema import drop_invalid, validate_document


class Action(StrEnum):
    """What the user does in a turn."""

    USER = "user"  # types text
    TAP = "tap"  # taps a quick reply or a button with this payload
    ATTACH = "attach"  # sends an attachment of this type
    WAIT = "wait"  # lets this much time pass: the timers due by then fire


class MessageKind(StrEnum):
    TEXT = "text"
    BUTTONS = "buttons"
    CARDS = "cards"
    ATTACHMENT = "attachment"
    HANDOVER = "handover"  # not a message: the thread passed to a human, after the messages


THREAD_BACK: Final = "back"  # `{ handover: "back" }`: the bot takes the thread back (a timeout)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectedCard:
    title: str
    subtitle: str | None = None  # None: not compared


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectedMessage:
    """One message the bot should send. A None field was left out: it is not compared."""

    kind: MessageKind
    text: str | None = None  # a text message's text, or a button template's
    quick_replies: tuple[str, ...] | None = None
    buttons: tuple[str, ...] | None = None
    cards: tuple[ExpectedCard, ...] | None = None
    attachment_type: str | None = None
    url: str | None = None
    file: str | None = None  # a file attachment's name, or its path's last parts
    handover_to: str | None = None  # "inbox", an app id, or "back", as the test writes it
    note: str | None = None  # the handover's note


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectedRequest:
    """A request an `http` step should make; its body is compared when `json_given`."""

    method: str
    url: str
    json: object = None
    json_given: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class UserTurn:
    """What the user does, and what the bot should answer. `number` counts from 1."""

    number: int
    action: Action
    value: str  # the text, the payload, the attachment type or the wait
    url: str | None
    expect: tuple[ExpectedMessage, ...]
    vars: Mapping[str, object] | None
    http: tuple[HttpAnswer, ...] = ()  # answers for this turn only
    requests: tuple[ExpectedRequest, ...] | None = None  # None: not compared

    def describe(self) -> str:
        """`user: "hi"`, `tap: PRICING`, `attach: image`, `wait: 10m`."""
        if self.action is Action.USER:
            return f"user: {json.dumps(self.value, ensure_ascii=False)}"
        return f"{self.action}: {self.value}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationTest:
    name: str
    psid: str
    account: str | None
    turns: tuple[UserTurn, ...]
    key_path: str  # `tests.2`, for messages about the test
    user: Mapping[str, object] = field(default_factory=dict)  # `user: { first_name: "Ada" }`
    locale: str | None = None  # `locale: "fr_FR"`: the profile's, user.locale
    http: tuple[HttpAnswer, ...] = ()  # the APIs' answers, for every turn


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationFile:
    path: Path
    display: str
    tests: tuple[ConversationTest, ...]


def load_conversation_file(path: Path, *, display: str | None = None) -> ConversationFile:
    """Read and check one test file; ConfigError (ConfigReadError if unreadable) lists problems."""
    document = read_json5(path, display=display)
    file = document.display
    data, problems = validate_document(document.data, "conversation", file=file)
    # what the schema found wrong is dropped, so the checks below see only well-shaped values
    # and report their own mistakes too: every problem of the file at once
    data = drop_invalid(data, problems)
    reader = _Reader(file, broken=frozenset(problem.path for problem in problems))
    entries = cast("list[Mapping[str, Any]]", data.get("tests", []))
    tests = tuple(reader.test(test, f"tests.{index}") for index, test in enumerate(entries))
    reader.check_names(tests)
    problems.extend(reader.problems)
    if problems:
        raise ConfigError(sorted(problems, key=_location))
    return ConversationFile(path=path, display=file, tests=tests)


def _location(problem: Problem) -> tuple[tuple[int, int | str], ...]:
    """Document order: `tests.2` before `tests.10`."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in problem.path.split(".")
    )


class _Reader:
    """Turns schema-valid data into test cases, collecting what the schema cannot check."""

    def __init__(self, file: str, *, broken: frozenset[str]) -> None:
        self.file = file
        self.broken = broken  # key paths the schema found wrong
        self.problems: list[Problem] = []

    def is_broken(self, path: str) -> bool:
        """Whether the schema found something wrong inside `path` (reported already)."""
        return any(broken.startswith(f"{path}.") for broken in self.broken)

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(file=self.file, path=path, message=message))

    def test(self, data: Mapping[str, Any], path: str) -> ConversationTest:
        turns = tuple(
            self.turn(turn, f"{path}.turns.{index}", index + 1)
            for index, turn in enumerate(data.get("turns", []))
        )
        return ConversationTest(
            name=data.get("name", ""),
            psid=str(data.get("as", DEFAULT_PSID)),
            account=data.get("account"),
            turns=tuple(turn for turn in turns if turn is not None),
            key_path=path,
            user=MappingProxyType(dict(data.get("user") or {})),
            locale=self.locale(data, path),
            http=self.http_answers(data.get("http") or [], f"{path}.http"),
        )

    def locale(self, data: Mapping[str, Any], path: str) -> str | None:
        """The test's `locale` (its form checked by the schema); a problem if `user.locale`
        says another: a person has one profile locale."""
        locale = data.get("locale")
        written = (data.get("user") or {}).get("locale")
        if locale is not None and written is not None and written != locale:
            self.problem(
                f"{path}.locale",
                f"is {locale}, but user.locale is {written}: a person has one profile locale;"
                " keep one of the two",
            )
        return cast("str | None", locale)

    def turn(self, data: Mapping[str, Any], path: str, number: int) -> UserTurn | None:
        actions = [action for action in Action if action.value in data]
        waits = "wait" in data or f"{path}.wait" in self.broken
        if "expect" not in data and not waits and f"{path}.expect" not in self.broken:
            self.problem(f"{path}.expect", "is required: add `expect` (a list)")
        if len(actions) != 1:
            if self.is_broken(path):
                return None
            found = f"has {', '.join(actions)}" if actions else "has none"
            self.problem(path, f"a turn needs exactly one of user, tap, attach, wait; {found}")
            return None
        action = actions[0]
        if "url" in data and action is not Action.ATTACH:
            self.problem(f"{path}.url", "is only used with `attach`")
        if action is Action.WAIT and not self.lets_time_pass(data["wait"], f"{path}.wait"):
            return None
        expect = [
            self.message(message, f"{path}.expect.{index}")
            for index, message in enumerate(data.get("expect", []))
        ]
        variables = data.get("vars")
        return UserTurn(
            number=number,
            action=action,
            value=data[action.value],
            url=data.get("url"),
            expect=tuple(message for message in expect if message is not None),
            vars=MappingProxyType(dict(variables)) if variables is not None else None,
            http=self.http_answers(data.get("http") or [], f"{path}.http"),
            requests=_requests(data["requests"]) if "requests" in data else None,
        )

    def lets_time_pass(self, text: str, path: str) -> bool:
        """Whether a wait the schema let through (its unit given) is one; a problem if not."""
        try:
            wait_length(text)
        except ValueError:
            self.problem(path, f'is {text}, no wait at all; write how long to wait, such as "10m"')
            return False
        return True

    def http_answers(
        self, entries: Sequence[Mapping[str, Any]], path: str
    ) -> tuple[HttpAnswer, ...]:
        """The answers of one `http` list: at most one per request, `json` or `text`, and
        nothing but `error` for a call that gets no answer."""
        answers: list[HttpAnswer] = []
        first: dict[tuple[str, str], str] = {}
        for index, entry in enumerate(entries):
            where = f"{path}.{index}"
            if "url" not in entry:
                continue  # the schema has said so
            if "json" in entry and "text" in entry:
                self.problem(where, "an answer's body is `json` or `text`, not both")
                continue
            if "error" in entry:
                extra = [key for key in ("status", "json", "text") if key in entry]
                if extra:
                    self.problem(
                        f"{where}.error",
                        f"a call with `error` gets no answer at all; drop {', '.join(extra)}"
                        f" (or drop `error` to answer with {'them' if len(extra) > 1 else 'it'})",
                    )
                    continue
            if self.is_broken(where):
                continue  # reported: a default in place of a wrong value would mislead
            answer = answer_from_mapping(entry)
            key = (answer.method, answer.url)
            if key in first:
                self.problem(
                    where,
                    f"a second answer to {answer.describe()} (the first is {first[key]});"
                    " an answer answers every such call, so keep one (or list one on each"
                    " turn, where they differ)",
                )
                continue
            first[key] = where
            answers.append(answer)
        return tuple(answers)

    def message(self, data: Mapping[str, Any], path: str) -> ExpectedMessage | None:
        kinds = [kind for kind in MessageKind if kind.value in data]
        if len(kinds) != 1:
            if self.is_broken(path):
                return None
            found = f"has {', '.join(kinds)}" if kinds else "has none"
            self.problem(
                path,
                "an expected message needs exactly one of text, buttons, cards, attachment,"
                f" handover; {found}",
            )
            return None
        kind = kinds[0]
        quick_replies = _titles(data.get("quick_replies"))
        if kind is MessageKind.TEXT:
            return ExpectedMessage(kind=kind, text=data["text"], quick_replies=quick_replies)
        if kind is MessageKind.BUTTONS:
            spec = data["buttons"] or {}
            return ExpectedMessage(
                kind=kind,
                text=spec.get("text"),
                buttons=_titles(spec.get("buttons")),
                quick_replies=quick_replies,
            )
        if kind is MessageKind.CARDS:
            cards = tuple(
                ExpectedCard(title=card)
                if isinstance(card, str)
                else ExpectedCard(title=card["title"], subtitle=card.get("subtitle"))
                for card in data["cards"] or ()
            )
            return ExpectedMessage(kind=kind, cards=cards, quick_replies=quick_replies)
        if kind is MessageKind.HANDOVER:
            handover = data["handover"]
            if isinstance(handover, Mapping):
                return ExpectedMessage(
                    kind=kind, handover_to=str(handover["to"]), note=handover.get("note")
                )
            return ExpectedMessage(kind=kind, handover_to=str(handover))
        spec = data["attachment"] or {}
        return ExpectedMessage(
            kind=kind,
            attachment_type=spec.get("type"),
            url=spec.get("url"),
            file=spec.get("file"),
            quick_replies=quick_replies,
        )

    def check_names(self, tests: Sequence[ConversationTest]) -> None:
        seen: dict[str, str] = {}
        for test in tests:
            if not test.name:
                continue  # missing: the schema has said so
            first = seen.setdefault(test.name, test.key_path)
            if first != test.key_path:
                self.problem(
                    f"{test.key_path}.name", f"test '{test.name}' is already defined at {first}"
                )


def _requests(entries: Sequence[Mapping[str, Any]]) -> tuple[ExpectedRequest, ...]:
    return tuple(
        ExpectedRequest(
            method=str(entry.get("method", DEFAULT_METHOD)).upper(),
            url=str(entry["url"]),
            json=entry.get("json"),
            json_given="json" in entry,
        )
        for entry in entries
        if "url" in entry
    )


def _titles(value: Sequence[str] | None) -> tuple[str, ...] | None:
    return tuple(value) if value is not None else None
