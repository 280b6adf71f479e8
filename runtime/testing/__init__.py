"""Conversation tests of a bot's flows, offline: `runtime test`, and `Conversation` for pytest.

`Conversation` talks to a compiled Bot in memory, `HttpAnswer`s standing in for the APIs its
`http` steps call; `runtime.testing.runner` runs the JSON5 test files `runtime test` reads
(their format: `runtime.testing.cases`).
"""

from __future__ import annotations

from runtime.testing.conversation import Conversation
from runtime.testing.http_answers import HttpAnswer

__all__ = ["Conversation", "HttpAnswer"]
