"""What a person types is data in the request, never its structure, nor a secret.

A real bot built from a flow file renders the request (`run_turn`), and HttpCaller sends it
to a real local API. Whatever the person typed, the request goes to the host the flow
names, with the path's segments and the query's parameters the flow wrote; a `${...}` the
person typed arrives as those characters, never filled in.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, unquote

import pytest

from runtime.bot import Bot
from runtime.build import build_bot
from runtime.dialog.engine import continue_turn, run_turn
from runtime.dialog.messages import TextMessage
from runtime.http_calls import HttpCaller, describe_call
from tests.dialog.events import text
from tests.fakes.business_api import FakeBusinessAPI, json_answer
from tests.http.conftest import SECRET

CONFIG = (
    '{ channels: { messenger: { pageAccessToken: "t", verifyToken: "v", appSecret: "s",'
    ' pageId: "111" } }, flows: "flows/" }'
)
FLOWS = """{ flows: {
  order: {
    triggers: [{ regex: "(?s)^order (?P<number>.+)$" }],
    steps: [
      { http: { method: "POST",
                url: "BASE/orders/{{ match.number }}/items?lang=en&q={{ match.number }}",
                headers: { Authorization: "Bearer ${ORDERS_TOKEN}",
                           "X-Order": "{{ match.number }}" },
                json: { number: "{{ match.number }}", note: "order {{ match.number }}" },
                save_as: "order" } },
      { text: "{% if vars.order.ok %}found{% else %}failed: {{ vars.order.error }}{% endif %}" },
    ],
  },
} }"""

TYPED = [
    "../admin",
    "a/b",
    "?admin=1",
    "#x",
    "@evil.example",
    "evil.example:80@",
    "%2F",
    "%2e%2e",
    "A1&admin=1",
    "A1;admin=1",
    "..\\admin",
    "${ORDERS_TOKEN}",
    "$${ORDERS_TOKEN}",
    "{{ 7 * 7 }}",
    "café ☕",
    "two words",
]


def order_bot(root: Path, api: FakeBusinessAPI) -> Bot:
    (root / "flows").mkdir(parents=True)
    (root / "config.json5").write_text(CONFIG, encoding="utf-8")
    flows = FLOWS.replace("BASE", api.base_url)
    (root / "flows" / "orders.json5").write_text(flows, encoding="utf-8")
    return build_bot(root / "config.json5", env={}).bot


async def order(bot: Bot, caller: HttpCaller, typed: str) -> list[str]:
    """The person sends `order <typed>`; the call is made; what the bot answers."""
    envelope = text(f"order {typed}")
    turn = run_turn(bot, envelope, None, now=1.0)
    while turn.call is not None:
        result = await caller.call(turn.call)
        assert SECRET not in describe_call(turn.call, result)
        turn = continue_turn(bot, envelope, turn, result, now=2.0)
    return [m.text for m in turn.messages if isinstance(m, TextMessage)]


@pytest.mark.parametrize("typed", TYPED)
async def test_what_a_person_types_is_one_value_in_the_path_the_query_a_header_and_the_body(
    tmp_path: Path, api: FakeBusinessAPI, caller: HttpCaller, typed: str
) -> None:
    bot = order_bot(tmp_path, api)
    api.default = json_answer(200, {"status": "shipped"})
    assert await order(bot, caller, typed) == ["found"]
    [got] = api.received()  # it reached the host the flow names (a changed host would not)
    segments = got.path.split("/")
    assert segments[:2] == ["", "orders"]
    assert segments[3:] == ["items"]  # the flow's segments, no more, no fewer
    assert unquote(segments[2]) == typed
    assert parse_qsl(got.query, keep_blank_values=True) == [("lang", "en"), ("q", typed)]
    assert got.headers["x-order"].encode("latin-1").decode("utf-8") == typed
    assert got.json == {"number": typed, "note": f"order {typed}"}
    # the flow's own secret is filled in; what the person typed never is
    assert got.headers["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in got.target
    assert SECRET not in got.headers["x-order"]
    assert SECRET.encode() not in got.body


@pytest.mark.parametrize("typed", ["..", "."])
async def test_a_dot_segment_typed_into_the_path_is_not_called(
    tmp_path: Path, api: FakeBusinessAPI, caller: HttpCaller, typed: str
) -> None:
    """`/orders/../items` would be `/items` once resolved: the call is not made, and the
    flow goes on with the failure, as with any other."""
    bot = order_bot(tmp_path, api)
    assert await order(bot, caller, typed) == [
        "failed: the URL's path has a '.' or '..' segment (from a value put in it?); not called"
    ]
    assert api.received() == []


async def test_a_line_break_typed_into_a_header_adds_no_header(
    tmp_path: Path, api: FakeBusinessAPI, caller: HttpCaller
) -> None:
    bot = order_bot(tmp_path, api)
    assert await order(bot, caller, "A1\r\nX-Admin: 1") == [
        "failed: the X-Order header holds a line break or a control character; not called"
    ]
    assert api.received() == []
