"""Security warnings about a config that is valid but risky in production."""

from __future__ import annotations

import stat
from collections.abc import Iterable
from urllib.parse import urlsplit

from runtime.config.model import Account, Config, DmPolicy, TokenSource
from runtime.secret import Secret
from runtime.validation.problems import Problem, Severity


def security_warnings(config: Config, *, env_paths: Iterable[str] = ()) -> list[Problem]:
    """Warnings for each account; `env_paths` are key paths whose value came from `${VAR}`."""
    from_env = frozenset(env_paths)
    file = str(config.path)
    warnings: list[Problem] = []
    for account in config.accounts.values():
        warnings.extend(
            Problem(file=file, path=path, message=message, severity=Severity.WARNING)
            for path, message in _account_warnings(account, from_env)
        )
    if _has_password(config.state.url) and "state.url" not in from_env:
        warnings.append(
            Problem(
                file=file,
                path="state.url",
                message="the Redis password is written in the config file; keep it out of "
                'files you share: url: "${REDIS_URL}", with the URL in that variable',
                severity=Severity.WARNING,
            )
        )
    return warnings


def _has_password(url: Secret | None) -> bool:
    if url is None:
        return False
    try:
        return urlsplit(url.reveal()).password is not None
    except ValueError:  # the store says what is wrong with it
        return False


def _account_warnings(account: Account, from_env: frozenset[str]) -> Iterable[tuple[str, str]]:
    path = account.key_path
    if account.app_secret is None:
        yield (
            f"{path}.appSecret",
            f"not set for account '{account.id}': webhook signatures are not verified, so "
            "anyone who finds the URL can post fake messages; set appSecret (App Dashboard > "
            "Settings > Basic)",
        )
    if account.dm_policy is DmPolicy.OPEN:
        yield (
            f"{path}.dmPolicy",
            "'open' lets anyone on Facebook talk to the bot: right for a business page that "
            "answers the public; for a private bot use pairing or allowlist",
        )
    if account.dm_policy is DmPolicy.ALLOWLIST and not account.allow_from:
        yield (
            f"{path}.allowFrom",
            "is empty under dmPolicy 'allowlist': nobody can talk to the bot",
        )
    if account.token_source is TokenSource.CONFIG and not _came_from_env(path, from_env):
        yield (
            f"{path}.pageAccessToken",
            "the token is written in the config file; keep it out of files you share: use "
            'tokenFile, or "${MESSENGER_PAGE_ACCESS_TOKEN}"',
        )
    if account.token_file is not None:
        try:
            mode = account.token_file.stat().st_mode
        except OSError:
            return
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            yield (
                f"{path}.tokenFile",
                f"'{account.token_file.name}' can be read by other users (mode "
                f"{stat.S_IMODE(mode):04o}); run: chmod 600 {account.token_file}",
            )


def _came_from_env(account_path: str, from_env: frozenset[str]) -> bool:
    # an inherited token sits at channels.messenger.pageAccessToken, not under the account
    return bool(
        {f"{account_path}.pageAccessToken", "channels.messenger.pageAccessToken"} & from_env
    )
