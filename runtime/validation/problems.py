"""Problem: one mistake (or warning) in one file, with where it is and how to fix it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


def key_path(parts: Iterable[object]) -> str:
    """`("channels", "messenger", "allowFrom", 2)` -> `"channels.messenger.allowFrom.2"`."""
    return ".".join(str(part) for part in parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One finding. `path` is the dotted key path inside the file ("" for the whole file)."""

    file: str
    path: str
    message: str
    severity: Severity = Severity.ERROR
    line: int | None = None
    column: int | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def format(self) -> str:
        """One line: `config.json5: channels.messenger.dmPolicy: unknown value 'closed'; ...`."""
        where = self.file
        if self.line is not None:
            where += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        label = "warning: " if self.severity is Severity.WARNING else ""
        if self.path:
            return f"{where}: {self.path}: {label}{self.message}"
        return f"{where}: {label}{self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "severity": str(self.severity),
            "message": self.message,
        }


def missing_key(file: str, path: str, *, why: str, fix: str) -> Problem:
    """A required key that is absent, reported at its own path: where it is to be added, and
    what an editor or a CI annotation points at, not the object that lacks it.

    `why` says what cannot work without it, `fix` how to set it: `config.json5:
    channels.messenger.verifyToken: is required: account 'default' has none, so ...; set ...`.
    """
    return Problem(file=file, path=path, message=f"is required: {why}; {fix}")


class ProblemCollector:
    """Collects the problems found in one file, so a check never stops at the first."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(file=self.file, path=path, message=message))


def problems_to_json(problems: Sequence[Problem]) -> str:
    """The `--json` output of `runtime validate`: a list CI pipelines can read."""
    return json.dumps([problem.as_dict() for problem in problems], indent=2)
