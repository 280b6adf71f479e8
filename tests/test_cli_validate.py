"""`runtime validate` and `runtime schema`, run as a user runs them: a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import json5
import jsonschema
import pytest

from tests.conftest import WriteConfig

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "examples" / "quickstart" / "config.json5"
TOKEN = "EAAG-very-secret-token-value"
APP_SECRET = "app-secret-value-1234"
VERIFY = "verify-token-value-5678"
REDIS_PASSWORD = "redis-password-9999"


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"RUNTIME_CONFIG"}}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "runtime", *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def with_a_flow(config: Path) -> Path:
    """A flow file where the config looks by default, so the config is what a test is about."""
    flows = config.parent / "flows"
    flows.mkdir(exist_ok=True)
    (flows / "main.json5").write_text(
        '{ flows: { main: { triggers: [{ keywords: ["hi"] }], steps: [{ text: "Hi" }] } } }',
        encoding="utf-8",
    )
    return config


def test_the_quickstart_validates() -> None:
    result = run("validate", "-c", str(QUICKSTART))
    assert result.returncode == 0, result.stderr
    # the warnings: the token written in the file, and the order lookup's ORDERS_TOKEN unset
    assert result.stdout.strip().endswith("valid (1 account, 16 flows, 2 warnings)")
    assert "pageAccessToken: warning:" in result.stderr
    assert "environment variable ORDERS_TOKEN is not set" in result.stderr


def test_an_invalid_config_exits_1_with_one_line_per_problem(write_config: WriteConfig) -> None:
    path = with_a_flow(
        write_config(
            '{ channels: { messenger: { pageAccessToken: "t", verifyToken: "v",'
            ' dmPolicy: "closed", allowFrom: [1.5] } } }'
        )
    )
    result = run("validate", "-c", str(path))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{path}:1:100: channels.messenger.allowFrom.0: expected a string or an integer, got a"
        " number",
        f"{path}:1:68: channels.messenger.dmPolicy: unknown value 'closed'; expected one of"
        " pairing, allowlist, open, disabled",
    ]
    assert result.stdout == ""


def test_a_syntax_error_exits_1_with_line_and_column(write_config: WriteConfig) -> None:
    path = write_config("{\n  channels: {\n    messenger: [,]\n  }\n}")
    result = run("validate", "-c", str(path))
    assert result.returncode == 1
    assert result.stderr.startswith(f"{path}:3:17: JSON5 syntax error")


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = run("validate", "-c", str(tmp_path / "nope.json5"))
    assert result.returncode == 2
    assert "nope.json5: cannot read: No such file or directory" in result.stderr


def test_config_option_is_accepted_after_other_options(write_config: WriteConfig) -> None:
    path = with_a_flow(
        write_config('{ channels: { messenger: { pageAccessToken: "t", verifyToken: "v" } } }')
    )
    assert run("validate", "--json", "-c", str(path)).returncode == 0
    assert run("validate", "-c", str(path), "--json").returncode == 0


def test_runtime_config_env_names_the_file(write_config: WriteConfig, tmp_path: Path) -> None:
    path = with_a_flow(
        write_config('{ channels: { messenger: { pageAccessToken: "t", verifyToken: "v" } } }')
    )
    assert run("validate", env={"RUNTIME_CONFIG": str(path)}).returncode == 0
    # without -c or RUNTIME_CONFIG it reads ./config.json5
    assert run("validate", cwd=tmp_path).returncode == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run("validate", cwd=empty).returncode == 2


def test_json_output_lists_problems_for_ci(write_config: WriteConfig) -> None:
    path = with_a_flow(write_config('{ channels: { messenger: { pageAccessToken: "t" } } }'))
    result = run("validate", "-c", str(path), "--json")
    assert result.returncode == 1
    [problem] = json.loads(result.stdout)
    assert problem["file"] == str(path)
    assert problem["path"] == "channels.messenger.verifyToken"
    assert problem["severity"] == "error"
    assert problem["message"].startswith("is required: account 'default' has none")
    assert "set verifyToken to a string of your choice" in problem["message"]


@pytest.mark.parametrize(
    ("text", "paths"),
    [
        pytest.param("{}", ["channels"], id="no-channels"),
        pytest.param("{ channels: {} }", ["channels.messenger"], id="no-messenger"),
        pytest.param(
            "{ channels: { messenger: { accounts: { shop: {} } } } }",
            [
                "channels.messenger.accounts.shop.pageAccessToken",
                "channels.messenger.accounts.shop.verifyToken",
            ],
            id="account-without-keys",
        ),
        pytest.param(
            '{ channels: { messenger: { pageAccessToken: "t", verifyToken: "v" } },'
            ' state: { backend: "redis" } }',
            ["state.url"],
            id="redis-without-url",
        ),
    ],
)
def test_json_names_a_missing_key_by_its_own_path(
    write_config: WriteConfig, text: str, paths: list[str]
) -> None:
    path = with_a_flow(write_config(text))
    result = run("validate", "-c", str(path), "--json")
    assert result.returncode == 1
    problems = json.loads(result.stdout)
    assert [problem["path"] for problem in problems] == paths
    assert all(problem["message"].startswith("is required") for problem in problems)


def test_json_output_of_a_valid_config_lists_its_warnings() -> None:
    result = run("validate", "-c", str(QUICKSTART), "--json")
    assert result.returncode == 0
    warnings = json.loads(result.stdout)
    assert {warning["severity"] for warning in warnings} == {"warning"}
    assert [warning["path"] for warning in warnings] == [
        "channels.messenger.pageAccessToken",
        "flows.order_lookup.steps.0.http.headers.Authorization",
    ]


@pytest.mark.parametrize(
    "messenger",
    [
        # valid, with warnings about the very keys holding secrets
        f'pageAccessToken: "{TOKEN}", verifyToken: "{VERIFY}", dmPolicy: "open"',
        # invalid types and values on every secret key
        f'pageAccessToken: "{TOKEN}", verifyToken: "{VERIFY}", appSecret: "{APP_SECRET}",'
        f' dmPolicy: "{TOKEN}", pageId: "{APP_SECRET}", allowFrom: ["{VERIFY}"]',
        f'pageAccessToken: "{TOKEN}", appSecret: "{APP_SECRET}", nme: "{VERIFY}"',
        f'tokenFile: "{TOKEN}", verifyToken: "{VERIFY}", appSecret: "{APP_SECRET}"',
    ],
)
def test_no_secret_ever_appears_in_validate_output(
    write_config: WriteConfig, messenger: str
) -> None:
    path = write_config(
        f"{{ channels: {{ messenger: {{ {messenger} }} }},"
        f' state: {{ backend: "redis", url: "ftp://:{REDIS_PASSWORD}@x" }} }}'
    )
    for args in (("validate", "-c", str(path)), ("validate", "-c", str(path), "--json")):
        result = run(*args, env={"MESSENGER_PAGE_ACCESS_TOKEN": TOKEN})
        output = result.stdout + result.stderr
        # 2: the tokenFile of the last case (named by a token) does not exist
        assert result.returncode in (0, 1, 2)
        assert output.strip()
        for secret in (TOKEN, APP_SECRET, VERIFY, REDIS_PASSWORD):
            if secret == TOKEN and "tokenFile" in messenger:
                continue  # a tokenFile path is not a secret; its content is
            assert secret not in output, (secret, output)


def test_token_file_content_never_appears(write_config: WriteConfig) -> None:
    path = write_config(
        '{ channels: { messenger: { tokenFile: "token", verifyToken: "v", dmPolicy: "wrong" } } }'
    )
    (path.parent / "token").write_text(TOKEN)
    result = run("validate", "-c", str(path))
    assert result.returncode == 1
    assert TOKEN not in result.stdout + result.stderr


def test_schema_is_a_json_schema_that_checks_configs() -> None:
    result = run("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    quickstart = json5.loads(QUICKSTART.read_text())
    assert list(validator.iter_errors(quickstart)) == []
    quickstart["channels"]["messenger"]["dmPolicy"] = "closed"
    quickstart["channels"]["messenger"]["accounts"] = {"a": {"pageAcessToken": "x"}}
    messages = sorted(error.message for error in validator.iter_errors(quickstart))
    assert any("'closed' is not one of" in message for message in messages)
    assert any("'pageAcessToken' was unexpected" in message for message in messages)


def test_the_shipped_schema_file_is_up_to_date() -> None:
    shipped = (ROOT / "schemas" / "config.schema.json").read_text()
    assert json.loads(shipped) == json.loads(run("schema").stdout), (
        "schemas/config.schema.json is stale: run `runtime schema > schemas/config.schema.json`"
    )
