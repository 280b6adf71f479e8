"""`runtime test` answers the flows' `http` calls from the test file, and makes none."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.dialog.effects import HttpCall
from runtime.http_calls import HttpCaller
from runtime.testing import HttpAnswer
from tests.fakes.business_api import FakeBusinessAPI, json_answer, refusing_url, text_answer
from tests.testing.quickstart import run_runtime

CONFIG = """{
  channels: { messenger: { pageAccessToken: "t", verifyToken: "v", dmPolicy: "open" } },
}"""
FLOWS = """{
  flows: {
    search: {
      triggers: [{ regex: "^find (?P<query>.+)$" }],
      steps: [
        { text: "Looking..." },
        { http: { url: "https://api.example.com/search?q={{ match.query }}",
                  headers: { Authorization: "Bearer ${API_TOKEN}" },
                  save_as: "found", on_error: "oops" } },
        { text: "Found {{ vars.found.body.name }}", when: "vars.found.body is mapping" },
        { text: "Found the text {{ vars.found.body }}", when: "vars.found.body is string" },
      ],
    },
    lead: {
      triggers: [{ keywords: ["lead"] }],
      steps: [
        { http: { method: "POST", url: "https://api.example.com/leads",
                  json: { psid: "{{ user.psid }}", count: "{{ 1 + 2 }}" }, save_as: "lead" } },
        { text: "ok={{ vars.lead.ok }} status={{ vars.lead.status }}" },
      ],
    },
    oops: { steps: [{ text: "Oops: {{ vars.found.error }}" }] },
  },
}"""
SEARCH = "https://api.example.com/search?q="


def api_bot(folder: Path, flows: str = FLOWS) -> Path:
    (folder / "flows").mkdir(parents=True)
    (folder / "flows" / "api.json5").write_text(flows, encoding="utf-8")
    config = folder / "config.json5"
    config.write_text(CONFIG, encoding="utf-8")
    return config


def run_tests(config: Path, tests: str) -> tuple[int, list[str], str]:
    """`runtime test -c config.json5 conversation.json5` in the bot's folder."""
    (config.parent / "conversation.json5").write_text(tests, encoding="utf-8")
    result = run_runtime("test", "-c", config.name, "conversation.json5", cwd=config.parent)
    return result.returncode, result.stdout.splitlines(), result.stderr


def test_the_listed_answers_answer_the_calls_json_and_text_alike(tmp_path: Path) -> None:
    config = api_bot(tmp_path)
    code, lines, stderr = run_tests(
        config,
        """{ tests: [{
          name: "json and text",
          http: [
            // the URL as the flow renders it: what the person typed is percent-encoded
            { url: "https://api.example.com/search?q=blue%20shoes", json: { name: "Blue shoes" } },
            { url: "https://api.example.com/search?q=socks", text: "Socks, aisle 4" },
          ],
          turns: [
            { user: "find blue shoes",
              expect: [{ text: "Looking..." }, { text: "Found Blue shoes" }],
              vars: { found: { ok: true, status: 200, body: { name: "Blue shoes" },
                               error: null } } },
            { user: "find socks",
              expect: [{ text: "Looking..." }, { text: "Found the text Socks, aisle 4" }] },
            // an answer answers every call it matches, not only the first
            { user: "find blue shoes",
              expect: [{ text: "Looking..." }, { text: "Found Blue shoes" }] },
          ],
        }] }""",
    )
    assert code == 0, "\n".join(lines) + stderr
    assert lines == ["PASS json and text", "1 passed, 0 failed"]


def test_a_status_and_no_answer_at_all_give_ok_false_as_a_real_call_does(
    tmp_path: Path,
) -> None:
    config = api_bot(tmp_path)
    code, lines, stderr = run_tests(
        config,
        """{ tests: [{ name: "errors", turns: [
          { user: "find a", http: [{ url: "https://api.example.com/search?q=a", status: 503 }],
            expect: [{ text: "Looking..." },
                     { text: "Oops: the API answered 503 Service Unavailable" }] },
          { user: "find a", http: [{ url: "https://api.example.com/search?q=a", error: "timeout" }],
            expect: [{ text: "Looking..." }, { text: "Oops: no answer within 5 s" }] },
          { user: "find a", http: [{ url: "https://api.example.com/search?q=a", error: "refused" }],
            expect: [{ text: "Looking..." },
                     { text: "Oops: could not connect (refused, or no such host)" }] },
        ] }] }""",
    )
    assert code == 0, "\n".join(lines) + stderr
    assert lines == ["PASS errors", "1 passed, 0 failed"]


def test_a_turn_s_answers_come_before_the_test_s(tmp_path: Path) -> None:
    config = api_bot(tmp_path)
    code, lines, stderr = run_tests(
        config,
        """{ tests: [{ name: "changes",
          http: [{ url: "https://api.example.com/search?q=x", json: { name: "X" } }],
          turns: [
            { user: "find x", expect: [{ text: "Looking..." }, { text: "Found X" }] },
            { user: "find x", http: [{ url: "https://api.example.com/search?q=x", status: 404 }],
              expect: [{ text: "Looking..." }, { text: "Oops: the API answered 404 Not Found" }] },
            { user: "find x", expect: [{ text: "Looking..." }, { text: "Found X" }] },
          ],
        }] }""",
    )
    assert code == 0, "\n".join(lines) + stderr


def test_a_request_with_no_answer_fails_the_test_naming_it_and_the_turn_runs_on(
    tmp_path: Path,
) -> None:
    config = api_bot(tmp_path)
    path = "conversation.json5"
    code, lines, _ = run_tests(
        config,
        """{ tests: [
          { name: "unanswered", turns: [
            { user: "find gloves", expect: [{ text: "Looking..." }, { text: "Found Gloves" }] },
            { user: "find hats", expect: [] },
          ] },
          { name: "next", turns: [{ user: "lead", http: [
            { method: "POST", url: "https://api.example.com/leads" },
          ], expect: [{ text: "ok=True status=200" }] }] },
        ] }""",
    )
    assert code == 1
    assert lines[:2] == [
        "FAIL unanswered",
        f"{path}: tests.0.turns.0: test 'unanswered', turn 1 (user: \"find gloves\"):",
    ]
    assert lines[2] == (
        f"no answer for GET {SEARCH}gloves (made by flows/api.json5: flows.search.steps.1); "
        f'list one in the test\'s `http`: {{ method: "GET", url: "{SEARCH}gloves", '
        "status: 200, json: { ... } }"
    )
    # the call got `ok: false`, so its on_error flow answered: the diff shows it too
    assert (
        '+text: "Oops: no answer for this request in the test (runtime test makes no calls)"'
        in (lines)
    )
    assert "turn 2" not in "\n".join(lines)  # a test stops at its first failing turn
    assert lines[-2:] == ["PASS next", "1 passed, 1 failed"]


def test_a_turn_can_expect_the_requests_made_and_their_bodies(tmp_path: Path) -> None:
    config = api_bot(tmp_path)
    answer = '{ method: "POST", url: "https://api.example.com/leads", status: 201 }'
    code, lines, stderr = run_tests(
        config,
        f"""{{ tests: [
          {{ name: "right", as: "42", http: [{answer}], turns: [{{ user: "lead",
            expect: [{{ text: "ok=True status=201" }}],
            requests: [{{ method: "POST", url: "https://api.example.com/leads",
                         json: {{ psid: "42", count: 3 }} }}] }}] }},
          {{ name: "wrong body", as: "42", http: [{answer}], turns: [{{ user: "lead",
            expect: [{{ text: "ok=True status=201" }}],
            requests: [{{ method: "POST", url: "https://api.example.com/leads",
                         json: {{ psid: "42", count: "3" }} }}] }}] }},
          {{ name: "none expected", http: [{answer}], turns: [
            {{ user: "lead", expect: [{{ text: "ok=True status=201" }}], requests: [] }}] }},
        ] }}""",
    )
    assert code == 1, stderr
    assert lines[0] == "PASS right"
    assert lines[1] == "FAIL wrong body"
    post = "request: POST https://api.example.com/leads"
    assert f'-{post} json {{"count": "3", "psid": "42"}}' in lines
    assert f'+{post} json {{"count": 3, "psid": "42"}}' in lines  # `{{ 1 + 2 }}` stays a number
    assert "FAIL none expected" in lines
    assert f"+{post}" in lines
    assert lines[-1] == "1 passed, 2 failed"


def test_mistaken_answers_exit_2_naming_each(tmp_path: Path) -> None:
    config = api_bot(tmp_path)
    path = "conversation.json5"
    code, lines, stderr = run_tests(
        config,
        """{ tests: [{ name: "bad", http: [
            { url: "https://api.example.com/a", json: {}, text: "a" },
            { url: "https://api.example.com/b", error: "timeout", status: 504 },
            { url: "https://api.example.com/c" },
            { method: "GET", url: "https://api.example.com/c", status: 500 },
            { url: "api.example.com/d", error: "slow" },
          ], turns: [{ user: "hi", expect: [] }] }] }""",
    )
    assert code == 2
    assert lines == []
    assert stderr.splitlines() == [
        f"{path}: tests.0.http.0: an answer's body is `json` or `text`, not both",
        f"{path}: tests.0.http.1.error: a call with `error` gets no answer at all; drop status"
        " (or drop `error` to answer with it)",
        f"{path}: tests.0.http.3: a second answer to GET https://api.example.com/c (the first"
        " is tests.0.http.2); an answer answers every such call, so keep one (or list one on"
        " each turn, where they differ)",
        f"{path}: tests.0.http.4.error: unknown value 'slow'; expected one of timeout, refused",
        f"{path}: tests.0.http.4.url: invalid value 'api.example.com/d': the whole URL, from"
        " http:// or https://",
    ]


def test_runtime_test_calls_no_api_even_one_that_would_answer(tmp_path: Path) -> None:
    api = FakeBusinessAPI().start()
    try:
        api.on("GET", "/search", json_answer(200, {"name": "Real"}))
        config = api_bot(tmp_path, FLOWS.replace("https://api.example.com", api.base_url))
        code, lines, _ = run_tests(
            config,
            f"""{{ tests: [{{ name: "offline", turns: [
              {{ user: "find x", expect: [{{ text: "Looking..." }}, {{ text: "Found Canned" }}],
                http: [{{ url: "{api.base_url}/search?q=x", json: {{ name: "Canned" }} }}] }},
              {{ user: "find y", expect: [{{ text: "Looking..." }}, {{ text: "Found Real" }}] }},
            ] }}] }}""",
        )
        assert code == 1
        assert f"no answer for GET {api.base_url}/search?q=y" in lines[2]
        assert api.received() == []
    finally:
        api.stop()


def test_a_secret_in_the_url_is_matched_as_written_never_filled_in(tmp_path: Path) -> None:
    flows = FLOWS.replace(
        "/search?q={{ match.query }}", "/search?key=${API_KEY}&q={{ match.query }}"
    )
    config = api_bot(tmp_path, flows)
    path = config.parent / "conversation.json5"
    path.write_text(
        """{ tests: [{ name: "secret", turns: [{ user: "find x",
          http: [{ url: "https://api.example.com/search?key=${API_KEY}&q=x", json: { name: "X" } }],
          expect: [{ text: "Looking..." }, { text: "Found X" }] }] }] }""",
        encoding="utf-8",
    )
    result = run_runtime("test", "-c", str(config), str(path), env={"API_KEY": "k-123"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "k-123" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("answer", "real"),
    [
        (HttpAnswer(url="/orders/A1", json={"status": "shipped"}), "json"),
        (HttpAnswer(url="/orders/A1", status=404, json={"error": "gone"}), "json"),
        (HttpAnswer(url="/orders/A1", status=503, text="down"), "text"),
        (HttpAnswer(url="/orders/A1", error="timeout"), "never"),
        (HttpAnswer(url="/orders/A1", error="refused"), "refused"),
    ],
)
async def test_an_offline_answer_gives_the_flow_what_the_real_call_would(
    answer: HttpAnswer, real: str
) -> None:
    """What a flow sees in `vars.<save_as>` is the same offline as from the real API."""
    api = FakeBusinessAPI().start()
    try:
        base = refusing_url() if real == "refused" else api.base_url
        if real == "json":
            api.on("GET", "/orders/A1", json_answer(answer.status, answer.json))
        elif real == "text":
            api.on("GET", "/orders/A1", text_answer(answer.status, answer.text or ""))
        elif real == "never":
            api.on("GET", "/orders/A1", api.never())
        call = HttpCall(
            method="GET",
            url=f"{base}/orders/A1",
            timeout=0.2,
            idempotency_key="k",
            where="flows/orders.json5: flows.order.steps.0",
        )
        async with HttpCaller(environ={}) as caller:
            made = await caller.call(call)
        assert answer.result(call).as_value() == made.as_value()
    finally:
        api.stop()
