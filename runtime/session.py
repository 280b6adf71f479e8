"""Session: what the bot remembers of one conversation between turns."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from runtime.errors import StoreError


def session_key(agent_id: str, psid: str) -> str:
    """The session key of a Messenger DM, as the seed document names it."""
    return f"agent:{agent_id}:messenger:dm:{psid}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """One conversation's state: its variables and the `ask` step waiting for an answer.

    `vars` holds JSON values only, so every store can keep a session as one JSON document.
    `flow`/`step` name the `ask` that waits (both None when nothing waits); `retries` counts
    the answers that failed its validation.
    """

    key: str
    account_id: str
    psid: str
    vars: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    flow: str | None = None
    step: int | None = None
    retries: int = 0
    updated_at: float = 0.0

    def to_json(self) -> str:
        return json.dumps(
            {
                "key": self.key,
                "account_id": self.account_id,
                "psid": self.psid,
                "vars": dict(self.vars),
                "flow": self.flow,
                "step": self.step,
                "retries": self.retries,
                "updated_at": self.updated_at,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> Session:
        try:
            data = json.loads(text)
            return cls(
                key=str(data["key"]),
                account_id=str(data["account_id"]),
                psid=str(data["psid"]),
                vars=MappingProxyType(dict(data.get("vars") or {})),
                flow=data.get("flow"),
                step=data.get("step"),
                retries=int(data.get("retries", 0)),
                updated_at=float(data.get("updated_at", 0.0)),
            )
        except (ValueError, KeyError, TypeError) as err:
            raise StoreError(f"a stored session cannot be read: {err}") from err
