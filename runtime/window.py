"""Meta's 24-hour window: when a bot may still message a person, named once.

A bot's messages (standard messaging) may go out within 24 hours of the person's last
message; the tags that once allowed more were retired in 2026 (FACTS-2026.md), and
`HUMAN_AGENT` (7 days) is for a human's replies, sent with `runtime send --tag`.
`runtime validate` checks the flows' waits against it (`runtime/validation/window.py`), the
worker stamps each reply with the time its window closes (`NewOutbound.send_by`), and the
sender never tries one past it: it becomes a dead letter saying so.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

WINDOW_SECONDS: Final = 24 * 3600.0
HUMAN_AGENT_WINDOW_SECONDS: Final = 7 * 24 * 3600.0


def window_closes(last_inbound: float | None) -> float | None:
    """When the window opened by a message at `last_inbound` closes (None: none known)."""
    return None if last_inbound is None else last_inbound + WINDOW_SECONDS


def outside_window(send_by: float) -> str:
    """Why a message due past its window is not sent: the dead letter's error."""
    closed = datetime.fromtimestamp(send_by, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        f"not sent: Meta's 24-hour window closed at {closed} (24 hours after the person's "
        "last message), and a bot may not message them after it until they write again"
    )
