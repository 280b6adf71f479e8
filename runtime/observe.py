"""Observer: what the pipeline tells whoever counts (Prometheus, `runtime/metrics.py`).

Passed to the server, the worker, the sender, the Graph client and the reloader like their
`clock`, with NULL_OBSERVER (which does nothing) by default, so a module that reports an
event imports this Protocol and never the metrics library. Each method is named for what
happened; its arguments are small closed sets (an outcome, an event kind, a flow name the
config bounds, an endpoint), never a PSID or a text.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Protocol


class WebhookOutcome(StrEnum):
    """How a webhook POST was answered."""

    OK = "ok"  # 200: every event kept (or none to keep)
    BAD_SIGNATURE = "bad_signature"  # 403: nothing kept
    MALFORMED = "malformed"  # 400: not a Messenger body
    UNKNOWN_ACCOUNT = "unknown_account"  # 404: /webhook/messenger/<id> names no account
    STORE_UNAVAILABLE = "store_unavailable"  # 503: not kept; Meta delivers it again


# `Observer.event`'s kind for an event read and not kept (echo, delivery, read...)
SKIPPED: Final = "skipped"


class Observer(Protocol):
    def webhook(self, outcome: WebhookOutcome) -> None:
        """A webhook POST was answered."""

    def event(self, kind: str) -> None:
        """A webhook event was kept for the worker (an `EventKind`), or SKIPPED."""

    def turn(self, flow: str) -> None:
        """A turn ended: the flow that answered, or why none did (the turn line's `flow`)."""

    def replies_sent(self, count: int) -> None:
        """`count` outbox rows (messages, thread-control calls) went through."""

    def replies_retried(self, count: int) -> None:
        """`count` outbox rows failed for now and wait for another try."""

    def reply_dead_lettered(self) -> None:
        """An outbox row failed for good and was moved to the dead letters."""

    def graph_call(self, endpoint: str, seconds: float, status: str) -> None:
        """A Graph API HTTP request ended: its endpoint (`graph_endpoint`), how long it
        took, and the HTTP status, or `transport` when no answer came."""

    def batch(self, calls: int) -> None:
        """A batch request carried `calls` calls."""

    def reload(self, *, ok: bool) -> None:
        """A reload was tried: served (ok) or rejected."""

    def version(self, version: str) -> None:
        """The Bot's version now served (at start, and after each reload that changed it)."""


class NullObserver:
    """Counts nothing: the default wherever no metrics are wanted (CLI commands, tests)."""

    def webhook(self, outcome: WebhookOutcome) -> None:
        pass

    def event(self, kind: str) -> None:
        pass

    def turn(self, flow: str) -> None:
        pass

    def replies_sent(self, count: int) -> None:
        pass

    def replies_retried(self, count: int) -> None:
        pass

    def reply_dead_lettered(self) -> None:
        pass

    def graph_call(self, endpoint: str, seconds: float, status: str) -> None:
        pass

    def batch(self, calls: int) -> None:
        pass

    def reload(self, *, ok: bool) -> None:
        pass

    def version(self, version: str) -> None:
        pass


NULL_OBSERVER: Final[Observer] = NullObserver()
