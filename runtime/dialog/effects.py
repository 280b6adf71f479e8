"""Turn effects: what a turn asks the world to do besides sending messages.

The engine is pure: it cannot call anything. A step that needs the outside world (a
thread-control call today; an HTTP request or a timer next) ends in an effect on the Turn,
a small frozen value the worker carries out after the turn's messages, durably and in order
with them (`runtime/worker.py`). `runtime test` and `runtime chat` show effects instead.
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


Effect: TypeAlias = PassThread
