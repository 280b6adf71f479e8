"""Page accounts: the default one or `accounts{}`, key inheritance, and token precedence.

Without `accounts`, the keys of `channels.messenger` are the account `default`. With it, each
entry is an account and the keys beside `accounts` are defaults it inherits and may override.
Defaults of our own (dmPolicy `pairing`, ...) are applied after inheritance, so they never
hide an inherited value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from runtime.config.model import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_AGENT_ID,
    TOKEN_ENV,
    Account,
    DmPolicy,
    TokenSource,
)
from runtime.secret import Secret
from runtime.validation.problems import Problem

# keys of channels.messenger that belong to the channel, not to an account
CHANNEL_KEYS = frozenset({"accounts", "graphApiBase", "graphApiVersion", "graphBatch"})
_PSID_PREFIX = re.compile(r"^(?:messenger|fb|facebook):")


def normalize_psid(value: object) -> str:
    """`"fb:123"`, `123` and `"123"` all name the PSID `"123"`."""
    return _PSID_PREFIX.sub("", str(value).strip())


def resolve_accounts(
    messenger: Mapping[str, object], *, base_dir: Path, env: Mapping[str, str], file: str
) -> tuple[dict[str, Account], list[str], list[Problem]]:
    """Build every enabled account; return them, the ids of disabled ones, and the problems.

    `messenger` has passed the schema, so each key has the right type where present.
    """
    shared = {key: value for key, value in messenger.items() if key not in CHANNEL_KEYS}
    declared = messenger.get("accounts")
    entries: list[tuple[str, str, Mapping[str, object]]]
    if isinstance(declared, Mapping):
        entries = [
            (str(account_id), f"channels.messenger.accounts.{account_id}", own)
            for account_id, own in declared.items()
            if isinstance(own, Mapping)
        ]
    else:
        entries = [(DEFAULT_ACCOUNT_ID, "channels.messenger", {})]

    accounts: dict[str, Account] = {}
    disabled: list[str] = []
    problems: list[Problem] = []
    channel_enabled = shared.get("enabled", True) is not False
    for account_id, path, own in entries:
        keys: dict[str, object] = {**shared, **own}
        if not channel_enabled or keys.get("enabled", True) is False:
            disabled.append(account_id)
            continue
        account, found = _build_account(
            account_id, path, keys, own, base_dir=base_dir, env=env, file=file
        )
        problems.extend(found)
        if account is not None:
            accounts[account_id] = account
    problems.extend(_duplicate_page_ids(accounts, file))
    return accounts, disabled, problems


def _build_account(
    account_id: str,
    path: str,
    keys: Mapping[str, object],
    own: Mapping[str, object],
    *,
    base_dir: Path,
    env: Mapping[str, str],
    file: str,
) -> tuple[Account | None, list[Problem]]:
    problems: list[Problem] = []
    token = _resolve_token(account_id, path, keys, own, base_dir=base_dir, env=env, file=file)
    if isinstance(token, Problem):
        problems.append(token)
    verify_token = keys.get("verifyToken")
    if not isinstance(verify_token, str):
        problems.append(
            Problem(
                file=file,
                path=path,
                message=(
                    f"account '{account_id}' has no verifyToken: Meta's webhook subscription "
                    "handshake cannot succeed without it; set verifyToken to a string of your "
                    "choice and enter the same in the App Dashboard"
                ),
            )
        )
    if problems or isinstance(token, Problem) or not isinstance(verify_token, str):
        return None, problems
    secret, source, token_file = token
    app_secret = keys.get("appSecret")
    page_id = keys.get("pageId")
    name = keys.get("name")
    pairing_message = keys.get("pairingMessage")
    allow_from = keys.get("allowFrom", [])
    agent_id = keys.get("agentId", DEFAULT_AGENT_ID)
    return (
        Account(
            id=account_id,
            key_path=path,
            name=name if isinstance(name, str) else None,
            page_id=str(page_id) if page_id is not None else None,
            page_access_token=secret,
            token_source=source,
            token_file=token_file,
            app_secret=Secret(app_secret) if isinstance(app_secret, str) else None,
            verify_token=Secret(verify_token),
            dm_policy=DmPolicy(str(keys.get("dmPolicy", DmPolicy.PAIRING))),
            allow_from=frozenset(
                normalize_psid(psid)
                for psid in (allow_from if isinstance(allow_from, list) else [])
            ),
            pairing_message=pairing_message if isinstance(pairing_message, str) else None,
            agent_id=str(agent_id),
            sender_actions=keys.get("senderActions", True) is not False,
        ),
        [],
    )


def _resolve_token(
    account_id: str,
    path: str,
    keys: Mapping[str, object],
    own: Mapping[str, object],
    *,
    base_dir: Path,
    env: Mapping[str, str],
    file: str,
) -> tuple[Secret, TokenSource, Path | None] | Problem:
    """Token precedence: `pageAccessToken`, then `tokenFile`, then the env (default only)."""
    inline = keys.get("pageAccessToken")
    if isinstance(inline, str):
        return Secret(inline), TokenSource.CONFIG, None
    token_file = keys.get("tokenFile")
    if isinstance(token_file, str):
        where = f"{path}.tokenFile" if "tokenFile" in own else "channels.messenger.tokenFile"
        resolved = base_dir / token_file
        try:
            content = resolved.read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError) as err:
            reason = getattr(err, "strerror", None) or type(err).__name__
            return Problem(file=file, path=where, message=f"cannot read '{token_file}': {reason}")
        if not content:
            return Problem(file=file, path=where, message=f"'{token_file}' is empty")
        return Secret(content), TokenSource.FILE, resolved
    from_env = env.get(TOKEN_ENV, "").strip()
    if account_id == DEFAULT_ACCOUNT_ID and from_env:
        return Secret(from_env), TokenSource.ENV, None
    ways = f"set {path}.pageAccessToken, {path}.tokenFile"
    if account_id == DEFAULT_ACCOUNT_ID:
        ways += f", or the environment variable {TOKEN_ENV}"
    else:
        ways += f" ({TOKEN_ENV} serves only the account named '{DEFAULT_ACCOUNT_ID}')"
    return Problem(
        file=file, path=path, message=f"account '{account_id}' has no page access token: {ways}"
    )


def _duplicate_page_ids(accounts: Mapping[str, Account], file: str) -> list[Problem]:
    owners: dict[str, str] = {}
    problems: list[Problem] = []
    for account in accounts.values():
        if account.page_id is None:
            continue
        first = owners.setdefault(account.page_id, account.id)
        if first != account.id:
            message = (
                f"page id {account.page_id} is also account '{first}''s: the shared webhook "
                "path could not tell them apart"
            )
            problems.append(Problem(file=file, path=f"{account.key_path}.pageId", message=message))
    return problems
