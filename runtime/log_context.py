"""Who the records logged right now are about: the account and PSID being handled.

The worker sets them for a turn, the sender for a send, so every record logged meanwhile,
by the runtime's modules or by a library, is about that person: the JSON log lines carry
them (`runtime/logs.py`) without any message naming them. A context variable, so each
asyncio task (a turn, a sender) has its own, and a task started meanwhile inherits them.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass
from types import TracebackType


@dataclass(frozen=True, slots=True)
class Subject:
    """The account a record is about, and the person (PSID) when there is one."""

    account: str
    psid: str | None = None


_subject: ContextVar[Subject | None] = ContextVar("runtime_log_subject", default=None)


def current_subject() -> Subject | None:
    return _subject.get()


class about:  # lower case, as contextlib.suppress: read as `with about(account, psid):`
    """Records logged inside `with about(account, psid):` are about them; the previous
    subject is back after it (a class, not a generator: it runs once a turn)."""

    __slots__ = ("_subject", "_token")

    def __init__(self, account: str, psid: str | None = None) -> None:
        self._subject = Subject(account, psid)
        self._token: Token[Subject | None] | None = None

    def __enter__(self) -> Subject:
        self._token = _subject.set(self._subject)
        return self._subject

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _subject.reset(self._token)
            self._token = None
