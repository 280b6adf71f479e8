"""The Graph API endpoints the runtime calls, relative to `{base}/{version}/`.

A Page token's `me` is the page. `OUTBOX_ENDPOINTS` are those an outbox row may carry: the
calls that must leave durably and in order with a person's messages.
"""

from __future__ import annotations

from typing import Final

MESSAGES: Final = "me/messages"  # messages and sender actions (the Send API)
PASS_THREAD_CONTROL: Final = "me/pass_thread_control"  # noqa: S105 - a path
TAKE_THREAD_CONTROL: Final = "me/take_thread_control"
MESSENGER_PROFILE: Final = "me/messenger_profile"
SUBSCRIBED_APPS: Final = "me/subscribed_apps"
MESSAGE_ATTACHMENTS: Final = "me/message_attachments"

OUTBOX_ENDPOINTS: Final = frozenset({MESSAGES, PASS_THREAD_CONTROL, TAKE_THREAD_CONTROL})
