"""Turn effects: what a turn asks the world to do besides sending messages.

The engine is pure: it cannot call anything. A step that needs the outside world ends in a
small frozen value on the Turn, of one of two sorts:

- an effect (`Turn.effects`: a handover's thread-control calls), which the
  worker carries out after the turn's messages, durably and in order with them
  (`runtime/worker.py`); `runtime test` and `runtime chat` show it instead;
- a call whose answer the flow needs (`Turn.call`: an `http` step's HttpCall). The turn is
  paused there; the caller makes the call (`runtime/http_calls.py`, or a test's canned
  answer) and hands the HttpResult back with `continue_turn`, which runs the rest of the
  turn, like an answer to an `ask`.

Timers are neither: the session holds them (`Session.timers`, `runtime/timers.py`), the
worker writes what a turn changed of them with the turn, and one falling due comes back as
an event of the person's.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, TypeAlias

PAGE_INBOX_APP_ID: Final = "263902037430900"  # Meta's Page Inbox: where the page's people answer
# the names a `handover` step's `to:` may use instead of an app id
NAMED_APPS: Final = MappingProxyType({"inbox": PAGE_INBOX_APP_ID})


def app_name(app_id: str) -> str:
    """`Page Inbox`, or `app 1234` for any other app: how people read a thread's owner."""
    return "Page Inbox" if app_id == PAGE_INBOX_APP_ID else f"app {app_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class PassThread:
    """Pass the person's thread to another app (`pass_thread_control`): the Page Inbox, where
    a human answers, or an app by its id. `metadata` goes with it (the step's note)."""

    target_app_id: str
    metadata: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TakeThread:
    """Take the person's thread back for the bot (`take_thread_control`): a handover's
    `timeout` ran out. `metadata` says why, for whoever had it."""

    metadata: str


Effect: TypeAlias = PassThread | TakeThread


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpCall:
    """An `http` step's request, rendered: what the caller sends.

    `url`, `headers` and `json` may still name secrets as `${VAR}` (filled in from the
    environment as the request leaves, so no secret is ever in a Turn, a note or a log
    line); `$${` stands for a literal `${`. `json` is None for a request without a body.
    `idempotency_key` is the same each time one event's turn reaches this step (a crash
    replays the turn, and the API can tell the call is the same). `where` names the step
    for log lines: `flows/orders.json5: flows.order.steps.1`.
    """

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    json: object = None
    timeout: float
    idempotency_key: str
    where: str

    @property
    def has_body(self) -> bool:
        return self.json is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpResult:
    """What an HttpCall got: `ok` for a 2xx answer read whole; `status` None when no answer
    came (a timeout, a refused connection); `body` the parsed JSON, else the text; `error`
    says what went wrong, for the log line and for templates (`vars.order.error`)."""

    ok: bool
    status: int | None = None
    body: object = None
    error: str | None = None
    seconds: float = 0.0

    def as_value(self) -> dict[str, object]:
        """`vars.<save_as>`: `{ ok, status, body, error }`."""
        return {"ok": self.ok, "status": self.status, "body": self.body, "error": self.error}
