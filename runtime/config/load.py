"""load_config: one config file in, a validated, immutable `Config` out (or every problem)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from runtime.config.accounts import resolve_accounts
from runtime.config.audit import security_warnings
from runtime.config.json5file import (
    Document,
    find_env_references,
    locate,
    read_json5,
    substitute_env,
)
from runtime.config.model import (
    DEFAULT_FLOWS,
    DEFAULT_GRAPH_API_BASE,
    DEFAULT_GRAPH_API_VERSION,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_REDIS_PREFIX,
    DEFAULT_STATE_PATH,
    GRAPH_API_BASE_ENV,
    TOKEN_ENV,
    Account,
    Config,
    GraphSettings,
    ServerSettings,
    StateBackend,
    StateSettings,
)
from runtime.config.offline import StandInEnvironment, offline_warning
from runtime.errors import ConfigError
from runtime.secret import Secret
from runtime.validation.problems import Problem, missing_key
from runtime.validation.schema import drop_invalid, validate_document

CONFIG_ENV = "RUNTIME_CONFIG"
DEFAULT_CONFIG_FILE = "config.json5"


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    """`$RUNTIME_CONFIG` when set, else `./config.json5`."""
    environ = os.environ if env is None else env
    return Path(environ.get(CONFIG_ENV) or DEFAULT_CONFIG_FILE)


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """A valid config and the warnings found on the way."""

    config: Config
    warnings: tuple[Problem, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class ConfigCheck:
    """What one reading of a config file found, errors or not.

    `config` is None when a problem is an error. `flow_sources` names the flow files even
    then, so they are checked too; it is None when the `flows` setting itself is wrong.
    """

    config: Config | None
    problems: tuple[Problem, ...]
    flow_sources: tuple[str, ...] | None
    document: Document  # the file as read: `locate` gives its problems their lines


def load_config(
    path: Path, *, env: Mapping[str, str] | None = None, offline: bool = False
) -> LoadedConfig:
    """Read, substitute, validate and resolve a config file.

    Raises ConfigReadError when the file or a token file cannot be read, ConfigError with
    every problem found otherwise. Nothing secret appears in a problem. `offline` (commands
    that send nothing): an unset `${VAR}`, a missing token or verifyToken is a warning.
    """
    checked = check_config(path, env=env, offline=offline)
    problems = locate(checked.problems, checked.document)
    if checked.config is None:
        raise ConfigError([problem for problem in problems if problem.is_error])
    return LoadedConfig(config=checked.config, warnings=tuple(problems))


def check_config(
    path: Path, *, env: Mapping[str, str] | None = None, offline: bool = False
) -> ConfigCheck:
    """`load_config`, returning its problems instead of raising them.

    Raises only when there is nothing to check: ConfigReadError when the file cannot be
    read, ConfigError when it is not JSON5.
    """
    environ = dict(os.environ if env is None else env)
    document = read_json5(path)
    file = document.display
    substituted, unset = substitute_env(document.data, environ, file=file)
    if offline and unset:
        substituted, _ = substitute_env(document.data, StandInEnvironment(environ), file=file)
    problems = [offline_warning(problem) if offline else problem for problem in unset]
    data = substituted if isinstance(substituted, Mapping) else {}
    env_token = environ.get(TOKEN_ENV, "").strip()
    normalized, schema_problems = validate_document(
        data, "config", file=file, secrets=frozenset({env_token} - {""})
    )
    # a value whose `${VAR}` is missing has its message already; the schema's is noise
    unset_paths = {problem.path for problem in unset}
    problems.extend(p for p in schema_problems if p.path not in unset_paths)
    # offline, a stand-in for a missing `${VAR}` stays unless the schema refused it
    refused = [p for p in schema_problems if p.path in unset_paths]
    normalized = drop_invalid(normalized, [*(p for p in problems if p.is_error), *refused])
    wrong = any(is_flows_error(problem) for problem in problems)
    flow_sources = None if wrong else _flow_sources(normalized.get("flows"))

    base_dir = path.parent
    channels = normalized.get("channels")
    messenger = channels.get("messenger") if isinstance(channels, Mapping) else None
    accounts: dict[str, Account] = {}
    disabled: list[str] = []
    if not isinstance(messenger, Mapping):
        messenger = {}  # the schema has said it is required
    else:
        accounts, disabled, account_problems = resolve_accounts(
            messenger,
            base_dir=base_dir,
            env=environ,
            file=file,
            reported=frozenset(problem.path for problem in problems),
            offline=offline,
        )
        problems.extend(account_problems)
    state, state_problems = _state_settings(normalized.get("state"), base_dir, file)
    reported = {problem.path for problem in problems}
    problems.extend(p for p in state_problems if p.path not in reported)
    if any(problem.is_error for problem in problems):
        return ConfigCheck(
            config=None, problems=tuple(problems), flow_sources=flow_sources, document=document
        )

    config = Config(
        path=path,
        base_dir=base_dir,
        version=_version(document.raw, normalized, accounts),
        accounts=MappingProxyType(accounts),
        disabled_accounts=tuple(disabled),
        flow_sources=_flow_sources(normalized.get("flows")),
        graph=_graph_settings(messenger, environ),
        server=_server_settings(normalized.get("server")),
        state=state,
        locales=_locales(normalized.get("locales")),
    )
    problems.extend(security_warnings(config, env_paths=find_env_references(document.data)))
    return ConfigCheck(
        config=config,
        problems=tuple(problems),
        flow_sources=config.flow_sources,
        document=document,
    )


def is_flows_error(problem: Problem) -> bool:
    """An error in the `flows` setting: the flow files cannot be found."""
    return problem.is_error and (problem.path == "flows" or problem.path.startswith("flows."))


def _version(raw: bytes, normalized: Mapping[str, object], accounts: Mapping[str, Account]) -> str:
    """A short hash of everything the config resolves to: the file, `${VAR}` values, tokens.

    So a reload that changes only an environment variable or a token file is a new version.
    """
    digest = hashlib.sha256(raw)
    digest.update(json.dumps(normalized, sort_keys=True, default=str).encode())
    for account in accounts.values():
        digest.update(account.page_access_token.reveal().encode() + b"\0")
    return digest.hexdigest()[:12]


def _flow_sources(flows: object) -> tuple[str, ...]:
    if isinstance(flows, str):
        return (flows,)
    if isinstance(flows, list):
        return tuple(str(item) for item in flows)
    return DEFAULT_FLOWS


def _graph_settings(messenger: Mapping[str, object], env: Mapping[str, str]) -> GraphSettings:
    base = env.get(GRAPH_API_BASE_ENV, "").strip() or messenger.get("graphApiBase")
    version = messenger.get("graphApiVersion")
    return GraphSettings(
        api_base=str(base or DEFAULT_GRAPH_API_BASE).rstrip("/"),
        api_version=str(version or DEFAULT_GRAPH_API_VERSION),
        batch=messenger.get("graphBatch", True) is not False,
    )


def _server_settings(server: object) -> ServerSettings:
    values = server if isinstance(server, Mapping) else {}
    return ServerSettings(
        host=str(values.get("host", DEFAULT_HOST)),
        port=int(values.get("port", DEFAULT_PORT)),
        metrics=values.get("metrics", True) is not False,
    )


def _state_settings(
    state: object, base_dir: Path, file: str
) -> tuple[StateSettings, list[Problem]]:
    values = state if isinstance(state, Mapping) else {}
    backend = StateBackend(str(values.get("backend", StateBackend.SQLITE)))
    url = values.get("url")
    problems: list[Problem] = []
    if backend is StateBackend.REDIS and not isinstance(url, str):
        problems.append(
            missing_key(
                file,
                "state.url",
                why="backend 'redis' keeps the state on a Redis server",
                fix="set it to the server's URL, such as redis://localhost:6379/0 "
                "(rediss:// for TLS, unix:///path/to/redis.sock for a socket)",
            )
        )
    if backend is not StateBackend.REDIS and url is not None:
        problems.append(
            Problem(file=file, path="state.url", message="is only used with backend 'redis'")
        )
    if backend is not StateBackend.REDIS and "prefix" in values:
        problems.append(
            Problem(file=file, path="state.prefix", message="is only used with backend 'redis'")
        )
    if backend is not StateBackend.SQLITE and "path" in values:
        problems.append(
            Problem(file=file, path="state.path", message="is only used with backend 'sqlite'")
        )
    path = base_dir / str(values.get("path", DEFAULT_STATE_PATH))
    redis = backend is StateBackend.REDIS
    return (
        StateSettings(
            backend=backend,
            path=path if backend is StateBackend.SQLITE else None,
            url=Secret(url) if isinstance(url, str) else None,
            prefix=str(values.get("prefix", DEFAULT_REDIS_PREFIX)) if redis else None,
        ),
        problems,
    )


def _locales(value: object) -> tuple[str, ...]:
    return tuple(str(locale) for locale in value) if isinstance(value, list) else ()
