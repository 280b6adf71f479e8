"""`runtime test`: run conversation test files against the flows, offline, and report.

Each test starts a fresh in-memory session; its turns share it, so an `ask` works as on
Messenger, and a `wait` turn fires the session's timers that fall due in it
(`Conversation.wait`), all they sent checked as one turn. A test stops at its first failing
turn (later turns would build on a wrong state). Nothing touches the network or the state
store: the `http` steps' calls get the answers the test lists
(`runtime.testing.http_answers`), and a call with none fails its turn, named, after the
turn has run on without it (so what else went wrong shows too).
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from runtime.bot import Bot
from runtime.dialog.engine import Turn
from runtime.errors import ConfigError
from runtime.testing.cases import (
    Action,
    ConversationFile,
    ConversationTest,
    UserTurn,
    load_conversation_file,
)
from runtime.testing.conversation import Conversation
from runtime.testing.expectations import Output, diff, turn_lines
from runtime.testing.http_answers import describe_unanswered
from runtime.testing.waits import TimerLoopError
from runtime.validation.problems import Problem

TESTS_FOLDER = "tests"  # next to the config file: where `runtime test` looks by default


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnFailure:
    """Why a turn failed: a diff of expected vs actual lines, or the engine's traceback."""

    turn: UserTurn
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationResult:
    file: ConversationFile
    test: ConversationTest
    failure: TurnFailure | None
    notes: tuple[str, ...]  # the engine's notes, `turn N: <note>`

    @property
    def passed(self) -> bool:
        return self.failure is None

    def describe_failure(self) -> list[str]:
        """`file: tests.2.turns.1: test 'signup', turn 2 (user: "x"): ...` and the diff."""
        if self.failure is None:
            return []
        turn = self.failure.turn
        where = f"{self.file.display}: {self.test.key_path}.turns.{turn.number - 1}"
        head = f"{where}: test '{self.test.name}', turn {turn.number} ({turn.describe()}):"
        return [head, *self.failure.lines]


def run_conversation(
    bot: Bot, file: ConversationFile, test: ConversationTest
) -> ConversationResult:
    """Play one test's turns against `bot`, from a fresh session."""
    conversation = Conversation(
        bot,
        psid=test.psid,
        account_id=test.account,
        user=test.user,
        locale=test.locale,
        http=test.http,
    )
    notes: list[str] = []
    for turn in test.turns:
        try:
            results = _play(conversation, turn)
        except TimerLoopError as error:
            failure = TurnFailure(turn=turn, lines=(str(error),))
            return ConversationResult(file=file, test=test, failure=failure, notes=tuple(notes))
        except Exception:  # an engine bug fails this test; the others still run
            lines = ("the engine raised an exception:", *traceback.format_exc().splitlines())
            failure = TurnFailure(turn=turn, lines=lines)
            return ConversationResult(file=file, test=test, failure=failure, notes=tuple(notes))
        outputs: list[Output] = []
        for result in results:
            notes.extend(f"turn {turn.number}: {note}" for note in result.notes)
            outputs.extend((*result.messages, *result.effects))
        calls = tuple(exchange.call for exchange in conversation.calls)
        variables = conversation.session.vars if conversation.session is not None else {}
        expected, actual = turn_lines(
            turn, outputs, variables, calls, variations=conversation.variations
        )
        unanswered = [describe_unanswered(call) for call in conversation.unanswered]
        if unanswered or expected != actual:
            lines = (*unanswered, *(diff(expected, actual) if expected != actual else ()))
            failure = TurnFailure(turn=turn, lines=lines)
            return ConversationResult(file=file, test=test, failure=failure, notes=tuple(notes))
    return ConversationResult(file=file, test=test, failure=None, notes=tuple(notes))


def _play(conversation: Conversation, turn: UserTurn) -> tuple[Turn, ...]:
    """Do what `turn` says; the turns it ran (a wait's fired timers: none, one or more)."""
    if turn.action is Action.USER:
        return (conversation.say(turn.value, http=turn.http),)
    if turn.action is Action.TAP:
        return (conversation.tap(turn.value, http=turn.http),)
    if turn.action is Action.ATTACH:
        return (conversation.attach(turn.value, turn.url, http=turn.http),)
    return conversation.wait(turn.value, http=turn.http)


def find_test_files(config_path: Path, given: Sequence[Path]) -> tuple[list[Path], list[Problem]]:
    """The files named (a folder stands for its `*.json5`), else those in `tests/` by the config."""
    sources = list(given) or [config_path.parent / TESTS_FOLDER]
    found: dict[Path, None] = {}
    problems: list[Problem] = []
    for source in sources:
        if source.is_dir():
            paths = sorted(path for path in source.rglob("*.json5") if path.is_file())
            if not paths:
                message = "no conversation test files (*.json5) in this folder"
                problems.append(Problem(file=str(source), path="", message=message))
            found.update(dict.fromkeys(paths))
        elif source.is_file():
            found[source] = None
        else:
            message = "cannot read: No such file or directory"
            if not given:
                message = (
                    f"no `{TESTS_FOLDER}` folder next to the config file; "
                    "name the test files on the command line"
                )
            problems.append(Problem(file=str(source), path="", message=message))
    return list(found), problems


def load_test_files(paths: Sequence[Path]) -> tuple[list[ConversationFile], list[Problem]]:
    """Every file read and checked, and the problems of those that are not right."""
    files: list[ConversationFile] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            files.append(load_conversation_file(path))
        except ConfigError as err:
            problems.extend(err.problems)
    return files, problems


def check_accounts(bot: Bot, files: Sequence[ConversationFile]) -> list[Problem]:
    """A test's `account` must name an enabled account of the config."""
    known = ", ".join(f"'{name}'" for name in bot.accounts) or "none"
    return [
        Problem(
            file=file.display,
            path=f"{test.key_path}.account",
            message=f"no account '{test.account}' in the config; the enabled accounts are {known}",
        )
        for file in files
        for test in file.tests
        if test.account is not None and test.account not in bot.accounts
    ]


def run_conversation_tests(
    config_path: Path, given: Sequence[Path], *, out: TextIO, err: TextIO
) -> int:
    """The whole command: 0 all passed, 1 a test failed, 2 a file is unreadable or invalid."""
    from runtime.build import build_bot

    paths, problems = find_test_files(config_path, given)
    files, file_problems = load_test_files(paths)
    problems.extend(file_problems)
    bot: Bot | None = None
    try:
        bot = build_bot(config_path, offline=True).bot
    except ConfigError as error:
        problems.extend(error.problems)
    if bot is not None:
        problems.extend(check_accounts(bot, files))
    if problems or bot is None:
        for problem in problems:
            print(problem.format(), file=err)
        return 2

    passed = failed = 0
    for file in files:
        for test in file.tests:
            result = run_conversation(bot, file, test)
            for note in result.notes:
                print(f"note: {file.display}: test '{test.name}', {note}", file=err)
            if result.passed:
                passed += 1
                print(f"PASS {test.name}", file=out)
            else:
                failed += 1
                print(f"FAIL {test.name}", file=out)
                for line in result.describe_failure():
                    print(line, file=out)
                print(file=out)
    print(f"{passed} passed, {failed} failed", file=out)
    return 1 if failed else 0
