"""Page accounts: the default one or `accounts{}`, key inheritance, and token precedence.

Without `accounts`, the keys of `channels.messenger` are the account `default`. With it, each
entry is an account and the keys beside `accounts` are defaults it inherits and may override.
Defaults of our own (dmPolicy `pairing`, ...) are applied after inheritance, so they never
hide an inherited value. A key an account needs and has not is reported at its own path
under the account (`channels.messenger.accounts.shop.verifyToken`), saying where it may be
set.
`profile` too is inherited whole: an account's own replaces the channel's (`profile: {}`
manages nothing on that account's page). It is checked where it is written, once; so are
`pairingMessage` and `approvedMessage`, whose key path each account keeps (`OwnText`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from runtime.config.model import (
    ACCOUNT_TEXT_KEYS,
    DEFAULT_ACCOUNT_ID,
    DEFAULT_AGENT_ID,
    DEFAULT_USER_PROFILE_TTL,
    TOKEN_ENV,
    Account,
    DmPolicy,
    OwnText,
    TokenSource,
)
from runtime.config.offline import STAND_IN_SECRET, offline_warning
from runtime.durations import seconds_of
from runtime.secret import Secret
from runtime.validation.problems import Problem, missing_key
from runtime.validation.profile import check_profile

# keys of channels.messenger that belong to the channel, not to an account
CHANNEL_KEYS = frozenset({"accounts", "graphApiBase", "graphApiVersion", "graphBatch"})
CHANNEL_PATH = "channels.messenger"
_PSID_PREFIX = re.compile(r"^(?:messenger|fb|facebook):")


def normalize_psid(value: object) -> str:
    """`"fb:123"`, `123` and `"123"` all name the PSID `"123"`."""
    return _PSID_PREFIX.sub("", str(value).strip())


@dataclass(frozen=True, slots=True)
class _Place:
    """Where one account's keys are written, and which mistakes were reported already."""

    file: str
    account_id: str
    path: str  # channels.messenger, or channels.messenger.accounts.<id>
    own: Mapping[str, object]  # the keys written on the account itself
    reported: frozenset[str]  # key paths the schema or `${VAR}` already found wrong
    offline: bool  # a missing token or verifyToken is a warning, and a stand-in is used

    @property
    def inherits(self) -> bool:
        return self.path != CHANNEL_PATH

    def key_path(self, key: str) -> str:
        """Where `key` of this account is written: on the account, else inherited."""
        return f"{self.path}.{key}" if key in self.own else f"{CHANNEL_PATH}.{key}"

    def missing(
        self, keys: tuple[str, ...], *, why: str, ways: str, then: str = ""
    ) -> list[Problem]:
        """The account needs one of `keys` and has none: a problem at `keys[0]`'s path, or
        none if one of them was reported wrong already (a wrong value is dropped before the
        accounts are built, so it would be reported twice)."""
        if any(
            path in self.reported
            for key in keys
            for path in (f"{self.path}.{key}", f"{CHANNEL_PATH}.{key}")
        ):
            return []
        where = f" on this account, or once on {CHANNEL_PATH} for every account"
        problem = missing_key(
            self.file,
            f"{self.path}.{keys[0]}",
            why=f"account '{self.account_id}' {why}",
            fix=f"set {ways}{where if self.inherits else ''}{then}",
        )
        return [problem]


def resolve_accounts(
    messenger: Mapping[str, object],
    *,
    base_dir: Path,
    env: Mapping[str, str],
    file: str,
    reported: frozenset[str] = frozenset(),
    offline: bool = False,
) -> tuple[dict[str, Account], list[str], list[Problem]]:
    """Build every enabled account; return them, the ids of disabled ones, and the problems.

    `messenger` has passed the schema, so each key has the right type where present; the
    values at `reported` key paths were wrong and have been dropped. `offline`: an account
    without a page token or verifyToken gets a stand-in, and a warning instead of an error.
    """
    shared = {key: value for key, value in messenger.items() if key not in CHANNEL_KEYS}
    declared = messenger.get("accounts")
    entries: list[tuple[str, str, Mapping[str, object]]]
    if isinstance(declared, Mapping):
        entries = [
            (str(account_id), f"{CHANNEL_PATH}.accounts.{account_id}", own)
            for account_id, own in declared.items()
            if isinstance(own, Mapping)
        ]
    else:
        entries = [(DEFAULT_ACCOUNT_ID, CHANNEL_PATH, {})]

    accounts: dict[str, Account] = {}
    disabled: list[str] = []
    problems: list[Problem] = []
    shared_profile = shared.get("profile")
    if isinstance(shared_profile, Mapping):  # checked once, not once per account
        problems.extend(check_profile(shared_profile, file=file, path=f"{CHANNEL_PATH}.profile"))
    channel_enabled = shared.get("enabled", True) is not False
    for account_id, path, own in entries:
        keys: dict[str, object] = {**shared, **own}
        if not channel_enabled or keys.get("enabled", True) is False:
            disabled.append(account_id)
            continue
        place = _Place(file, account_id, path, own, reported, offline)
        own_profile = own.get("profile")
        if path != CHANNEL_PATH and isinstance(own_profile, Mapping):
            problems.extend(check_profile(own_profile, file=file, path=f"{path}.profile"))
        account, found = _build_account(place, keys, base_dir=base_dir, env=env)
        problems.extend(found)
        if account is not None:
            accounts[account_id] = account
    problems.extend(_duplicate_page_ids(accounts, file))
    return accounts, disabled, problems


def _build_account(
    place: _Place, keys: Mapping[str, object], *, base_dir: Path, env: Mapping[str, str]
) -> tuple[Account | None, list[Problem]]:
    token = _resolve_token(place, keys, base_dir=base_dir, env=env)
    verify_token = keys.get("verifyToken")
    problems = token if isinstance(token, list) else []
    if not isinstance(verify_token, str):
        problems += place.missing(
            ("verifyToken",),
            why="has none, so Meta's webhook subscription handshake cannot succeed",
            ways="verifyToken to a string of your choice",
            then=", then enter the same in the App Dashboard",
        )
    verify_secret = Secret(verify_token) if isinstance(verify_token, str) else None
    if place.offline:  # what only production needs: stand-ins, never sent anywhere offline
        problems = [offline_warning(problem) for problem in problems]
        if isinstance(token, list):
            token = STAND_IN_SECRET, TokenSource.STAND_IN, None
        verify_secret = verify_secret or STAND_IN_SECRET
    if isinstance(token, list) or verify_secret is None:
        return None, problems
    account_id = place.account_id
    path = place.path
    secret, source, token_file = token
    app_secret = keys.get("appSecret")
    page_id = keys.get("pageId")
    name = keys.get("name")
    allow_from = keys.get("allowFrom", [])
    agent_id = keys.get("agentId", DEFAULT_AGENT_ID)
    profile = keys.get("profile")
    ttl = seconds_of(keys.get("userProfileTtl"))
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
            verify_token=verify_secret,
            dm_policy=DmPolicy(str(keys.get("dmPolicy", DmPolicy.PAIRING))),
            allow_from=frozenset(
                normalize_psid(psid)
                for psid in (allow_from if isinstance(allow_from, list) else [])
            ),
            agent_id=str(agent_id),
            sender_actions=keys.get("senderActions", True) is not False,
            profile=MappingProxyType(dict(profile)) if isinstance(profile, Mapping) else None,
            profile_path=place.key_path("profile") if isinstance(profile, Mapping) else None,
            user_profile_ttl=DEFAULT_USER_PROFILE_TTL if ttl is None else ttl,
            texts=MappingProxyType(_own_texts(place, keys)),
        ),
        problems,
    )


def _own_texts(place: _Place, keys: Mapping[str, object]) -> dict[str, OwnText]:
    """The ACCOUNT_TEXT_KEYS the account has, each with the key path it is written at."""
    return {
        key: OwnText(value, place.key_path(key))
        for key in ACCOUNT_TEXT_KEYS
        if isinstance(value := keys.get(key), str | list | Mapping)
    }


def _resolve_token(
    place: _Place, keys: Mapping[str, object], *, base_dir: Path, env: Mapping[str, str]
) -> tuple[Secret, TokenSource, Path | None] | list[Problem]:
    """Token precedence: `pageAccessToken`, then `tokenFile`, then the env (default only).

    Without a token, why (an empty list: the reason was reported already).
    """
    inline = keys.get("pageAccessToken")
    if isinstance(inline, str):
        return Secret(inline), TokenSource.CONFIG, None
    token_file = keys.get("tokenFile")
    if isinstance(token_file, str):
        where = place.key_path("tokenFile")
        resolved = base_dir / token_file
        try:
            raw = resolved.read_bytes()
        except OSError as err:  # missing, no permission, a link to nothing: exit 2
            return [Problem.cannot_read(place.file, err, path=where, name=token_file)]
        try:
            content = raw.decode("utf-8").strip()
        except UnicodeDecodeError as err:
            message = (
                f"'{token_file}' is not UTF-8 text (byte {err.start}), as a page access token "
                "is: check that it is the token's file"
            )
            return [Problem(file=place.file, path=where, message=message)]
        if not content:
            return [Problem(file=place.file, path=where, message=f"'{token_file}' is empty")]
        return Secret(content), TokenSource.FILE, resolved
    from_env = env.get(TOKEN_ENV, "").strip()
    is_default = place.account_id == DEFAULT_ACCOUNT_ID
    if is_default and from_env:
        return Secret(from_env), TokenSource.ENV, None
    if is_default:
        then = f", or the environment variable {TOKEN_ENV}"
    else:
        then = f" ({TOKEN_ENV} serves only the account named '{DEFAULT_ACCOUNT_ID}')"
    return place.missing(
        ("pageAccessToken", "tokenFile"),
        why="has no page access token, so no reply can be sent",
        ways="pageAccessToken or tokenFile (a file holding the token)",
        then=then,
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
