"""`runtime validate` on the `http` step: every key checked, at its key path, with the fix;
and the `${VAR}` secrets it names, a warning when unset (at validate and at `runtime serve`'s
start), never a value."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from runtime.cli import main
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.processes import serve_command
from tests.fakes.webhooks import PSID, encode, signed_headers, text
from tests.messenger.conftest import APP_SECRET, single_page, write_bot
from tests.validation.conftest import BotFolder

FILE = "flows/main.json5"
STEP = f"{FILE}: flows.main.steps.0.http"
SECRET_VALUE = "s3cr3t-value-never-shown"
_POSITION = re.compile(r"^(?P<file>[^:\s]+):\d+:\d+: ")


def validate(
    bot: BotFolder, capsys: pytest.CaptureFixture[str], *options: str
) -> tuple[int, list[str]]:
    """Exit code of `runtime validate` and its lines about flow files, without line:col."""
    code = main(["validate", "-c", "config.json5", *options])
    captured = capsys.readouterr()
    lines = [_POSITION.sub(r"\g<file>: ", line) for line in captured.err.splitlines()]
    return code, [line for line in lines if line.startswith("flows/")]


def http(spec: str, *, also: str = "") -> str:
    """A flow whose first step is `{ http: { <spec> } }`, and an `order_unavailable` flow."""
    return (
        f'{{ flows: {{ main: {{ triggers: [{{ payload: "GO" }}], steps: [{{ http: {{ {spec} }} }}'
        f'{also}] }}, order_unavailable: {{ triggers: [{{ payload: "SORRY" }}],'
        ' steps: [{ text: "Sorry" }] } } }'
    )


URL = 'url: "https://api.example.com/orders/{{ match.number }}"'

ERRORS = {
    "an ftp URL": (
        'url: "ftp://files.example.com/orders.csv"',
        f"{STEP}.url: is a ftp: URL; an http step calls http:// or https:// URLs only",
    ),
    "a host from a template": (
        'url: "https://{{ vars.host }}/orders"',
        f"{STEP}.url: the host comes from a template; write it out, such as"
        ' "https://api.example.com/orders/{{ match.number }}", so that what a person types'
        " can never change where the request goes",
    ),
    "a scheme and host from a template": (
        'url: "{{ vars.api }}/orders/{{ match.number }}"',
        f"{STEP}.url: the scheme and host come from a template; write them out, such as"
        ' "https://api.example.com/orders/{{ match.number }}" (or take them from the'
        ' environment: "${API_BASE}/orders/..."), so that what a person types can never'
        " change where the request goes",
    ),
    "a host glued to a template": (
        'url: "https://api.example.com{{ match.number }}"',
        f"{STEP}.url: a template follows the host 'api.example.com' with no '/' between"
        " them, so what it prints would become part of the host; write"
        ' "https://api.example.com/{{ match.number }}"',
    ),
    "a port from a template": (
        'url: "https://api.example.com:{{ vars.port }}/orders"',
        f"{STEP}.url: the port comes from a template; write it out, such as"
        ' "https://api.example.com:8080/{{ match.number }}"',
    ),
    "an environment base glued to a template": (
        'url: "${API_BASE}{{ match.number }}"',
        f"{STEP}.url: a template follows ${{API_BASE}} with no '/' between them, so what it"
        ' prints would become part of the host; write "${API_BASE}/orders/{{ match.number }}"',
    ),
    "no scheme": (
        'url: "api.example.com/orders"',
        f"{STEP}.url: is not an absolute URL: start it with https:// (or http://) and the"
        ' host, such as "https://api.example.com/orders/{{ match.number }}"',
    ),
    "one slash after the scheme": (
        'url: "https:/api.example.com/orders"',
        f'{STEP}.url: is not an absolute URL: write "//" after "https:", then the host',
    ),
    "no host": (
        'url: "https:///orders"',
        f"{STEP}.url: has no host after https://; write one, such as"
        ' "https://api.example.com/orders/{{ match.number }}"',
    ),
    "a space in the host": (
        'url: "https://api.example .com/orders"',
        f"{STEP}.url: the host 'api.example .com' has ' ' in it, which no host name has;"
        " the host ends at the first '/', '?' or '#'",
    ),
    "a port out of range": (
        'url: "http://127.0.0.1:80800/orders"',
        f"{STEP}.url: the port '80800' is not a port number: 1 to 65535, such as http://host:8080/",
    ),
    "a URL that does not parse": (
        'url: "https://api.example.com/orders/{{ match.number }"',
        f"{STEP}.url: Jinja syntax error on line 1 of the template: unexpected '}}'",
    ),
    "a timeout over 20 s": (
        f"{URL}, timeout: 30",
        f"{STEP}.timeout: must be at most 20, got 30: between 0.1 and 20 seconds",
    ),
    "a timeout of 0": (
        f"{URL}, timeout: 0",
        f"{STEP}.timeout: must be at least 0.1, got 0: between 0.1 and 20 seconds",
    ),
    "on_error naming no flow": (
        f'{URL}, on_error: "order_unavailabel"',
        f"{STEP}.on_error: no flow is named 'order_unavailabel'; did you mean 'order_unavailable'?",
    ),
    "a header name with a space": (
        f'{URL}, headers: {{ "Api Key": "${{ORDERS_KEY}}" }}',
        f"{STEP}.headers.Api Key: 'Api Key' is not an HTTP header name: use letters, digits"
        " and '-' (such as X-Api-Key), with no space or ':'",
    ),
    "Idempotency-Key, which the runtime sets": (
        f'{URL}, headers: {{ "Idempotency-Key": "{{{{ message.mid }}}}" }}',
        f"{STEP}.headers.Idempotency-Key: the runtime sets Idempotency-Key itself (one key"
        " per event and step, so the API knows a turn replayed after a crash); leave it out",
    ),
    "Host, which comes from the URL": (
        f'{URL}, headers: {{ host: "api.example.com" }}',
        f"{STEP}.headers.host: the runtime sets host itself (from the URL); leave it out",
    ),
    "a header value on two lines": (
        f'{URL}, headers: {{ "X-Note": "one\\ntwo" }}',
        f"{STEP}.headers.X-Note: a header value is one line: take the line break out",
    ),
    "a header value with a control character": (
        f'{URL}, headers: {{ "X-Note": "bell\\u0007" }}',
        f"{STEP}.headers.X-Note: a header value is text: take the control character out",
    ),
    "a header template that does not parse": (
        f'{URL}, headers: {{ "X-Customer": "{{{{ vars.email }}" }}',
        f"{STEP}.headers.X-Customer: Jinja syntax error on line 1 of the template: unexpected '}}'",
    ),
    "a body template that does not parse": (
        f'{URL}, method: "POST", json: {{ customer: {{ note: "Hi {{{{ vars.name }}" }} }}',
        f"{STEP}.json.customer.note: Jinja syntax error on line 1 of the template: unexpected '}}'",
    ),
    "a body value that is one expression that does not parse": (
        f'{URL}, method: "POST", json: {{ items: [1, "{{{{ vars.count + }}}}"] }}',
        f"{STEP}.json.items.1: expression does not parse: unexpected 'end of template'",
    ),
    "a GET with a body": (
        f'{URL}, json: {{ email: "{{{{ vars.email }}}}" }}',
        f'{STEP}.json: a GET request carries no body; use method: "POST" (or PUT, PATCH),'
        " or put the values in the URL's query (they are percent-encoded)",
    ),
    "save_as that is not a variable name": (
        f'{URL}, save_as: "1st-order"',
        f"{STEP}.save_as: invalid value '1st-order': a variable name: letters, digits and"
        " '_', not starting with a digit",
    ),
    "an unknown key": (
        f"{URL}, time_out: 5",
        f"{STEP}.time_out: unknown key; did you mean `timeout`?",
    ),
    "an unknown method": (
        f'{URL}, method: "FETCH"',
        f"{STEP}.method: unknown value 'FETCH'; expected one of GET, POST, PUT, PATCH, DELETE",
    ),
}


@pytest.mark.parametrize("name", ERRORS)
def test_each_mistake_is_one_line_at_its_key_path_with_the_fix(
    bot: BotFolder, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    spec, expected = ERRORS[name]
    bot.flow(http(spec))
    code, lines = validate(bot, capsys)
    assert code == 1
    assert lines == [expected]


def test_every_broken_step_of_every_flow_is_reported_at_once(
    bot: BotFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.flow(
        "{ flows: {"
        ' a: { triggers: [{ payload: "A" }], steps: [{ http: { url: "ftp://x.example/" } },'
        '  { http: { url: "https://{{ vars.host }}/" } }] },'
        ' b: { triggers: [{ payload: "B" }], steps: [{ http: { url: "https://x.example/",'
        '  headers: { Host: "y.example" }, on_error: "nowhere" } }] },'
        "} }"
    )
    code, lines = validate(bot, capsys)
    assert code == 1
    assert [line.split(": ", 2)[1] for line in lines] == [
        "flows.a.steps.0.http.url",
        "flows.a.steps.1.http.url",
        "flows.b.steps.0.http.headers.Host",
        "flows.b.steps.0.http.on_error",
    ]


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com/orders/{{ match.number }}",
        "http://127.0.0.1:8080/orders?email={{ vars.email }}&page={{ vars.page }}",
        "http://localhost/orders#{{ vars.anchor }}",
        "https://[::1]:8443/orders/{{ match.number }}",
        "${API_BASE}/orders/{{ match.number }}",
        "https://${API_HOST}/orders/{{ match.number }}",
        "https://shop:${API_PASSWORD}@api.example.com/orders/{{ match.number }}",
        "HTTPS://API.EXAMPLE.COM/orders",
    ],
)
def test_urls_whose_host_is_written_out_are_valid(
    bot: BotFolder,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    url: str,
) -> None:
    for name in ("API_BASE", "API_HOST", "API_PASSWORD"):
        monkeypatch.setenv(name, "https://api.example.com")
    bot.flow(http(f'method: "POST", url: "{url}", json: {{ n: "{{{{ vars.n }}}}" }}'))
    code, lines = validate(bot, capsys)
    assert (code, lines) == (0, [])


# -- `${VAR}` secrets ---------------------------------------------------------------------
def unset_warning(name: str, at: str, also: str = "") -> str:
    return (
        f"{FILE}: {at}: warning: environment variable {name} is not set, so this call fails"
        " (ok: false, or its on_error flow) until it is; set it where `runtime serve` runs"
        + (f" (also named in {also})" if also else "")
    )


def test_an_unset_variable_is_one_warning_where_it_is_first_named_and_validate_passes(
    bot: BotFolder, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORDERS_TOKEN", raising=False)
    monkeypatch.delenv("ORDERS_API", raising=False)
    bot.flow(
        http(
            'url: "${ORDERS_API}/orders/{{ match.number }}", method: "POST",'
            ' headers: { Authorization: "Bearer ${ORDERS_TOKEN}" },'
            ' json: { auth: { token: "${ORDERS_TOKEN}" }, literal: "$${NOT_A_VARIABLE}" }',
            also=', { http: { url: "https://api.example.com/",'
            ' headers: { Authorization: "Bearer ${ORDERS_TOKEN}" } } }',
        )
    )
    code, lines = validate(bot, capsys)
    assert code == 0  # CI often validates without the production secrets
    assert lines == [
        unset_warning("ORDERS_API", "flows.main.steps.0.http.url"),
        unset_warning(
            "ORDERS_TOKEN",
            "flows.main.steps.0.http.headers.Authorization",
            also="flows.main.steps.0.http.json.auth.token,"
            " flows.main.steps.1.http.headers.Authorization",
        ),
    ]


def test_offline_validate_warns_the_same(
    bot: BotFolder, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORDERS_TOKEN", raising=False)
    bot.flow(http(f'{URL}, headers: {{ Authorization: "Bearer ${{ORDERS_TOKEN}}" }}'))
    code, lines = validate(bot, capsys, "--offline")
    assert code == 0
    assert lines == [unset_warning("ORDERS_TOKEN", "flows.main.steps.0.http.headers.Authorization")]


def test_a_set_variable_gives_no_warning_and_its_value_is_never_shown(
    bot: BotFolder, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERS_TOKEN", SECRET_VALUE)
    monkeypatch.setenv("ORDERS_API", "ftp://" + SECRET_VALUE)  # set, but not an http(s) URL
    bot.flow(
        http(
            'url: "${ORDERS_API}/orders/{{ match.number }}",'
            ' headers: { Authorization: "Bearer ${ORDERS_TOKEN}" }'
        )
    )
    code = main(["validate", "--json", "-c", "config.json5"])
    captured = capsys.readouterr()
    assert code == 0
    assert SECRET_VALUE not in captured.out + captured.err
    flows = [problem for problem in json.loads(captured.out) if problem["file"] == FILE]
    assert [(p["path"], p["severity"], p["message"]) for p in flows] == [
        (
            "flows.main.steps.0.http.url",
            "warning",
            "environment variable ORDERS_API starts this URL but does not hold an http:// or"
            " https:// URL (its value is not shown), so the call fails (ok: false); set it to"
            ' one such as "https://api.example.com"',
        )
    ]


def test_a_credential_written_in_the_flow_file_is_a_warning(
    bot: BotFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.flow(
        http(
            f'{URL}, headers: {{ Authorization: "Bearer abc123", "X-Api-Key": "abc123",'
            ' Accept: "application/json", "X-Auth-Token": "{{ vars.session }}" }'
        )
    )
    code, lines = validate(bot, capsys)
    assert code == 0
    fix = "(filled in as the request leaves, never logged)"
    assert lines == [
        f"{STEP}.headers.Authorization: warning: Authorization is written in the flow file, so"
        " whoever reads the file has it; take it from the environment instead, such as"
        f' "Bearer ${{ORDERS_TOKEN}}" {fix}',
        f"{STEP}.headers.X-Api-Key: warning: X-Api-Key is written in the flow file, so whoever"
        f' reads the file has it; take it from the environment instead, such as "${{X_API_KEY}}"'
        f" {fix}",
        f"{STEP}.headers.X-Auth-Token: warning: X-Auth-Token is written in the flow file, so"
        " whoever reads the file has it; take it from the environment instead, such as"
        f' "${{X_AUTH_TOKEN}}" {fix}',
    ]


FLOWS = (
    '{ flows: { order: { triggers: [{ keywords: ["order"] }], steps: ['
    '{ http: { url: "http://127.0.0.1:9/orders/{{ user.psid }}",'
    ' headers: { Authorization: "Bearer ${H15_ORDERS_TOKEN}", "X-Shop": "${H15_SHOP_ID}" },'
    ' on_error: "order_unavailable" } },'
    ' { text: "Found it" }] },'
    ' order_unavailable: { steps: [{ text: "Our order system is not answering" }] } } }'
)


def test_serve_logs_one_line_per_unset_variable_at_start_and_the_call_fails_to_on_error(
    tmp_path: Path, graph: FakeGraphAPI, start
) -> None:
    config = write_bot(tmp_path, single_page(), flows=FLOWS)
    # H15_ORDERS_TOKEN is not set
    server = start(*serve_command(config, "--workers", "2"), env={"H15_SHOP_ID": SECRET_VALUE})
    server.wait_ready()
    raw = encode(text("order"))
    answer = httpx.post(
        server.url + "/webhook/messenger", content=raw, headers=signed_headers(raw, APP_SECRET)
    )
    assert answer.status_code == 200
    [reply] = graph.wait_sync(1, within=20)
    assert (reply.psid, reply.text) == (PSID, "Our order system is not answering")
    assert server.stop() == 0
    log = server.log.read_text()
    warning = (
        "flows/main.json5:1:137: flows.order.steps.0.http.headers.Authorization: warning:"
        " environment variable H15_ORDERS_TOKEN is not set, so this call fails (ok: false, or"
        " its on_error flow) until it is; set it where `runtime serve` runs"
    )
    # one line, from the process that starts the workers, not one per worker
    assert log.count("warning: environment variable") == 1, log
    assert warning in log
    [call] = [line for line in log.splitlines() if "http account=default" in line]
    assert "http://127.0.0.1:9/orders/" in call
    assert "environment variable H15_ORDERS_TOKEN is not set" in call
    assert SECRET_VALUE not in log
