"""Flow checks a schema cannot express: Messenger's limits on literal values, and warnings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from runtime.validation.problems import Problem

if TYPE_CHECKING:
    from runtime.bot import Bot


def check_literals(data: Mapping[str, object], *, file: str) -> list[Problem]:
    """Messenger's limits on the literal (template-free) values of one flow file."""
    return []


def flow_warnings(bot: Bot) -> list[Problem]:
    """Unhandled payloads, unreachable flows, template names not in the context."""
    return []
