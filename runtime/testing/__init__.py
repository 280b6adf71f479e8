"""Conversation tests of a bot's flows, offline: `runtime test`, and `Conversation` for pytest.

`Conversation` talks to a compiled Bot in memory; `runtime.testing.runner` runs the JSON5
test files `runtime test` reads (their format: `runtime.testing.cases`).
"""

from __future__ import annotations

from runtime.testing.conversation import Conversation

__all__ = ["Conversation"]
