"""The loaded config as frozen, typed values; camelCase file keys become snake_case here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from runtime.locales import WrittenText
from runtime.secret import Secret

DEFAULT_ACCOUNT_ID = "default"
DEFAULT_AGENT_ID = "main"
DEFAULT_GRAPH_API_BASE = "https://graph.facebook.com"
DEFAULT_GRAPH_API_VERSION = "v27.0"  # the newest, Nov 4, 2026
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_STATE_PATH = ".runtime/state.db"
DEFAULT_REDIS_PREFIX = "runtime:"  # `state.prefix`: the start of every Redis key
DEFAULT_FLOWS = ("flows/",)
DEFAULT_USER_PROFILE_TTL = 24 * 3600.0
TOKEN_ENV = "MESSENGER_PAGE_ACCESS_TOKEN"  # noqa: S105 - the variable's name, not a token
GRAPH_API_BASE_ENV = "MESSENGER_GRAPH_API_BASE"
# the texts an owner may write on an account (or once on channels.messenger, for every one)
PAIRING_MESSAGE_KEY = "pairingMessage"  # the reply a stranger gets, with their code
APPROVED_MESSAGE_KEY = "approvedMessage"  # the confirmation `runtime pair approve` sends
ACCOUNT_TEXT_KEYS = (PAIRING_MESSAGE_KEY, APPROVED_MESSAGE_KEY)


class DmPolicy(StrEnum):
    """Who may message the bot (the seed document's DM policies)."""

    PAIRING = "pairing"
    ALLOWLIST = "allowlist"
    OPEN = "open"
    DISABLED = "disabled"


class TokenSource(StrEnum):
    """Where an account's Page Access Token came from, in order of precedence."""

    CONFIG = "pageAccessToken"
    FILE = "tokenFile"
    ENV = TOKEN_ENV
    STAND_IN = "offline stand-in"  # offline commands only: none was given, none is sent


class StateBackend(StrEnum):
    SQLITE = "sqlite"
    REDIS = "redis"
    MEMORY = "memory"  # nothing kept across restarts; one process only


@dataclass(frozen=True, slots=True)
class OwnText:
    """A text of ACCOUNT_TEXT_KEYS as the config writes it, and the key path it is written at
    (`channels.messenger.pairingMessage` for every account that inherits it)."""

    written: WrittenText
    path: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """One Messenger page the bot answers for, with every inherited key resolved.

    `key_path` is where the account lives in the file (`channels.messenger` or
    `channels.messenger.accounts.<id>`), for messages about it.
    """

    id: str
    key_path: str
    name: str | None
    page_id: str | None
    page_access_token: Secret
    token_source: TokenSource
    token_file: Path | None
    app_secret: Secret | None
    verify_token: Secret
    dm_policy: DmPolicy
    allow_from: frozenset[str]
    agent_id: str
    sender_actions: bool
    # the page's Messenger Profile as the config wants it (`profile`, checked); None: unmanaged
    profile: Mapping[str, Any] | None = None
    profile_path: str | None = None  # where that profile is written (accounts inherit one)
    user_profile_ttl: float = DEFAULT_USER_PROFILE_TTL  # seconds a person's profile is kept
    # the ACCOUNT_TEXT_KEYS the config sets for it; a key left out: the built-in text
    texts: Mapping[str, OwnText] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How logs and errors name the account: `'support' (Support Page)`."""
        return f"'{self.id}'" + (f" ({self.name})" if self.name else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphSettings:
    api_base: str
    api_version: str
    batch: bool = True  # several waiting calls go in one batch request

    @property
    def messages_url(self) -> str:
        """The Send API endpoint: `{base}/{version}/me/messages` (the token goes in params)."""
        return f"{self.api_base.rstrip('/')}/{self.api_version}/me/messages"

    @property
    def batch_url(self) -> str:
        """The batch endpoint: `{base}/{version}/` (the token goes in the body)."""
        return f"{self.api_base.rstrip('/')}/{self.api_version}/"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerSettings:
    host: str
    port: int
    metrics: bool = True  # GET /metrics (Prometheus text) on the webhook's port


@dataclass(frozen=True, slots=True, kw_only=True)
class StateSettings:
    backend: StateBackend
    path: Path | None  # sqlite only
    url: Secret | None  # redis only; a URL may carry a password
    prefix: str | None = None  # redis only: every key's prefix (several bots on one Redis)


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """Everything `config.json5` says, resolved. Only enabled accounts are in `accounts`.

    `version` is a short hash of the file's bytes; `base_dir` is the config file's folder,
    which relative paths (flows, tokenFile, state.path) are resolved against.
    """

    path: Path
    base_dir: Path
    version: str
    accounts: Mapping[str, Account]
    disabled_accounts: tuple[str, ...]
    flow_sources: tuple[str, ...]
    graph: GraphSettings
    server: ServerSettings
    state: StateSettings
    # `locales`: the languages the bot speaks, the first the one `default` texts are written in
    locales: tuple[str, ...] = ()
