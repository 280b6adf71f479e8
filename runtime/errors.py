"""Every error the runtime raises on purpose.

Error
├── ConfigError                the user's files are wrong; carries every Problem at once
│   └── ConfigReadError        a file cannot be read at all (missing, no permission)
├── WebhookError
│   ├── SignatureError         -> 403, nothing stored
│   └── MalformedBodyError     -> 400
├── GraphAPIError              status, code, subcode, fbtrace_id, sent: bool, retryable
│   ├── TokenError             code 190: page token expired or revoked (permanent)
│   ├── PermanentSendError     100, 10, 200, 551, 368...: sending again will not help
│   ├── WindowClosedError      outside the 24-hour window without a tag (permanent)
│   ├── RateLimitError         4, 17, 32, 613: retry_after (temporary)
│   └── GraphUnavailableError  5xx, codes 1 and 2, timeouts, refused (temporary)
├── PairingError               an unknown, expired or used pairing code
├── HandoverError              `runtime handover take` of a person no human has
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
    """The configuration or flow files are wrong; `problems` lists every mistake found.

    As `OSError(errno.ENOENT, ...)` is a FileNotFoundError, `ConfigError(problems)` is a
    ConfigReadError when one of the problems is a file that cannot be read
    (`Problem.unreadable`): wherever problems are collected and raised, the command exits 2.
    """

    def __new__(cls, problems: Sequence[Problem]) -> ConfigError:
        unreadable = any(problem.unreadable for problem in problems)
        kind: type[ConfigError] = ConfigReadError if unreadable else cls
        return Exception.__new__(kind, problems)

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(problem.format() for problem in self.problems))

    def __reduce__(self) -> tuple[type[ConfigError], tuple[tuple[Problem, ...]]]:
        # the default would rebuild it from the joined message, not from the problems
        return type(self), (self.problems,)


class ConfigReadError(ConfigError):
    """A file cannot be read at all (missing, no permission, a link to nothing): commands
    exit 2 rather than 1."""


class WebhookError(Error):
    """A webhook request that is refused; `status` is the HTTP answer."""

    status = 400


class SignatureError(WebhookError):
    """A missing or wrong X-Hub-Signature-256: answered 403, nothing stored."""

    status = 403


class MalformedBodyError(WebhookError):
    """A body that is not a Messenger `page` webhook: answered 400."""

    status = 400


class GraphAPIError(Error):
    """The Graph API refused a call, or could not be reached.

    `retryable` says whether sending the same request again may succeed; `sent` whether the
    request may have reached Meta (a timeout after sending) or surely did not (refused).
    `meta_message` is Meta's own text of the error (`error.message`), when Meta answered.
    """

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        subcode: int | None = None,
        fbtrace_id: str | None = None,
        sent: bool = True,
        meta_message: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.subcode = subcode
        self.fbtrace_id = fbtrace_id
        self.sent = sent
        self.meta_message = meta_message
        super().__init__(message)


class TokenError(GraphAPIError):
    """The page token is invalid, expired or revoked (code 190): regenerate it."""


class PermanentSendError(GraphAPIError):
    """A refusal that sending again will not change (invalid parameter, no permission...)."""


class WindowClosedError(GraphAPIError):
    """Outside the 24-hour window without a message tag (refused before any HTTP call)."""


class RateLimitError(GraphAPIError):
    """Too many calls (codes 4, 17, 32, 613): back off and retry."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class GraphUnavailableError(GraphAPIError):
    """A temporary failure: HTTP 5xx, codes 1 and 2, a timeout or a refused connection."""

    retryable = True


class StoreError(Error):
    """The state store failed, or holds a record it cannot read."""


class PairingError(Error):
    """A pairing code that is unknown, expired or already used."""


class HandoverError(Error):
    """`runtime handover take` of a person whose thread no human has (or nobody knows)."""
