"""The variables every template of a turn sees: user, message, match, vars, account."""

from __future__ import annotations

from types import MappingProxyType

from runtime.bot import Bot
from runtime.envelope import Envelope


def build_context(bot: Bot, envelope: Envelope, variables: dict[str, object]) -> dict[str, object]:
    """The context of one turn; `match` starts empty and is set when a regex trigger fires.

    `vars` is a read-only live view of `variables`: a `set` step earlier in the turn is seen
    by every later step. Messenger gives no profile fields with a message, so
    `user.first_name` is undefined (and `user.first_name or 'there'` works).
    """
    account = bot.accounts.get(envelope.account_id)
    return {
        "user": {"psid": envelope.psid, "id": envelope.psid},
        "message": envelope.as_context(),
        "match": {},
        "vars": MappingProxyType(variables),
        "account": {
            "id": envelope.account_id,
            "name": account.name if account else None,
            "page_id": account.page_id if account else None,
        },
    }
