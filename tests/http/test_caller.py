"""HttpCaller against a real local API: every answer, good or bad, is an HttpResult.

A bad answer (500, an HTML page, 50 MB, nothing at all, a redirect loop, a refused
connection) is `ok: false` with an `error` that says what happened, never an exception,
never a secret; and the caller works as before for the next call.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from runtime.dialog.effects import HttpResult
from runtime.http_calls import HttpCaller, describe_call
from tests.fakes.business_api import (
    Answer,
    FakeBusinessAPI,
    held,
    html_page,
    huge,
    json_answer,
    redirect,
    refusing_url,
    text_answer,
    trickle,
)
from tests.http.conftest import SECRET, request

AUTH = (("Authorization", "Bearer ${ORDERS_TOKEN}"),)


async def still_works(caller: HttpCaller, api: FakeBusinessAPI) -> None:
    """The next call after a bad one is answered as usual."""
    api.on("GET", "/healthy", json_answer(200, {"fine": True}))
    result = await caller.call(request(f"{api.base_url}/healthy"))
    assert (result.ok, result.body) == (True, {"fine": True})


def no_secret(result: HttpResult, url: str) -> None:
    assert SECRET not in (result.error or "")
    assert SECRET not in describe_call(request(url, headers=AUTH), result)


async def test_a_json_answer_is_ok_with_its_body_and_the_request_as_the_flow_wrote_it(
    caller: HttpCaller, api: FakeBusinessAPI
) -> None:
    api.on("POST", "/orders/A1", json_answer(200, {"status": "shipped", "items": [1, 2]}))
    call = request(
        f"{api.base_url}/orders/A1",
        method="POST",
        headers=(*AUTH, ("X-Shop", "acme")),
        json={"psid": "2000000000000001", "count": 2},
    )
    result = await caller.call(call)
    assert result == HttpResult(
        ok=True, status=200, body={"status": "shipped", "items": [1, 2]}, seconds=result.seconds
    )
    [got] = api.received()
    assert (got.method, got.path) == ("POST", "/orders/A1")
    assert got.headers["authorization"] == f"Bearer {SECRET}"
    assert got.headers["x-shop"] == "acme"
    assert got.headers["idempotency-key"] == call.idempotency_key
    assert got.headers["accept"] == "application/json"
    assert got.headers["content-type"] == "application/json"
    assert got.json == {"psid": "2000000000000001", "count": 2}
    line = describe_call(call, result)
    assert line.startswith(f"POST {api.base_url}/orders/A1 -> 200 in ")
    assert "${ORDERS_TOKEN}" not in line
    assert SECRET not in line


async def test_a_text_answer_is_ok_with_the_text(caller: HttpCaller, api: FakeBusinessAPI) -> None:
    api.on("GET", "/motd", text_answer(200, "Open until 6 pm"))
    api.on("GET", "/xml", text_answer(200, "<order>A1</order>", "application/xml"))
    result = await caller.call(request(f"{api.base_url}/motd"))
    assert (result.ok, result.status, result.body) == (True, 200, "Open until 6 pm")
    result = await caller.call(request(f"{api.base_url}/xml"))
    assert (result.ok, result.body) == (True, "<order>A1</order>")


async def test_an_accept_header_of_the_flow_is_kept(
    caller: HttpCaller, api: FakeBusinessAPI
) -> None:
    await caller.call(request(f"{api.base_url}/x", headers=(("accept", "text/csv"),)))
    assert api.received()[0].headers["accept"] == "text/csv"


@pytest.mark.parametrize(
    ("answer", "status", "error"),
    [
        (json_answer(500, {"error": "db down"}), 500, "the API answered 500 Internal Server Error"),
        (json_answer(404, {"error": "no order"}), 404, "the API answered 404 Not Found"),
        (html_page(200), 200, "the API answered an HTML page, not data (a login or error page?)"),
        (html_page(503), 503, "the API answered 503 Service Unavailable"),
        (text_answer(200, "{oops", "application/json"), 200, "the answer says it is JSON but"),
        (text_answer(200, "[" * 200_000, "application/json"), 200, "the answer says it is JSON"),
    ],
    ids=["500", "404", "html", "html-503", "bad-json", "json-nested-too-deep"],
)
async def test_a_bad_answer_is_not_ok_and_says_why(
    caller: HttpCaller, api: FakeBusinessAPI, answer: Answer, status: int, error: str
) -> None:
    api.on("GET", "/orders/A1", answer)
    result = await caller.call(request(f"{api.base_url}/orders/A1", headers=AUTH))
    assert (result.ok, result.status) == (False, status)
    assert result.error is not None
    assert result.error.startswith(error)
    no_secret(result, f"{api.base_url}/orders/A1")
    await still_works(caller, api)


async def test_a_500_keeps_its_body_for_the_flow(caller: HttpCaller, api: FakeBusinessAPI) -> None:
    api.on("GET", "/orders/A1", json_answer(500, {"error": "db down"}))
    result = await caller.call(request(f"{api.base_url}/orders/A1"))
    assert result.as_value() == {
        "ok": False,
        "status": 500,
        "body": {"error": "db down"},
        "error": "the API answered 500 Internal Server Error",
    }


@pytest.mark.parametrize("declared", ["exact", "none", "lie"])
async def test_a_50_mb_answer_is_not_read(
    caller: HttpCaller, api: FakeBusinessAPI, declared: str
) -> None:
    """Content-Length stating 50 MB, no Content-Length at all (chunked), or one that claims
    512 KiB while 50 MB follow: at most 1 MiB is read, and the call is not ok."""
    api.on("GET", "/export", huge(declared=declared))
    result = await caller.call(request(f"{api.base_url}/export", headers=AUTH))
    assert (result.ok, result.status) == (False, 200)
    if declared == "lie":  # 512 KiB of the 50 MB, cut mid-string: not JSON
        assert result.error == "the answer says it is JSON but does not parse"
    else:
        assert result.error == "the answer is larger than 1 MiB; not read"
        assert result.body is None
    no_secret(result, f"{api.base_url}/export")
    await still_works(caller, api)


async def test_an_answer_cut_short_says_so(caller: HttpCaller, api: FakeBusinessAPI) -> None:
    api.on("GET", "/orders", huge(100_000, declared="cut"))
    result = await caller.call(request(f"{api.base_url}/orders"))
    assert (result.ok, result.error) == (False, "the API broke off or garbled its answer")
    await still_works(caller, api)


async def test_a_redirect_to_another_scheme_is_not_followed(
    caller: HttpCaller, api: FakeBusinessAPI
) -> None:
    api.on("GET", "/files/A1", redirect("ftp://127.0.0.1/A1"))
    result = await caller.call(request(f"{api.base_url}/files/A1"))
    assert (result.ok, result.error) == (False, "the URL (or a redirect's) is not a valid http URL")
    await still_works(caller, api)


async def test_an_answer_that_never_comes_is_a_timeout(
    caller: HttpCaller, api: FakeBusinessAPI
) -> None:
    api.on("GET", "/orders/A1", api.never())
    result = await caller.call(request(f"{api.base_url}/orders/A1", headers=AUTH, timeout=0.3))
    assert result == HttpResult(ok=False, error="no answer within 0.3 s", seconds=result.seconds)
    no_secret(result, f"{api.base_url}/orders/A1")
    await still_works(caller, api)


async def test_the_timeout_is_for_the_whole_answer_however_it_trickles(
    caller: HttpCaller, api: FakeBusinessAPI
) -> None:
    """A byte every 0.1 s never leaves a read waiting 0.5 s, yet the whole answer takes 10 s:
    the step's timeout is a deadline for the call, not for each read."""
    api.on("GET", "/slow", trickle(100, 0.1))
    result = await caller.call(request(f"{api.base_url}/slow", timeout=0.5))
    assert (result.ok, result.error) == (False, "no answer within 0.5 s")
    await still_works(caller, api)


async def test_a_refused_connection_says_so(caller: HttpCaller, api: FakeBusinessAPI) -> None:
    url = f"{refusing_url()}/orders/A1"
    result = await caller.call(request(url, headers=AUTH))
    assert result == HttpResult(
        ok=False, error="could not connect (refused, or no such host)", seconds=result.seconds
    )
    no_secret(result, url)
    await still_works(caller, api)


async def test_five_redirects_are_followed_and_a_sixth_is_not(
    caller: HttpCaller, api: FakeBusinessAPI
) -> None:
    for number in range(1, 7):
        api.on("GET", f"/hop{number}", redirect(f"/hop{number + 1}"))
    api.on("GET", "/hop7", json_answer(200, {"arrived": True}))
    result = await caller.call(request(f"{api.base_url}/hop2"))  # hop2 -> ... -> hop7: 5
    assert (result.ok, result.body) == (True, {"arrived": True})
    result = await caller.call(request(f"{api.base_url}/hop1"))  # six
    assert (result.ok, result.error) == (False, "more than 5 redirects (a loop?)")
    assert [r.path for r in api.received()][-6:] == [f"/hop{n}" for n in range(1, 7)]


async def test_a_redirect_loop_ends(caller: HttpCaller, api: FakeBusinessAPI) -> None:
    api.redirect_loop("/loop")
    result = await caller.call(request(f"{api.base_url}/loop", headers=AUTH))
    assert (result.ok, result.error) == (False, "more than 5 redirects (a loop?)")
    assert len(api.received("/loop")) == 6
    no_secret(result, f"{api.base_url}/loop")
    await still_works(caller, api)


async def test_a_redirect_to_another_host_leaves_the_secret_headers_behind(
    caller: HttpCaller, api: FakeBusinessAPI
) -> None:
    elsewhere = FakeBusinessAPI().start()
    try:
        elsewhere.on("GET", "/cdn/A1", json_answer(200, {"status": "shipped"}))
        api.on("GET", "/orders/A1", redirect(f"{elsewhere.base_url}/cdn/A1"))
        api.on("GET", "/moved/A1", redirect("/orders/A1"))
        headers = (("X-Api-Key", "${ORDERS_TOKEN}"), ("X-Shop", "acme"), *AUTH)
        result = await caller.call(request(f"{api.base_url}/moved/A1", headers=headers))
    finally:
        elsewhere.stop()
    assert (result.ok, result.body) == (True, {"status": "shipped"})
    # the same host keeps every header, the other one gets none that names a secret
    assert [r.headers.get("x-api-key") for r in api.received()] == [SECRET, SECRET]
    [there] = elsewhere.received()
    assert "x-api-key" not in there.headers
    assert "authorization" not in there.headers
    assert there.headers["x-shop"] == "acme"
    assert there.headers["idempotency-key"] == api.received()[0].headers["idempotency-key"]


async def test_a_body_naming_a_secret_is_not_redirected_to_another_host(
    caller: HttpCaller, api: FakeBusinessAPI
) -> None:
    """A 307 keeps the method and the body: to another host, it is not followed."""
    elsewhere = FakeBusinessAPI().start()
    try:
        api.on("POST", "/leads", redirect(f"{elsewhere.base_url}/leads", status=307))
        api.on("POST", "/v1/leads", redirect("/leads", status=308))
        body = {"token": "${ORDERS_TOKEN}", "name": "Ana"}
        result = await caller.call(request(f"{api.base_url}/v1/leads", method="POST", json=body))
    finally:
        elsewhere.stop()
    assert result.as_value() == {
        "ok": False,
        "status": 307,
        "body": None,
        "error": "the API redirected a body holding a secret to another host; not followed",
    }
    # the same host got it twice (the 308 is followed, body and all); the other one never
    assert [r.json for r in api.received()] == [{"token": SECRET, "name": "Ana"}] * 2
    assert elsewhere.received() == []


async def test_no_cookie_is_kept_from_one_call_for_the_next(
    caller: HttpCaller, api: FakeBusinessAPI
) -> None:
    """One person's session at the API must not ride along with the next person's call."""
    login = Answer(200, b"{}", "application/json", (("Set-Cookie", "session=alice; Path=/"),))
    api.on("GET", "/login", login)
    await caller.call(request(f"{api.base_url}/login"))
    await caller.call(request(f"{api.base_url}/orders/B2"))
    assert ["cookie" in r.headers for r in api.received()] == [False, False]


async def test_secrets_are_filled_in_the_url_the_headers_and_the_body(
    caller: HttpCaller, api: FakeBusinessAPI
) -> None:
    call = request(
        f"{api.base_url}/orders/A1?key=${{ORDERS_TOKEN}}",
        method="PUT",
        headers=(("X-Key", "${ORDERS_TOKEN}"), ("X-Literal", "$${NOT_A_SECRET}")),
        json={"auth": {"token": "${ORDERS_TOKEN}"}, "list": ["${ORDERS_TOKEN}", 1]},
    )
    result = await caller.call(call)
    [got] = api.received()
    assert got.query == f"key={SECRET}"
    assert got.headers["x-key"] == SECRET
    assert got.headers["x-literal"] == "${NOT_A_SECRET}"  # `$${` is a literal `${`
    assert got.json == {"auth": {"token": SECRET}, "list": [SECRET, 1]}
    # the line for the log and the chat shows the reference, never the value
    assert "key=${ORDERS_TOKEN}" in describe_call(call, result)
    assert SECRET not in describe_call(call, result)


async def test_an_unset_variable_fails_the_call_naming_it_and_nothing_is_sent(
    api: FakeBusinessAPI,
) -> None:
    async with HttpCaller(environ={"ORDERS_TOKEN": SECRET}) as caller:
        one = await caller.call(request(f"{api.base_url}/x", headers=(("X-A", "${API_KEY}"),)))
        two = await caller.call(
            request(f"{api.base_url}/${{SHOP}}/x", method="POST", json={"k": "${API_KEY}"})
        )
    assert (one.ok, one.error) == (False, "environment variable API_KEY is not set")
    assert (two.ok, two.error) == (False, "environment variables API_KEY, SHOP are not set")
    assert api.received() == []


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("a\r\nX-Admin: 1", "the X-Note header holds a line break or a control character"),
        ("a\nb", "the X-Note header holds a line break or a control character"),
        ("a\x00b", "the X-Note header holds a line break or a control character"),
    ],
)
async def test_a_header_value_with_a_line_break_is_not_sent(
    caller: HttpCaller, api: FakeBusinessAPI, value: str, error: str
) -> None:
    result = await caller.call(request(f"{api.base_url}/x", headers=(("X-Note", value),)))
    assert (result.ok, result.error) == (False, f"{error}; not called")
    assert api.received() == []
    await still_works(caller, api)


async def test_a_header_value_beyond_ascii_is_sent_as_utf8(
    caller: HttpCaller, api: FakeBusinessAPI
) -> None:
    result = await caller.call(request(f"{api.base_url}/x", headers=(("X-Name", "José ☕"),)))
    assert result.status == 404  # answered: the fake has no such route
    [got] = api.received()
    assert got.headers["x-name"].encode("latin-1").decode("utf-8") == "José ☕"


@pytest.mark.parametrize("path", ["/orders/..", "/orders/./x", "/orders/%2e%2E/admin", "/a/%2E"])
async def test_a_dot_segment_in_the_path_is_not_called(
    caller: HttpCaller, api: FakeBusinessAPI, path: str
) -> None:
    """A client (httpx too) or a server resolves `..` and climbs the path: refused."""
    result = await caller.call(request(f"{api.base_url}{path}"))
    assert result.ok is False
    assert result.error == (
        "the URL's path has a '.' or '..' segment (from a value put in it?); not called"
    )
    assert api.received() == []


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "${ORDERS_TOKEN}/x", "https:///x"])
async def test_a_url_that_is_not_http_after_filling_in_is_not_called(
    caller: HttpCaller, url: str
) -> None:
    result = await caller.call(request(url))
    assert (result.ok, result.error) == (
        False,
        "the URL is not an http:// or https:// URL; not called",
    )
    assert SECRET not in (result.error or "")


async def test_calls_wait_for_a_free_connection_within_their_timeout(
    api: FakeBusinessAPI,
) -> None:
    """Two connections at most, both held by a slow API: a third call waits for one, and
    its timeout counts the wait; once they are free, calls go again."""
    gate = threading.Event()
    api.on("GET", "/slow", held(gate, json_answer(200, {"slow": True})))
    api.on("GET", "/fast", json_answer(200, {"fast": True}))
    async with HttpCaller(max_connections=2) as caller:
        slow = [asyncio.create_task(caller.call(request(f"{api.base_url}/slow"))) for _ in "ab"]
        await api.wait_for(2, path="/slow")
        waited = await caller.call(request(f"{api.base_url}/fast", timeout=0.3))
        assert (waited.ok, waited.error) == (
            False,
            "no connection free within 0.3 s: all 2 wait on answers; not called",
        )
        assert api.received("/fast") == []  # it never got a connection
        gate.set()
        results = await asyncio.gather(*slow)
        fast = await caller.call(request(f"{api.base_url}/fast"))
    assert [result.body for result in results] == [{"slow": True}, {"slow": True}]
    assert (fast.ok, fast.body) == (True, {"fast": True})
