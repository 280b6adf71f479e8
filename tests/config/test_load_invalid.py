"""Invalid configs: every mistake is reported at once, as `file: key.path: message`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from runtime.config.load import load_config
from runtime.errors import ConfigError, ConfigReadError
from runtime.validation.problems import Problem
from tests.conftest import WriteConfig

GOOD = 'pageAccessToken: "EAAG-token", verifyToken: "verify"'


def problems_of(path: Path, env: dict[str, str] | None = None) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={} if env is None else env)
    return list(caught.value.problems)


def lines_of(path: Path, env: dict[str, str] | None = None, *, placed: bool = False) -> list[str]:
    """`file: key.path: message`, and the line and column too if `placed` (the key paths'
    are tested in tests/validation/test_problem_positions.py)."""
    problems = problems_of(path, env)
    if not placed:
        problems = [dataclasses.replace(problem, line=None, column=None) for problem in problems]
    return [problem.format() for problem in problems]


INVALID = [
    pytest.param(
        f'{{ channels: {{ messenger: {{ {GOOD}, dmPolicy: "closed" }} }} }}',
        "channels.messenger.dmPolicy: unknown value 'closed'; "
        "expected one of pairing, allowlist, open, disabled",
        id="unknown-dm-policy",
    ),
    pytest.param(
        f'{{ channels: {{ messenger: {{ {GOOD}, pageAcessToken: "x" }} }} }}',
        "channels.messenger.pageAcessToken: unknown key; did you mean `pageAccessToken`?",
        id="misspelt-key",
    ),
    pytest.param(
        f'{{ channels: {{ messenger: {{ {GOOD}, accounts: {{ a: {{ dmPolcy: "open" }} }} }} }} }}',
        "channels.messenger.accounts.a.dmPolcy: unknown key; did you mean `dmPolicy`?",
        id="misspelt-account-key",
    ),
    pytest.param(
        f"{{ channels: {{ messenger: {{ {GOOD} }} }}, sever: {{ port: 1 }} }}",
        "sever: unknown key; did you mean `server`?",
        id="misspelt-top-level-key",
    ),
    pytest.param(
        '{ channels: { messenger: { pageAccessToken: "t" } } }',
        "channels.messenger.verifyToken: is required: account 'default' has none, so Meta's "
        "webhook subscription handshake cannot succeed; set verifyToken to a string of your "
        "choice, then enter the same in the App Dashboard",
        id="missing-verify-token",
    ),
    pytest.param(
        '{ channels: { messenger: { pageAccessToken: "t", accounts: { shop: {} } } } }',
        "channels.messenger.accounts.shop.verifyToken: is required: account 'shop' has none, so "
        "Meta's webhook subscription handshake cannot succeed; set verifyToken to a string of "
        "your choice on this account, or once on channels.messenger for every account, then "
        "enter the same in the App Dashboard",
        id="missing-verify-token-named-account",
    ),
    pytest.param(
        '{ channels: { messenger: { verifyToken: "v" } } }',
        "channels.messenger.pageAccessToken: is required: account 'default' has no page access "
        "token, so no reply can be sent; set pageAccessToken or tokenFile (a file holding the "
        "token), or the environment variable MESSENGER_PAGE_ACCESS_TOKEN",
        id="missing-token",
    ),
    pytest.param(
        '{ channels: { messenger: { verifyToken: "v", accounts: { shop: { name: "Shop" } } } } }',
        "channels.messenger.accounts.shop.pageAccessToken: is required: account 'shop' has no "
        "page access token, so no reply can be sent; set pageAccessToken or tokenFile (a file "
        "holding the token) on this account, or once on channels.messenger for every account "
        "(MESSENGER_PAGE_ACCESS_TOKEN serves only the account named 'default')",
        id="missing-token-named-account",
    ),
    pytest.param(
        '{ channels: { messenger: { verifyToken: "v", accounts: { default: {} } } } }',
        "channels.messenger.accounts.default.pageAccessToken: is required: account 'default' "
        "has no page access token, so no reply can be sent; set pageAccessToken or tokenFile "
        "(a file holding the token) on this account, or once on channels.messenger for every "
        "account, or the environment variable MESSENGER_PAGE_ACCESS_TOKEN",
        id="missing-token-account-named-default",
    ),
    pytest.param(
        f'{{ channels: {{ messenger: {{ {GOOD}, allowFrom: ["12", "abc"] }} }} }}',
        "channels.messenger.allowFrom.1: invalid value 'abc': a PSID is a string of digits, "
        "optionally prefixed messenger:, fb: or facebook:",
        id="allow-from-not-a-psid",
    ),
    pytest.param(
        f"{{ channels: {{ messenger: {{ {GOOD}, allowFrom: [12.5] }} }} }}",
        "channels.messenger.allowFrom.0: expected a string or an integer, got a number",
        id="allow-from-float",
    ),
    pytest.param(
        f'{{ channels: {{ messenger: {{ {GOOD}, allowFrom: "123" }} }} }}',
        "channels.messenger.allowFrom: expected a list, got a string",
        id="allow-from-not-a-list",
    ),
    pytest.param(
        f'{{ channels: {{ messenger: {{ {GOOD}, enabled: "yes" }} }} }}',
        "channels.messenger.enabled: expected true or false, got a string",
        id="enabled-not-boolean",
    ),
    pytest.param(
        f"{{ channels: {{ messenger: {{ {GOOD} }} }}, server: {{ port: 70000 }} }}",
        "server.port: must be at most 65535, got 70000",
        id="port-out-of-range",
    ),
    pytest.param(
        f'{{ channels: {{ messenger: {{ {GOOD} }} }}, state: {{ backend: "mysql" }} }}',
        "state.backend: unknown value 'mysql'; expected one of sqlite, redis, memory",
        id="unknown-state-backend",
    ),
    pytest.param(
        f"""{{ channels: {{ messenger: {{ {GOOD} }} }},
             state: {{ backend: "memory", path: "state.db" }} }}""",
        "state.path: is only used with backend 'sqlite'",
        id="memory-with-path",
    ),
    pytest.param(
        f"""{{ channels: {{ messenger: {{ {GOOD} }} }},
             state: {{ backend: "memory", url: "redis://localhost:6379/0" }} }}""",
        "state.url: is only used with backend 'redis'",
        id="memory-with-url",
    ),
    pytest.param(
        f'{{ channels: {{ messenger: {{ {GOOD} }} }}, state: {{ backend: "redis" }} }}',
        "state.url: is required: backend 'redis' keeps the state on a Redis server; set it to "
        "the server's URL, such as redis://localhost:6379/0 (rediss:// for TLS, "
        "unix:///path/to/redis.sock for a socket)",
        id="redis-without-url",
    ),
    pytest.param(
        f"""{{ channels: {{ messenger: {{ {GOOD} }} }},
             state: {{ backend: "redis", url: "http://localhost:6379/0" }} }}""",
        "state.url: invalid value: a redis://, rediss:// (TLS) or unix:// URL, such as "
        "redis://localhost:6379/0",
        id="redis-url-of-another-scheme",
    ),
    pytest.param(
        f"""{{ channels: {{ messenger: {{ {GOOD} }} }},
             state: {{ backend: "redis", url: "redis://db:6379/0", prefix: "{{bot}}:" }} }}""",
        "state.prefix: invalid value '{bot}:': no { or }: Redis Cluster hashes the part between "
        "braces, which would put every key of the store in one slot (one node)",
        id="redis-prefix-with-braces",
    ),
    pytest.param(
        f"""{{ channels: {{ messenger: {{ {GOOD} }} }},
             state: {{ backend: "redis", url: "redis://localhost:6379/0", prefix: "" }} }}""",
        "state.prefix: must not be empty",
        id="redis-prefix-empty",
    ),
    pytest.param(
        f"""{{ channels: {{ messenger: {{ {GOOD} }} }}, state: {{ prefix: "bot:" }} }}""",
        "state.prefix: is only used with backend 'redis'",
        id="sqlite-with-prefix",
    ),
    pytest.param(
        f'{{ channels: {{ messenger: {{ {GOOD}, graphApiVersion: "25" }} }} }}',
        "channels.messenger.graphApiVersion: invalid value '25': a version such as v27.0",
        id="bad-graph-version",
    ),
    pytest.param(
        f'{{ channels: {{ messenger: {{ {GOOD}, pageId: "page-1" }} }} }}',
        "channels.messenger.pageId: invalid value 'page-1': a page id is a string of digits",
        id="page-id-not-digits",
    ),
    pytest.param(
        f"{{ channels: {{ messenger: {{ {GOOD}, accounts: {{}} }} }} }}",
        "channels.messenger.accounts: is empty: add an account, or remove `accounts` to use the "
        "keys above",
        id="empty-accounts",
    ),
    pytest.param(
        f'{{ channels: {{ messenger: {{ {GOOD}, accounts: {{ "a b": {{}} }} }} }} }}',
        "channels.messenger.accounts.a b: invalid value 'a b': an account id may use letters, "
        "digits, '_' and '-' (it appears in the webhook URL)",
        id="account-id-with-space",
    ),
    pytest.param(
        f"""{{ channels: {{ messenger: {{ {GOOD}, accounts: {{
             a: {{ pageId: "42" }}, b: {{ pageId: 42 }} }} }} }} }}""",
        "channels.messenger.accounts.b.pageId: page id 42 is also account 'a''s: the shared "
        "webhook path could not tell them apart",
        id="duplicate-page-id",
    ),
    pytest.param(
        f"{{ channels: {{ messenger: {{ {GOOD} }} }}, flows: [] }}",
        "flows: must not be empty",
        id="empty-flow-list",
    ),
    pytest.param(
        "{ server: { port: 8080 } }",
        "channels: is required: add channels: { messenger: { pageAccessToken, appSecret, "
        "verifyToken } } (the smallest config is in the README)",
        id="no-channels",
    ),
    pytest.param(
        f'{{ channels: {{ messenger: {{ {GOOD}, appSecret: "${{FB_APP_SECRET}}" }} }} }}',
        "channels.messenger.appSecret: environment variable FB_APP_SECRET is not set",
        id="missing-env-variable",
    ),
    pytest.param(
        f'{{ channels: {{ messenger: {{ {GOOD}, tokenFile: "nope.txt" }} }} }}',
        None,  # pageAccessToken wins, so a missing tokenFile is not read: no problem at all
        id="token-file-unread-when-token-inline",
    ),
]


@pytest.mark.parametrize(("text", "expected"), INVALID)
def test_each_mistake_names_its_key_path(
    write_config: WriteConfig, text: str, expected: str | None
) -> None:
    path = write_config(text)
    if expected is None:
        assert load_config(path, env={}).config.accounts
        return
    assert lines_of(path) == [f"{path}: {expected}"]


def test_channels_must_hold_messenger(write_config: WriteConfig) -> None:
    path = write_config("{ channels: {} }")
    assert lines_of(path) == [
        f"{path}: channels.messenger: is required: add messenger: {{ pageAccessToken, appSecret, "
        "verifyToken } (the smallest config is in the README)"
    ]


def test_every_mistake_of_a_file_is_reported_at_once(write_config: WriteConfig) -> None:
    path = write_config(
        """{ channels: { messenger: { pageAcessToken: "t", dmPolicy: "closed",
             allowFrom: ["x"], accounts: { a: { enabled: 1 } } } },
             server: { port: 0 }, bogus: true }"""
    )
    paths = [problem.path for problem in problems_of(path)]
    assert paths == [
        "bogus",
        "channels.messenger.accounts.a.enabled",
        "channels.messenger.allowFrom.0",
        "channels.messenger.dmPolicy",
        "channels.messenger.pageAcessToken",
        "server.port",
        "channels.messenger.accounts.a.pageAccessToken",  # it has no token (from resolution)
        "channels.messenger.accounts.a.verifyToken",  # nor a verifyToken
    ]


def test_missing_keys_are_reported_at_their_own_paths(write_config: WriteConfig) -> None:
    path = write_config(
        "{ channels: { messenger: { accounts: { a: {}, b: { verifyToken: 'v' } } } } }"
    )
    assert [problem.path for problem in problems_of(path)] == [
        "channels.messenger.accounts.a.pageAccessToken",
        "channels.messenger.accounts.a.verifyToken",
        "channels.messenger.accounts.b.pageAccessToken",
    ]


@pytest.mark.parametrize(
    ("messenger", "expected"),
    [
        pytest.param(
            'pageAccessToken: "t", verifyToken: ""',
            ["channels.messenger.verifyToken: must not be empty"],
            id="empty-verify-token",
        ),
        pytest.param(
            'verifyToken: "v", pageAccessToken: 12',
            ["channels.messenger.pageAccessToken: expected a string, got an integer"],
            id="token-of-the-wrong-type",
        ),
        pytest.param(
            'verifyToken: "v", tokenFile: ""',
            ["channels.messenger.tokenFile: must not be empty"],
            id="empty-token-file",
        ),
        pytest.param(
            'pageAccessToken: "t", verifyToken: "${UNSET_VERIFY}", accounts: { a: {}, b: {} }',
            ["channels.messenger.verifyToken: environment variable UNSET_VERIFY is not set"],
            id="inherited-unset-variable",
        ),
    ],
)
def test_a_wrong_value_is_not_reported_again_as_missing(
    write_config: WriteConfig, messenger: str, expected: list[str]
) -> None:
    path = write_config(f"{{ channels: {{ messenger: {{ {messenger} }} }} }}")
    assert lines_of(path) == [f"{path}: {line}" for line in expected]


def test_a_json5_syntax_error_gives_line_and_column(write_config: WriteConfig) -> None:
    path = write_config('{\n  channels: {\n    messenger: { pageAccessToken: "t",, }\n  }\n}\n')
    [problem] = problems_of(path)
    assert (problem.line, problem.column) == (3, 39)  # the second comma
    assert problem.format() == (
        f"{path}:3:39: JSON5 syntax error: unexpected ','; two commas in a row: a value "
        "missing between them, or one comma too many?"
    )


def test_a_key_written_twice_is_an_error_not_a_silent_overwrite(write_config: WriteConfig) -> None:
    path = write_config(
        '{ channels: { messenger: { pageAccessToken: "t", verifyToken: "v", dmPolicy: "open",'
        ' dmPolicy: "pairing" } } }'
    )
    assert lines_of(path, placed=True) == [
        f"{path}:1:86: channels.messenger: key 'dmPolicy' is written twice in one object"
        " (lines 1 and 1); JSON5 would keep only the last: remove one"
    ]


def test_duplicates_are_found_at_any_depth_with_their_lines(write_config: WriteConfig) -> None:
    path = write_config(
        """{
  // "a": 1 in a comment is not a key, nor is 'b: 2' in a string
  channels: { messenger: { pageAccessToken: "t, b: 2", verifyToken: "v",
    accounts: {
      shop: { name: "x" },
      "shop": { name: "y" },
    },
  } },
  server: { port: 1 }, flows: ["a", { b: 1, b: 2 }],
}"""
    )
    assert [(p.path, p.line) for p in problems_of(path)] == [
        ("channels.messenger.accounts", 6),
        ("flows.1", 9),
    ]


def test_a_newline_in_a_syntax_error_stays_on_one_line(write_config: WriteConfig) -> None:
    path = write_config("{\n  channels: {\n    messenger: { a: 1 b\n")
    [line] = lines_of(path, placed=True)
    assert line.startswith(f"{path}:3:")
    assert "\n" not in line


def test_a_top_level_that_is_not_an_object_is_an_error(write_config: WriteConfig) -> None:
    path = write_config("[1, 2]")
    assert lines_of(path, placed=True) == [f"{path}:1:1: the top level must be an object {{ ... }}"]


def test_an_unreadable_token_file_names_the_file_not_the_token(write_config: WriteConfig) -> None:
    path = write_config(
        '{ channels: { messenger: { tokenFile: "missing.txt", verifyToken: "v" } } }'
    )
    assert lines_of(path) == [
        f"{path}: channels.messenger.tokenFile: cannot read 'missing.txt': "
        "No such file or directory"
    ]


def test_a_token_file_that_is_not_text_is_an_error_not_a_read_failure(
    write_config: WriteConfig,
) -> None:
    path = write_config('{ channels: { messenger: { tokenFile: "t.bin", verifyToken: "v" } } }')
    (path.parent / "t.bin").write_bytes(b"EAAG\xff\xfe")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert not isinstance(caught.value, ConfigReadError)  # exit 1: the file was read
    assert [problem.format() for problem in caught.value.problems] == [
        f"{path}:1:28: channels.messenger.tokenFile: 't.bin' is not UTF-8 text (byte 4), as a page "
        "access token is: check that it is the token's file"
    ]


def test_an_unreadable_token_file_is_a_read_error(write_config: WriteConfig) -> None:
    path = write_config(
        '{ channels: { messenger: { verifyToken: "v",'
        ' accounts: { shop: { tokenFile: "gone" } } } } }'
    )
    (path.parent / "gone").symlink_to("nowhere")
    with pytest.raises(ConfigReadError) as caught:
        load_config(path, env={})
    [problem] = caught.value.problems
    assert problem.unreadable
    assert problem.path == "channels.messenger.accounts.shop.tokenFile"
    assert problem.message == (
        "cannot read 'gone': No such file or directory (it is a symbolic link to 'nowhere', "
        "which does not exist); restore the target or remove the link"
    )


def test_an_empty_token_file_is_an_error(write_config: WriteConfig) -> None:
    path = write_config('{ channels: { messenger: { tokenFile: "t.txt", verifyToken: "v" } } }')
    (path.parent / "t.txt").write_text("\n")
    assert lines_of(path) == [f"{path}: channels.messenger.tokenFile: 't.txt' is empty"]


def test_a_missing_file_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(ConfigReadError) as caught:
        load_config(tmp_path / "nope.json5", env={})
    assert caught.value.problems[0].message == "cannot read: No such file or directory"


def test_a_folder_given_as_the_config_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(ConfigReadError) as caught:
        load_config(tmp_path, env={})
    assert caught.value.problems[0].message == "cannot read: Is a directory"
