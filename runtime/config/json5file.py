"""Reading JSON5 files (syntax errors explained, every key's position kept), and `${VAR}`
substitution."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pyjson5

from runtime.config.positions import DuplicateKey, LineIndex, PathFinder, Positions, scan_json5
from runtime.config.syntax import explain_syntax_error
from runtime.errors import ConfigError, ConfigReadError
from runtime.validation.problems import Problem, key_path

# pyjson5 says about where it stopped: "Expected b'comma' or U+007d near 12, found U+0062"
_NEAR = re.compile(r" near (\d+)")
# deeper than this is refused (pyjson5's own default is 32, which a real file may exceed)
DEEPEST = 200
_ENV_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed JSON5 file: its data, its raw bytes (for hashing), how to name it, and where
    each of its keys is written (`locate` gives its problems their lines)."""

    path: Path
    display: str
    data: Mapping[str, object]
    raw: bytes
    positions: Positions = dataclasses.field(default_factory=Positions, compare=False)


def read_json5(path: Path, *, display: str | None = None) -> Document:
    """Read and parse one JSON5 file whose top level must be an object.

    Raises ConfigReadError if the file cannot be read at all and ConfigError (with line and
    column) if it is not valid JSON5.
    """
    shown = display if display is not None else str(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigReadError([Problem.cannot_read(shown, err)]) from err
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        problem = Problem(file=shown, path="", message=f"not UTF-8 text (byte {err.start})")
        raise ConfigError([problem]) from err
    data = parse_json5(text, file=shown)
    if not isinstance(data, Mapping):
        message = "the top level must be an object { ... }"
        raise ConfigError([Problem(file=shown, path="", message=message, line=1, column=1)])
    positions, duplicates = scan_json5(text)
    if duplicates:
        lines = LineIndex(text)
        raise ConfigError([_duplicate_problem(shown, lines, duplicate) for duplicate in duplicates])
    return Document(path=path, display=shown, data=data, raw=raw, positions=positions)


def locate(problems: Iterable[Problem], *documents: Document) -> list[Problem]:
    """The problems, each with the line and column of its key path in its document.

    Checks name key paths and never lines: this is where they get them, once per build.
    A path that is not in the file (a required key that is missing) gets the position of
    its nearest ancestor that is, where it is to be added. Problems that have a position
    already, or whose file is not among `documents`, are left as they are.
    """
    by_file = {document.display: document for document in documents}
    # made for the files that have a problem only
    finders: dict[str, tuple[PathFinder, LineIndex]] = {}
    located: list[Problem] = []
    for problem in problems:
        document = by_file.get(problem.file)
        if document is None or problem.line is not None:
            located.append(problem)
            continue
        if problem.file not in finders:
            text = document.raw.decode("utf-8-sig")
            finders[problem.file] = (document.positions.finder(document.data), LineIndex(text))
        finder, lines = finders[problem.file]
        offset = finder.offset(problem.path)
        if offset is None:
            located.append(problem)
            continue
        line, column = lines.line_column(offset)
        located.append(dataclasses.replace(problem, line=line, column=column))
    return located


def parse_json5(text: str, *, file: str) -> object:
    """Parse with pyjson5 (compiled: a megabyte in some tens of milliseconds). A syntax error
    is explained from about where it stopped (config/syntax.py), never by a second parse with
    the pure-Python json5, which takes half a minute over a megabyte."""
    try:
        return pyjson5.decode(text, maxdepth=DEEPEST)
    except pyjson5.Json5NestingTooDeep as err:
        line, column = LineIndex(text).line_column(_stopped_at(err) or 0)
        message = f"JSON5 syntax error: nested more than {DEEPEST} deep"
        problem = Problem(file=file, path="", message=message, line=line, column=column)
        raise ConfigError([problem]) from err
    except pyjson5.Json5DecoderException as err:
        raise ConfigError([_syntax_problem(file, text, _stopped_at(err))]) from err


def _stopped_at(err: Exception) -> int | None:
    """The offset pyjson5 stopped at: its "near N" is the character after (or at) it."""
    said = err.args[0] if err.args and isinstance(err.args[0], str) else ""
    near = _NEAR.search(said)
    return max(int(near[1]) - 1, 0) if near else None


def _duplicate_problem(file: str, lines: LineIndex, duplicate: DuplicateKey) -> Problem:
    first_line = lines.line_column(duplicate.first)[0]
    line, column = lines.line_column(duplicate.second)
    message = (
        f"key '{duplicate.key}' is written twice in one object (lines {first_line}"
        f" and {line}); JSON5 would keep only the last: remove one"
    )
    return Problem(file=file, path=duplicate.path, message=message, line=line, column=column)


def _syntax_problem(file: str, text: str, stopped: int | None) -> Problem:
    """Where the mistake is, the line it is on, and its likely cause (see config/syntax.py)."""
    report = explain_syntax_error(text, stopped)
    message = f"JSON5 syntax error: {report.found}" + (f"; {report.hint}" if report.hint else "")
    return Problem(
        file=file,
        path="",
        message=message.replace("\n", "\\n"),  # one line per problem, always
        line=report.line,
        column=report.column,
        source=report.source,
        caret=report.caret,
        hint=report.hint,
    )


def substitute_env(
    data: object, env: Mapping[str, str], *, file: str, path: tuple[object, ...] = ()
) -> tuple[object, list[Problem]]:
    """Replace `${VAR}` in every string value with the environment variable.

    `$${` stands for a literal `${`.

    A variable that is not set is a problem naming the key and the variable (its value, set or
    not, never appears in a message).
    """
    problems: list[Problem] = []
    if isinstance(data, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name is None:
                return "${"
            if name not in env:
                problems.append(
                    Problem(
                        file=file,
                        path=key_path(path),
                        message=f"environment variable {name} is not set",
                    )
                )
                return ""
            return env[name]

        return _ENV_REFERENCE.sub(replace, data), problems
    if isinstance(data, Mapping):
        result: dict[str, object] = {}
        for key, value in data.items():
            result[key], found = substitute_env(value, env, file=file, path=(*path, key))
            problems.extend(found)
        return result, problems
    if isinstance(data, list):
        items: list[object] = []
        for index, value in enumerate(data):
            item, found = substitute_env(value, env, file=file, path=(*path, index))
            items.append(item)
            problems.extend(found)
        return items, problems
    return data, problems


def env_names_in(data: object) -> frozenset[str]:
    """The environment variables `${VAR}` references in the strings of `data` name."""
    if isinstance(data, str):
        return frozenset(
            match.group(1) for match in _ENV_REFERENCE.finditer(data) if match.group(1)
        )
    if isinstance(data, Mapping):
        data = list(data.values())
    if isinstance(data, list):
        return frozenset(name for item in data for name in env_names_in(item))
    return frozenset()


def fill_env(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """`text` with each `${VAR}` replaced by its value (`$${` by `${`), and the names of those
    not set (replaced by nothing)."""
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "${"
        if name not in env:
            missing.append(name)
            return ""
        return env[name]

    return _ENV_REFERENCE.sub(replace, text), missing


def find_env_references(data: object, path: tuple[object, ...] = ()) -> frozenset[str]:
    """Key paths of the string values that name an environment variable (`${VAR}`)."""
    if isinstance(data, str):
        named = any(match.group(1) for match in _ENV_REFERENCE.finditer(data))
        return frozenset({key_path(path)}) if named else frozenset()
    found: set[str] = set()
    if isinstance(data, Mapping):
        for key, value in data.items():
            found |= find_env_references(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found |= find_env_references(value, (*path, index))
    return frozenset(found)
