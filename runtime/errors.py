"""Every error the runtime raises on purpose.

Error
├── ConfigError                the user's files are wrong; carries every Problem at once
│   └── ConfigReadError        a file cannot be read at all (missing, no permission)
├── WebhookError
│   ├── SignatureError         -> 403, nothing stored
│   └── MalformedBodyError     -> 400
├── GraphAPIError              status, code, subcode, fbtrace_id, sent: bool
│   ├── TokenError             e.g. code 190: page token expired or revoked
│   ├── RateLimitError         retry_after
│   ├── WindowClosedError      outside the 24-hour window without a tag
│   └── GraphUnavailableError  5xx or transport; safe to retry when not sent
├── TemplateError              flow, step, file, line
├── PairingError               an unknown, expired or used pairing code
└── StoreError                 the state store failed or holds something unreadable
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime.validation.problems import Problem


class Error(Exception):
    """The root of every error the runtime raises on purpose."""


class ConfigError(Error):
    """The configuration or flow files are wrong; `problems` lists every mistake found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(problem.format() for problem in self.problems))


class ConfigReadError(ConfigError):
    """A file cannot be read at all: `runtime validate` exits 2 rather than 1."""


class StoreError(Error):
    """The state store failed, or holds a record it cannot read."""


class PairingError(Error):
    """A pairing code that is unknown, expired or already used."""


class TemplateError(Error):
    """A template failed to render; says which flow, step and file it belongs to."""

    def __init__(self, message: str, *, flow: str, step: int, file: str, field: str) -> None:
        self.flow = flow
        self.step = step
        self.file = file
        self.field = field
        super().__init__(f"{file}: flows.{flow}.steps.{step}.{field}: {message}")
