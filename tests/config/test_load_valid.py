"""Valid configs load into the typed model with every documented rule applied."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.config.load import default_config_path, load_config
from runtime.config.model import Config, DmPolicy, StateBackend, TokenSource
from tests.conftest import WriteConfig

NO_ENV: dict[str, str] = {}


def load(path: Path, env: dict[str, str] | None = None) -> Config:
    return load_config(path, env=NO_ENV if env is None else env).config


def test_the_seed_minimal_config_is_the_default_account(write_config: WriteConfig) -> None:
    path = write_config(
        """{
          channels: { messenger: {
            enabled: true, pageAccessToken: "EAAG-token", appSecret: "your_app_secret",
            verifyToken: "your_verify_token", dmPolicy: "pairing",
          } },
        }"""
    )
    config = load(path)
    account = config.accounts["default"]
    assert account.page_access_token.reveal() == "EAAG-token"
    assert account.token_source is TokenSource.CONFIG
    assert account.app_secret is not None
    assert account.app_secret.reveal() == "your_app_secret"
    assert account.dm_policy is DmPolicy.PAIRING
    assert account.agent_id == "main"
    assert account.sender_actions is True
    assert account.key_path == "channels.messenger"


def test_defaults_fill_what_the_file_leaves_out(write_config: WriteConfig) -> None:
    path = write_config('{ channels: { messenger: { pageAccessToken: "t", verifyToken: "v" } } }')
    config = load(path)
    assert config.accounts["default"].dm_policy is DmPolicy.PAIRING
    assert config.accounts["default"].allow_from == frozenset()
    assert config.server.host == "127.0.0.1"
    assert config.server.port == 8080
    assert config.state.backend is StateBackend.SQLITE
    assert config.state.path == path.parent / ".runtime" / "state.db"
    assert config.flow_sources == ("flows/",)
    assert config.graph.messages_url == "https://graph.facebook.com/v27.0/me/messages"


def test_accounts_inherit_top_level_keys_and_may_override_them(write_config: WriteConfig) -> None:
    path = write_config(
        """{
          channels: { messenger: {
            appSecret: "shared-secret", verifyToken: "shared-verify", dmPolicy: "allowlist",
            allowFrom: ["111"],
            accounts: {
              "main-page": { name: "Main Page", pageAccessToken: "EAAG-main", pageId: "1001" },
              "support-page": { name: "Support Page", pageAccessToken: "EAAH-support",
                                pageId: 1002, dmPolicy: "open", appSecret: "support-secret" },
            },
          } },
        }"""
    )
    config = load(path)
    main, support = config.accounts["main-page"], config.accounts["support-page"]
    assert main.dm_policy is DmPolicy.ALLOWLIST
    assert main.allow_from == frozenset({"111"})
    assert main.app_secret is not None
    assert main.app_secret.reveal() == "shared-secret"
    assert support.dm_policy is DmPolicy.OPEN
    assert support.app_secret is not None
    assert support.app_secret.reveal() == "support-secret"
    assert support.verify_token.reveal() == "shared-verify"
    assert (main.page_id, support.page_id) == ("1001", "1002")
    assert support.key_path == "channels.messenger.accounts.support-page"
    assert "default" not in config.accounts


def test_a_default_never_hides_an_inherited_value(write_config: WriteConfig) -> None:
    path = write_config(
        """{ channels: { messenger: { dmPolicy: "open", senderActions: false, verifyToken: "v",
             accounts: { a: { pageAccessToken: "t" } } } } }"""
    )
    account = load(path).accounts["a"]
    assert account.dm_policy is DmPolicy.OPEN
    assert account.sender_actions is False


def test_the_env_token_serves_the_default_account(write_config: WriteConfig) -> None:
    path = write_config('{ channels: { messenger: { verifyToken: "v" } } }')
    account = load(path, {"MESSENGER_PAGE_ACCESS_TOKEN": "EAAG-from-env"}).accounts["default"]
    assert account.page_access_token.reveal() == "EAAG-from-env"
    assert account.token_source is TokenSource.ENV


def test_config_wins_over_token_file_and_token_file_over_env(write_config: WriteConfig) -> None:
    path = write_config(
        '{ channels: { messenger: { tokenFile: "secrets/token", verifyToken: "v" } } }'
    )
    token_file = path.parent / "secrets" / "token"
    token_file.parent.mkdir()
    token_file.write_text("  EAAG-from-file\n")
    env = {"MESSENGER_PAGE_ACCESS_TOKEN": "EAAG-from-env"}
    from_file = load(path, env).accounts["default"]
    assert from_file.page_access_token.reveal() == "EAAG-from-file"
    assert from_file.token_source is TokenSource.FILE

    path.write_text(
        '{ channels: { messenger: { pageAccessToken: "EAAG-inline", tokenFile: "secrets/token",'
        ' verifyToken: "v" } } }'
    )
    assert load(path, env).accounts["default"].page_access_token.reveal() == "EAAG-inline"


def test_token_file_is_relative_to_the_config_file_not_the_cwd(
    write_config: WriteConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(
        '{ channels: { messenger: { tokenFile: "token.txt", verifyToken: "v" } } }',
        name="bot/config.json5",
    )
    (path.parent / "token.txt").write_text("EAAG-file")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load(path).accounts["default"].page_access_token.reveal() == "EAAG-file"


def test_allow_from_numbers_and_prefixes_become_digit_strings(write_config: WriteConfig) -> None:
    path = write_config(
        """{ channels: { messenger: { pageAccessToken: "t", verifyToken: "v",
             dmPolicy: "allowlist",
             allowFrom: [1234567890123456, "9876543210123456", "messenger:111", "fb:222",
                         "facebook:333"] } } }"""
    )
    assert load(path).accounts["default"].allow_from == frozenset(
        {"1234567890123456", "9876543210123456", "111", "222", "333"}
    )


def test_env_variables_are_substituted_in_any_string(write_config: WriteConfig) -> None:
    path = write_config(
        """{ channels: { messenger: { pageAccessToken: "${PAGE_TOKEN}",
             appSecret: "${FB_APP_SECRET}", verifyToken: "pre-${VT}-post" } },
             server: { port: "${PORT}" } }"""
    )
    env = {"PAGE_TOKEN": "EAAG-env", "FB_APP_SECRET": "s3cr3t", "VT": "x", "PORT": "9090"}
    config = load(path, env)
    account = config.accounts["default"]
    assert account.page_access_token.reveal() == "EAAG-env"
    assert account.verify_token.reveal() == "pre-x-post"
    assert config.server.port == 9090


def test_a_doubled_dollar_keeps_a_literal_reference(write_config: WriteConfig) -> None:
    path = write_config(
        '{ channels: { messenger: { pageAccessToken: "t", verifyToken: "$${NOT_A_VAR}" } } }'
    )
    assert load(path).accounts["default"].verify_token.reveal() == "${NOT_A_VAR}"


def test_disabled_accounts_are_left_out(write_config: WriteConfig) -> None:
    path = write_config(
        """{ channels: { messenger: { verifyToken: "v", accounts: {
             on: { pageAccessToken: "t" }, off: { enabled: false } } } } }"""
    )
    config = load(path)
    assert list(config.accounts) == ["on"]
    assert config.disabled_accounts == ("off",)


def test_graph_api_base_env_overrides_the_config(write_config: WriteConfig) -> None:
    path = write_config(
        """{ channels: { messenger: { pageAccessToken: "t", verifyToken: "v",
             graphApiBase: "https://graph.example.org/", graphApiVersion: "v21.0" } } }"""
    )
    assert load(path).graph.messages_url == "https://graph.example.org/v21.0/me/messages"
    env = {"MESSENGER_GRAPH_API_BASE": "http://127.0.0.1:9999"}
    assert load(path, env).graph.messages_url == "http://127.0.0.1:9999/v21.0/me/messages"


def test_redis_state_and_flow_lists(write_config: WriteConfig) -> None:
    path = write_config(
        """{ channels: { messenger: { pageAccessToken: "t", verifyToken: "v" } },
             state: { backend: "redis", url: "redis://:pw@localhost:6379/0" },
             flows: ["flows/", "extra/*.json5"] }"""
    )
    config = load(path)
    assert config.state.backend is StateBackend.REDIS
    assert config.state.path is None
    assert config.state.url is not None
    assert "pw" not in repr(config.state)
    assert config.state.prefix == "runtime:"  # the default: several bots set their own
    assert config.flow_sources == ("flows/", "extra/*.json5")


@pytest.mark.parametrize(
    "url",
    [
        "redis://localhost:6379/0",
        "rediss://user:pw@redis.example.com:6380/2",
        "unix:///run/redis/redis.sock?db=1",
    ],
)
def test_redis_urls_of_each_scheme_with_a_prefix(write_config: WriteConfig, url: str) -> None:
    path = write_config(
        f"""{{ channels: {{ messenger: {{ pageAccessToken: "t", verifyToken: "v" }} }},
             state: {{ backend: "redis", url: "{url}", prefix: "shop-bot:" }} }}"""
    )
    state = load(path).state
    assert state.url is not None
    assert state.url.reveal() == url
    assert state.prefix == "shop-bot:"


def test_a_redis_url_from_the_environment(write_config: WriteConfig) -> None:
    path = write_config(
        """{ channels: { messenger: { pageAccessToken: "t", verifyToken: "v" } },
             state: { backend: "redis", url: "${REDIS_URL}" } }"""
    )
    state = load(path, {"REDIS_URL": "redis://:pw@db:6379/3"}).state
    assert state.url is not None
    assert state.url.reveal() == "redis://:pw@db:6379/3"
    assert state.prefix == "runtime:"


def test_memory_state_needs_no_path_nor_url(write_config: WriteConfig) -> None:
    path = write_config(
        """{ channels: { messenger: { pageAccessToken: "t", verifyToken: "v" } },
             state: { backend: "memory" } }"""
    )
    state = load(path).state
    assert (state.backend, state.path, state.url) == (StateBackend.MEMORY, None, None)


def test_the_version_changes_with_the_file(write_config: WriteConfig) -> None:
    path = write_config('{ channels: { messenger: { pageAccessToken: "t", verifyToken: "v" } } }')
    first = load(path).version
    path.write_text('{ channels: { messenger: { pageAccessToken: "u", verifyToken: "v" } } }')
    assert load(path).version != first
    assert len(first) == 12


def test_the_config_path_comes_from_runtime_config_or_the_cwd() -> None:
    assert default_config_path({"RUNTIME_CONFIG": "bot/c.json5"}) == Path("bot/c.json5")
    assert default_config_path({}) == Path("config.json5")


def test_loaded_values_cannot_be_changed(write_config: WriteConfig) -> None:
    path = write_config('{ channels: { messenger: { pageAccessToken: "t", verifyToken: "v" } } }')
    config = load(path)
    with pytest.raises(AttributeError):
        config.accounts["default"].dm_policy = DmPolicy.OPEN  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.accounts["x"] = config.accounts["default"]  # type: ignore[index]
