"""Offline loading: what only production needs is a warning, and a stand-in takes its place.

`runtime chat`, `runtime test` and `runtime validate --offline` send nothing to Meta, so an
unset `${VAR}`, a page token, or a verifyToken they lack is no reason to refuse: each is
reported as a warning saying what production will need, and a clearly fake stand-in value
takes its place (a stand-in token is never sent anywhere: nothing offline sends).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping

from runtime.secret import Secret
from runtime.validation.problems import Problem, Severity

PRODUCTION_NEEDS = "fine offline; `runtime serve` and plain `runtime validate` need it"
STAND_IN_SECRET = Secret("offline-stand-in")  # a token or verifyToken nobody gave


def offline_warning(problem: Problem) -> Problem:
    """A problem of production's, as the warning it is offline."""
    return dataclasses.replace(
        problem,
        severity=Severity.WARNING,
        unreadable=False,  # a token file production reads: not this command's to read
        message=f"{problem.message}: {PRODUCTION_NEEDS}",
    )


class StandInEnvironment(Mapping[str, str]):
    """The environment, where a variable that is not set reads as `<NAME not set>`."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str)

    def __getitem__(self, name: str) -> str:
        value = self._environ.get(name)
        return f"<{name} not set>" if value is None else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._environ)

    def __len__(self) -> int:
        return len(self._environ)
