"""The variables every template of a turn sees: user, message, match, vars, account."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from runtime.bot import Bot
from runtime.envelope import Envelope


def build_context(
    bot: Bot,
    envelope: Envelope,
    variables: dict[str, object],
    user: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """The context of one turn; `match` starts empty and is set when a regex trigger fires.

    `vars` is a read-only live view of `variables`: a `set` step earlier in the turn is seen
    by every later step. `user` holds the profile fields the caller fetched; a field it does
    not have is undefined (and `user.first_name or 'there'` works).
    """
    account = bot.accounts.get(envelope.account_id)
    return {
        "user": {**(user or {}), "psid": envelope.psid, "id": envelope.psid},
        "message": envelope.as_context(),
        "match": {},
        "vars": MappingProxyType(variables),
        "account": {
            "id": envelope.account_id,
            "name": account.name if account else None,
            "page_id": account.page_id if account else None,
        },
    }
