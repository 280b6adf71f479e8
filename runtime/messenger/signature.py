"""X-Hub-Signature-256: which App Secret signed a webhook body, and whose entries that admits.

Meta signs every POST with the App Secret of the app the page is subscribed through: the
HMAC-SHA256 of the raw body, compared here in constant time. One rule decides what a
signature admits, for `POST /webhook/messenger` and `POST /webhook/messenger/<accountId>`
alike (see `refusal`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence

from runtime.config.model import Account
from runtime.secret import Secret

HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="


def sign(body: bytes, app_secret: str) -> str:
    """The header value Meta sends for `body`: `sha256=<hex>` (tests sign with it too)."""
    return _PREFIX + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def matching_secret(body: bytes, header: str | None, secrets: Iterable[Secret]) -> Secret | None:
    """The App Secret that signed `body`, or None if none did (or the header is missing).

    Computed over the exact bytes received, before any JSON parsing: one HMAC per distinct
    secret (pages of one app share its secret). Each is compared with `hmac.compare_digest`,
    and all of them are always tried, so the time taken says nothing about which one (if
    any) came close.
    """
    if not header or not header.startswith(_PREFIX):
        return None
    given = header[len(_PREFIX) :].strip().lower().encode()
    found: Secret | None = None
    for secret in dict.fromkeys(secrets):  # Secret compares and hashes by value
        expected = hmac.new(secret.reveal().encode(), body, hashlib.sha256).hexdigest().encode()
        if hmac.compare_digest(expected, given) and found is None:
            found = secret
    return found


def refusal(
    signed_by: Secret | None,
    accounts: Sequence[Account],
    entries: Mapping[str, Account | None] | None = None,
) -> str | None:
    """Why a body signed with `signed_by` is refused (403, nothing of it kept), else None.

    `accounts` are those the path may serve (every account, or the one of
    `/webhook/messenger/<accountId>`); `entries` maps the page id of each of the body's
    entries to the account it is routed to (None: no account has that page). The rule:

    - an entry for an account with an `appSecret` must be signed with that secret: an
      entry signed with another account's secret refuses the whole body;
    - an entry for an account without `appSecret` is taken unsigned;
    - an entry for a page no account has proves nothing (the caller ignores it);
    - so a body that no configured secret signed is refused unless some entry of it is for
      an account without `appSecret`, even when all its entries are for unknown pages.

    Called with `entries=None` before the body is parsed, it refuses what no entry could
    save (no configured secret signed it, and every account has one), so unsigned junk
    costs no JSON parse. The reason names accounts by label and pages by id, never a secret.
    """
    if entries is None:
        if signed_by is None and all(account.app_secret is not None for account in accounts):
            whose = f"account {accounts[0].label}'s" if len(accounts) == 1 else "any configured"
            return f"missing or wrong {HEADER}: not signed with {whose} appSecret"
        return None
    for page_id, account in entries.items():
        secret = account.app_secret if account is not None else None
        if account is not None and secret is not None and secret != signed_by:
            return (
                f"the entry for page {page_id} (account {account.label}) is not signed with "
                "that account's appSecret"
            )
    if signed_by is None and not any(
        account is not None and account.app_secret is None for account in entries.values()
    ):
        pages = sorted(entries)
        shown = ", ".join(pages[:3]) + (", ..." if len(pages) > 3 else "")
        return (
            f"missing or wrong {HEADER}, and no entry is for an account without appSecret "
            f"(pages: {shown or 'none'})"
        )
    return None
