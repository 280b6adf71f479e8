"""Reading JSON5 files (syntax errors with line and column) and `${VAR}` substitution."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import json5
import pyjson5

from runtime.config.duplicates import DuplicateKey, find_duplicate_keys
from runtime.errors import ConfigError, ConfigReadError
from runtime.validation.problems import Problem, key_path

# json5 reports "<string>:3 Unexpected "," at column 10"
_JSON5_ERROR = re.compile(
    r"^<string>:(?P<line>\d+) (?P<message>.*?)(?: at column (?P<col>\d+))?$", re.DOTALL
)
_ENV_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed JSON5 file: its data, its raw bytes (for hashing) and how to name it."""

    path: Path
    display: str
    data: Mapping[str, object]
    raw: bytes


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
    duplicates = find_duplicate_keys(text)
    if duplicates:
        raise ConfigError([_duplicate_problem(shown, duplicate) for duplicate in duplicates])
    return Document(path=path, display=shown, data=data, raw=raw)


def parse_json5(text: str, *, file: str) -> object:
    """Parse with pyjson5 (compiled, some hundred times faster than json5); on an error,
    parse again with json5, whose messages carry the line and column.
    """
    try:
        return pyjson5.decode(text)
    except Exception:  # noqa: S110 - pyjson5's own error tree: json5 explains it below
        pass
    try:
        return json5.loads(text)  # what pyjson5 refused: json5 refuses it too, with a position
    except ValueError as err:
        raise ConfigError([_syntax_problem(file, err)]) from err
    except RecursionError as err:
        message = "JSON5 syntax error: nested too deeply"
        raise ConfigError([Problem(file=file, path="", message=message)]) from err


def _duplicate_problem(file: str, duplicate: DuplicateKey) -> Problem:
    message = (
        f"key '{duplicate.key}' is written twice in one object (lines {duplicate.first_line}"
        f" and {duplicate.line}); JSON5 would keep only the last: remove one"
    )
    return Problem(file=file, path=duplicate.path, message=message, line=duplicate.line)


def _syntax_problem(file: str, err: ValueError) -> Problem:
    match = _JSON5_ERROR.match(str(err))
    if match is None:  # e.g. 'Duplicate key "b" found in object': json5 gives no position
        return Problem(file=file, path="", message=f"JSON5 error: {err}")
    column = match["col"]
    text = match["message"].replace("\n", "\\n")  # one line per problem, always
    return Problem(
        file=file,
        path="",
        message=f"JSON5 syntax error: {text}",
        line=int(match["line"]),
        column=int(column) if column else None,
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
