"""Problem: one mistake (or warning) in one file, with where it is and how to fix it."""

from __future__ import annotations

import errno
import json
import os
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
    """One finding. `path` is the dotted key path inside the file ("" for the whole file).

    `unreadable` marks a file that could not be read at all (missing, no permission, a link
    to nothing): a ConfigError holding one is a ConfigReadError, so commands exit 2, not 1.
    Build those with `Problem.cannot_read`.

    A syntax error also carries the line it is on (`source`, with `caret` the index the
    caret goes under) and its likely cause (`hint`, also said in `message`): `excerpt()`.
    """

    file: str
    path: str
    message: str
    severity: Severity = Severity.ERROR
    line: int | None = None
    column: int | None = None
    unreadable: bool = False
    source: str | None = None
    caret: int = 0
    hint: str = ""

    @classmethod
    def cannot_read(
        cls, file: str, err: OSError, *, path: str = "", name: str = "", listing: bool = False
    ) -> Problem:
        """A file (or, with `listing`, a folder) the OS would not give us, and why.

        `file: cannot read: Permission denied; ...`, or with `name` (a file named inside
        `file`, such as a tokenFile): `config.json5: channels.messenger.tokenFile: cannot read
        'page.token': No such file or directory`.
        """
        verb = "list" if listing else "read"
        subject = f" '{name}'" if name else ""
        message = f"cannot {verb}{subject}: {os_reason(err, listing=listing)}"
        return cls(file=file, path=path, message=message, unreadable=True)

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

    def excerpt(self) -> list[str]:
        """The lines shown under `format()`'s: the source line and a caret under the column.

        ```
            3 |   b: 2
              |   ^
        ```
        """
        if self.source is None:
            return []
        number = str(self.line or "")
        gutter = " " * len(number)
        # the caret line copies the tabs before the column, so the caret lands under it
        pad = "".join(char if char == "\t" else " " for char in self.source[: self.caret])
        return [f"  {number} | {self.source}".rstrip(), f"  {gutter} | {pad}^"]

    def as_dict(self) -> dict[str, object]:
        fields: dict[str, object] = {
            "file": self.file,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "severity": str(self.severity),
            "message": self.message,
        }
        if self.source is not None:
            fields["source"] = self.source
        if self.hint:
            fields["hint"] = self.hint
        return fields


def os_reason(err: OSError, *, listing: bool = False) -> str:
    """The OS's reason (`Permission denied`), and what to do where that is clear."""
    reason = err.strerror or type(err).__name__
    if err.errno in (errno.EACCES, errno.EPERM):
        access = "read and execute access to the folder" if listing else "read access to it"
        return f"{reason}; give the user running the runtime {access}"
    target = _link_target(err.filename)
    if err.errno == errno.ENOENT and target is not None:
        return (
            f"{reason} (it is a symbolic link to '{target}', which does not exist); "
            "restore the target or remove the link"
        )
    return reason


def _link_target(filename: object) -> str | None:
    """Where a symbolic link points, or None if `filename` is not one."""
    if not isinstance(filename, str):
        return None
    try:
        return os.readlink(filename)
    except (OSError, ValueError):
        return None


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

    def missing(self, path: str, *, why: str, fix: str) -> None:
        """A required key that is absent, at its own path (`missing_key`)."""
        self.problems.append(missing_key(self.file, path, why=why, fix=fix))


def problems_to_json(problems: Sequence[Problem]) -> str:
    """The `--json` output of `runtime validate`: a list CI pipelines can read."""
    return json.dumps([problem.as_dict() for problem in problems], indent=2)
