"""Security warnings: a valid config that is risky in production says so."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from runtime.config.load import load_config
from tests.conftest import WriteConfig


def warnings_of(path: Path, env: dict[str, str] | None = None) -> list[str]:
    """`file: key.path: message` (where in the file: tests/validation/test_problem_positions)."""
    warnings = load_config(path, env=env or {}).warnings
    return [dataclasses.replace(warning, line=None, column=None).format() for warning in warnings]


def test_a_safe_config_has_no_warnings(write_config: WriteConfig) -> None:
    path = write_config(
        """{ channels: { messenger: { pageAccessToken: "${TOKEN}", appSecret: "${SECRET}",
             verifyToken: "v", dmPolicy: "pairing" } } }"""
    )
    assert warnings_of(path, {"TOKEN": "EAAG", "SECRET": "s"}) == []


def test_no_app_secret_warns_that_signatures_are_not_verified(write_config: WriteConfig) -> None:
    path = write_config('{ channels: { messenger: { verifyToken: "v" } } }')
    [warning] = warnings_of(path, {"MESSENGER_PAGE_ACCESS_TOKEN": "EAAG"})
    assert warning.startswith(f"{path}: channels.messenger.appSecret: warning: not set for account")
    assert "signatures are not verified" in warning


def test_open_policy_warns(write_config: WriteConfig) -> None:
    path = write_config(
        '{ channels: { messenger: { verifyToken: "v", appSecret: "s", dmPolicy: "open" } } }'
    )
    [warning] = warnings_of(path, {"MESSENGER_PAGE_ACCESS_TOKEN": "EAAG"})
    assert warning.startswith(f"{path}: channels.messenger.dmPolicy: warning: 'open' lets anyone")


def test_an_inline_token_warns_and_points_to_token_file(write_config: WriteConfig) -> None:
    path = write_config(
        '{ channels: { messenger: { pageAccessToken: "EAAG-inline", verifyToken: "v", '
        'appSecret: "s" } } }'
    )
    [warning] = warnings_of(path)
    assert warning.startswith(f"{path}: channels.messenger.pageAccessToken: warning: the token")
    assert "tokenFile" in warning


def test_a_token_file_readable_by_others_warns_with_the_fix(write_config: WriteConfig) -> None:
    path = write_config(
        '{ channels: { messenger: { tokenFile: "token", verifyToken: "v", appSecret: "s" } } }'
    )
    token = path.parent / "token"
    token.write_text("EAAG-file")
    token.chmod(0o644)
    [warning] = warnings_of(path)
    assert "channels.messenger.tokenFile: warning: 'token' can be read by other users" in warning
    assert f"(mode 0644); run: chmod 600 {token}" in warning
    token.chmod(0o600)
    assert warnings_of(path) == []


def test_an_empty_allowlist_warns_that_nobody_gets_in(write_config: WriteConfig) -> None:
    path = write_config(
        """{ channels: { messenger: { verifyToken: "v", appSecret: "s",
             accounts: { shop: { tokenFile: "t", dmPolicy: "allowlist" } } } } }"""
    )
    (path.parent / "t").write_text("EAAG")
    (path.parent / "t").chmod(0o600)
    assert warnings_of(path) == [
        f"{path}: channels.messenger.accounts.shop.allowFrom: warning: is empty under dmPolicy "
        "'allowlist': nobody can talk to the bot"
    ]


def test_a_redis_password_written_in_the_config_warns(write_config: WriteConfig) -> None:
    messenger = 'pageAccessToken: "${TOKEN}", appSecret: "${SECRET}", verifyToken: "v"'
    env = {"TOKEN": "EAAG", "SECRET": "s", "REDIS_URL": "redis://:redis-pw-77@db:6379/0"}
    path = write_config(
        f"""{{ channels: {{ messenger: {{ {messenger} }} }},
             state: {{ backend: "redis", url: "redis://:redis-pw-77@db:6379/0" }} }}"""
    )
    [warning] = warnings_of(path, env)
    assert warning == (
        f"{path}: state.url: warning: the Redis password is written in the config file; keep "
        'it out of files you share: url: "${REDIS_URL}", with the URL in that variable'
    )
    from_env = write_config(
        f"""{{ channels: {{ messenger: {{ {messenger} }} }},
             state: {{ backend: "redis", url: "${{REDIS_URL}}" }} }}""",
        "from-env.json5",
    )
    without = write_config(
        f"""{{ channels: {{ messenger: {{ {messenger} }} }},
             state: {{ backend: "redis", url: "redis://db:6379/0" }} }}""",
        "without.json5",
    )
    assert warnings_of(from_env, env) == []
    assert warnings_of(without, env) == []
