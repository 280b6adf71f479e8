"""Bad input never stops the server: the webhook fuzzed with hypothesis.

The unit properties run parse_body -> page_events -> to_envelope on many bodies: each is
refused with MalformedBodyError, or every event becomes an Envelope (that survives the inbox
as UTF-8 JSON) or a reason; no other exception, ever. One real server (in a thread, shared by
the module) then takes fuzzed bodies signed and unsigned, too large and too deep; each gets
200, 400, 403 or 413, nothing is logged as an error, and afterwards the server still answers
/healthz and a "hi" (the module's last test).

Bounded for CI: a few hundred examples per property, no example database, ~10 s in all.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from runtime.envelope import Attachment, Envelope
from runtime.errors import MalformedBodyError
from runtime.messenger.limits import LIMITS
from runtime.messenger.signature import sign
from runtime.messenger.webhook import PageEvent, Skipped, page_events, parse_body, to_envelope
from runtime.server import WEBHOOK_PATH
from runtime.session import session_key
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import running
from tests.fakes.webhooks import PAGE_ID, SAMPLES, body, event, new_mid, sample, text
from tests.messenger.conftest import APP_SECRET, single_page, write_bot

MIB = 1024 * 1024
UNIT = settings(
    max_examples=500,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SERVER = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- strategies ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    """A number token written into the body as is: what json.dumps cannot produce."""

    token: str


# NaN and Infinity are Python's, not JSON's; 1e400 overflows a float; 4301 digits is over
# Python's int-to-str limit, 4300 is just under it (and overflows a float)
LITERALS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1E-400", "-0", "1" * 4301]
LITERALS += ["9" * 4300, "1.7976931348623157e308", "5e-324"]
EXTREMES = [10**4299, -(10**4299), 2**63, 2**64, -(2**63) - 1, 1e308, -1e308, -0.0, 5e-324]

lone_surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
strings = st.text(st.characters() | lone_surrogates, max_size=12)
numbers = (
    st.integers()
    | st.floats()  # NaN and infinities included: json.dumps writes them as Python's literals
    | st.sampled_from(EXTREMES)
    | st.sampled_from(LITERALS).map(Literal)
)
scalars = st.none() | st.booleans() | numbers | strings
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(strings, inner, max_size=4),
    max_leaves=12,
)

# values of every type, the ones that broke something once among them: an empty object
# (dropped by the inbox), a lone surrogate (no UTF-8), an int that overflows a float,
# digits that are not ASCII
TRICKY = [None, True, 0, -1, 1.5, "", [], {}, [[]], {"": {}}, "\ud800", "\udfff", "١٢٣"]
TRICKY += [10**4299, 2**64, "2000000000000001", Literal("NaN"), Literal("1e400")]
any_value = (st.sampled_from(TRICKY) | json_values).map(copy.deepcopy)  # mutated later

SAMPLE_NAMES = sorted(path.stem for path in SAMPLES.glob("*.json"))
# every field webhook.py reads, so each is tried with values of every type, anywhere
READ_FIELDS = ["object", "entry", "id", "messaging", "standby", "changes", "sender", "recipient"]
READ_FIELDS += ["timestamp", "message", "postback", "referral", "optin", "is_echo", "mid"]
READ_FIELDS += ["text", "quick_reply", "payload", "attachments", "type", "url", "title"]
READ_FIELDS += ["coordinates", "lat", "long", "reply_to"]
THREAD_CONTROL = ("pass_thread_control", "take_thread_control", "request_thread_control")
READ_FIELDS += [*THREAD_CONTROL, "new_owner_app_id", "previous_owner_app_id", "metadata"]
READ_FIELDS += ["requested_owner_app_id"]
KNOWN_KINDS = ("sender", "recipient", "timestamp", "message", "postback", "referral", "optin")
KNOWN_KINDS += THREAD_CONTROL
unknown_kinds = st.text(min_size=1, max_size=20).filter(lambda key: key not in KNOWN_KINDS)


def subtrees(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every subtree of a JSON value, the root's (`()`) first."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from subtrees(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from subtrees(item, (*path, index))


def at(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


@st.composite
def mutated_samples(draw: st.DrawFn) -> Any:
    """A real-shaped sample with one to three changes: a subtree replaced by any JSON value
    or removed, or a field webhook.py reads set to any JSON value in any object."""
    body: Any = sample(draw(st.sampled_from(SAMPLE_NAMES)))
    for _ in range(draw(st.integers(1, 3))):
        paths = list(subtrees(body))
        objects = [path for path in paths if isinstance(at(body, path), dict)]
        if objects and draw(st.booleans()):
            target = at(body, draw(st.sampled_from(objects)))
            target[draw(st.sampled_from(READ_FIELDS))] = draw(any_value)
            continue
        path = draw(st.sampled_from(paths))
        if not path:
            body = draw(any_value)
            continue
        parent = at(body, path[:-1])
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(any_value)
    return body


@st.composite
def unknown_events(draw: st.DrawFn) -> dict[str, Any]:
    """A body whose one event is of a kind nobody has seen yet."""
    data = sample("text")
    item = data["entry"][0]["messaging"][0]
    del item["message"]
    item[draw(unknown_kinds)] = draw(any_value)
    return data


# a stray continuation byte, a truncated sequence, an overlong "/", a UTF-8-encoded surrogate
# (json.loads(bytes) lets that one through), a code point past U+10FFFF
INVALID_UTF8 = [b"\xff", b"\xfe\xff", b"\x80", b"\xc3", b"\xc0\xaf", b"\xed\xa0\x80"]
INVALID_UTF8 += [b"\xf4\x90\x80\x80"]


# bytes that never start a UTF-8 character: continuation bytes, C0, C1, F5 to FF
strays = st.integers(0x80, 0xBF) | st.sampled_from([0xC0, 0xC1, *range(0xF5, 0x100)])
invalid_sequences = st.sampled_from(INVALID_UTF8) | st.builds(
    lambda first, rest: bytes([first]) + rest, strays, st.binary(max_size=3)
)


@st.composite
def invalid_utf8_bodies(draw: st.DrawFn) -> bytes:
    """A sample's bytes with a sequence that is not UTF-8 spliced into one of its strings."""
    raw = encode(sample(draw(st.sampled_from(SAMPLE_NAMES))))
    quotes = [index for index, byte in enumerate(raw) if byte == ord('"')]
    at = draw(st.sampled_from(quotes)) + 1  # just inside a string (or just after one)
    return raw[:at] + draw(invalid_sequences) + raw[at:]


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


@st.composite
def deep_bodies(draw: st.DrawFn) -> bytes:
    """A message whose referral (kept whole in the Envelope) is nested `depth` levels deep."""
    depth = draw(st.integers(1, 3000))
    data = sample("text")
    data["entry"][0]["messaging"][0]["message"]["referral"] = {"ref": "@@deep@@"}
    return encode(data).replace(b'"@@deep@@"', nested(depth).encode())


def encode(value: Any, *, ascii_only: bool = True) -> bytes:
    """JSON bytes for `value`, with each Literal written as its token."""
    tokens: list[str] = []

    def literal(item: object) -> str:
        if not isinstance(item, Literal):
            raise TypeError(f"not JSON: {item!r}")
        tokens.append(item.token)
        return f"\x00literal-{len(tokens) - 1}\x00"

    raw = json.dumps(value, default=literal, ensure_ascii=ascii_only)
    for index, token in enumerate(tokens):
        raw = raw.replace(json.dumps(f"\x00literal-{index}\x00"), token, 1)
    return raw.encode("utf-8", "surrogatepass")


json_bodies = st.builds(encode, json_values, ascii_only=st.booleans())
page_bodies = st.builds(
    encode,
    st.fixed_dictionaries({"object": st.just("page"), "entry": json_values}),
    ascii_only=st.booleans(),
)
sample_bodies = st.builds(encode, mutated_samples(), ascii_only=st.booleans())
any_body = st.one_of(
    st.binary(max_size=64),
    json_bodies,
    page_bodies,
    sample_bodies,
    sample_bodies,  # twice: the closest to real traffic, so the likeliest to reach the worker
    st.builds(encode, unknown_events()),
    invalid_utf8_bodies(),
    deep_bodies(),
)

# -- the property ----------------------------------------------------------------------------


def check(raw: bytes) -> list[Envelope]:
    """Refused with MalformedBodyError, or every event an Envelope or a reason; never a crash."""
    try:
        parsed = parse_body(raw)
    except MalformedBodyError:
        note("refused")
        return []
    found: list[Envelope] = []
    for item in page_events(parsed):
        assert isinstance(item, PageEvent | Skipped)
        assert isinstance(item.page_id, str)
        if isinstance(item, Skipped):
            assert isinstance(item.reason, str)
            continue
        result = to_envelope(item.event, account_id="main", session_key=partial(session_key, "m"))
        if isinstance(result, str):
            continue
        assert isinstance(result, Envelope)
        assert within_caps(result)
        stored = result.to_json()
        stored.encode("utf-8")  # the store keeps it as UTF-8 text
        assert Envelope.from_json(stored) == result
        found.append(result)
    note(f"{len(found)} envelopes")
    return found


def within_caps(envelope: Envelope) -> bool:
    """What a person sent is cut to what the engine reads (runtime/envelope.py)."""
    lengths = [
        (envelope.text, LIMITS.inbound_text),
        (envelope.quick_reply_payload, LIMITS.payload),
        (envelope.postback_payload, LIMITS.payload),
        (envelope.postback_title, LIMITS.inbound_title),
    ]
    lengths += [(attachment.url, LIMITS.inbound_url) for attachment in envelope.attachments]
    lengths += [(attachment.title, LIMITS.inbound_title) for attachment in envelope.attachments]
    return all(value is None or len(value) <= limit for value, limit in lengths)


def note(statistic: str) -> None:
    """Count `statistic` for --hypothesis-show-statistics (check() also runs outside it)."""
    if currently_in_test_context():
        hypothesis.event(statistic)


@UNIT
@given(st.binary())
def test_any_bytes_are_refused_or_read_cleanly(raw: bytes) -> None:
    check(raw)


@UNIT
@given(json_bodies | page_bodies)
def test_any_json_value_is_refused_or_read_cleanly(raw: bytes) -> None:
    check(raw)


@UNIT
@given(sample_bodies)
def test_a_real_sample_with_fields_of_any_type_is_read_cleanly(raw: bytes) -> None:
    check(raw)


@UNIT
@given(unknown_events())
def test_an_unknown_event_kind_is_skipped_with_a_reason(data: dict[str, Any]) -> None:
    assert check(encode(data)) == []


@UNIT
@given(invalid_utf8_bodies())
def test_a_body_that_is_not_utf8_is_refused(raw: bytes) -> None:
    with pytest.raises(MalformedBodyError):
        parse_body(raw)


@UNIT
@given(deep_bodies())
def test_deep_nesting_is_refused_or_kept_whole(raw: bytes) -> None:
    check(raw)


@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_a_body_nested_thousands_deep_is_refused(depth: int) -> None:
    raw = f'{{"object": "page", "entry": {nested(depth)}}}'.encode()
    with pytest.raises(MalformedBodyError):
        parse_body(raw)


def said(message: dict[str, Any] | None = None, **fields: Any) -> bytes:
    """The `text` sample with some of its event's fields, or its message's, changed."""
    data = sample("text")
    data["entry"][0]["messaging"][0].update(fields)
    data["entry"][0]["messaging"][0]["message"].update({"mid": new_mid(), **(message or {})})
    return encode(data)


def located(lat: Any) -> bytes:
    return said({"attachments": [{"type": "location", "payload": {"coordinates": {"lat": lat}}}]})


def deep_referral(depth: int) -> bytes:
    return said({"referral": {"ref": "@@deep@@"}}).replace(b'"@@deep@@"', nested(depth).encode())


# what the fuzzing found once, kept so that no run can miss it: each body and what becomes
# of it (MalformedBodyError, the reason it is skipped, or some fields of its Envelope)
FOUND: dict[str, tuple[bytes, object]] = {
    "attachment type a list": (
        said({"attachments": [{"type": []}]}),
        {"attachments": (Attachment(type="fallback"),)},
    ),
    "empty referral": (said({"referral": {}}), {"referral": None}),
    "empty optin": (encode(body(event("optin", {}))), {"optin": None}),
    "lone surrogate in the text": (said({"text": "\ud800!"}), {"text": "\ufffd!"}),
    "lone surrogate in a referral key": (
        said({"referral": {"\udc00": ["\ud800"]}}),
        {"referral": {"\ufffd": ["\ufffd"]}},
    ),
    "UTF-8-encoded surrogate": (said().replace(b'"hi"', b'"\xed\xa0\x80"'), MalformedBodyError),
    "UTF-16 body": (said().decode().encode("utf-16"), MalformedBodyError),
    "timestamp of 4300 digits": (said(timestamp=10**4299), {"timestamp": 0.0}),
    "timestamp NaN": (said(timestamp=Literal("NaN")), MalformedBodyError),
    "timestamp 1e400": (said(timestamp=Literal("1e400")), MalformedBodyError),
    "negative timestamp": (said(timestamp=-5), {"timestamp": 0.0}),
    "latitude of 4300 digits": (
        located(10**4299),
        {"attachments": (Attachment(type="location"),)},
    ),
    "sender id a float": (said(sender={"id": 1.5}), "no sender id"),
    "sender id a bool": (said(sender={"id": True}), "no sender id"),
    "sender id empty": (said(sender={"id": ""}), "no sender id"),
    "sender id in Arabic digits": (said(sender={"id": "١٢٣"}), "no sender id"),
    "sender id of 4300 digits": (said(sender={"id": 10**4299}), "no sender id"),
    "sender id an integer": (said(sender={"id": 2000000000000001}), {"psid": "2000000000000001"}),
    "mid an object": (said({"mid": {"id": "m_1"}}), {"message_id": None}),
    "object nested 900 deep": (f'{{"object": {nested(900)}}}'.encode(), MalformedBodyError),
    "referral 40 deep": (deep_referral(40), {"referral": None}),
    "referral 20 deep": (deep_referral(20), {"text": "hi"}),
    "text of 30,000 characters": (said({"text": "x" * 30_000}), {"text": "x" * 20_000}),
    "quick-reply payload of 5000 characters": (
        said({"quick_reply": {"payload": "p" * 5000}}),
        {"quick_reply_payload": "p" * 1000},
    ),
    "attachment URL of 9000 characters": (
        said({"attachments": [{"type": "image", "payload": {"url": "https://x/" + "a" * 9000}}]}),
        {"attachments": (Attachment(type="image"),)},
    ),
}


@pytest.mark.parametrize("name", FOUND)
def test_what_the_fuzzing_found(name: str) -> None:
    raw, expected = FOUND[name]
    if expected is MalformedBodyError:
        with pytest.raises(MalformedBodyError):
            parse_body(raw)
        return
    [item] = page_events(parse_body(raw))
    assert isinstance(item, PageEvent)
    result = to_envelope(item.event, account_id="main", session_key=partial(session_key, "m"))
    if isinstance(expected, str):
        assert isinstance(result, str)
        assert expected in result
        return
    [envelope] = check(raw)
    assert isinstance(expected, dict)
    assert {field: getattr(envelope, field) for field in expected} == expected


def test_huge_arrays_are_read_whole_and_huge_strings_cut() -> None:
    events = sample("text")["entry"][0]["messaging"] * 50_000
    many = {"object": "page", "entry": [{"id": PAGE_ID, "messaging": events}]}
    assert len(check(encode(many))) == 50_000
    huge = text("x" * (8 * MIB))
    [envelope] = check(encode(huge))
    assert envelope.text == "x" * LIMITS.inbound_text
    entries = {"object": "page", "entry": [[]] * 200_000}
    assert check(encode(entries)) == []


# -- one real server -------------------------------------------------------------------------


class ServerThread:
    """`running(...)` on its own event loop in a thread, so sync hypothesis tests can post."""

    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self._config, self._env = config, env
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.base_url = ""
        self._thread = threading.Thread(target=self._main, name="fuzzed-server", daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(timeout=30) or self._error is not None:
            raise RuntimeError(f"the server did not start: {self._error!r}")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the server did not stop"
        if self._error is not None:
            raise self._error

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as err:
            self._error = err
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with running(self._config, env=self._env) as app:
            self.base_url = app.base_url
            self._ready.set()
            await self._stop.wait()


class ErrorRecords(logging.Handler):
    """Keeps every record at ERROR or above: a dropped event or a crash in the worker."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass(repr=False)  # hypothesis prints the fixture with each failing example
class Fuzzed:
    client: httpx.Client
    graph: FakeGraphAPI
    errors: ErrorRecords
    psids: Iterator[int]  # a fresh sender for each "hi"

    def post(self, raw: bytes, *, signature: str | None) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        return self.client.post(WEBHOOK_PATH, content=raw, headers=headers)

    def still_answers(self) -> None:
        """/healthz answers, a "hi" gets its reply, and nothing was logged as an error."""
        assert self.client.get("/healthz").json()["status"] == "ok"
        psid = str(next(self.psids))
        raw = encode(text("hi", psid=psid))
        assert self.post(raw, signature=sign(raw, APP_SECRET)).status_code == 200
        deadline = time.monotonic() + 10
        while not self.graph.messages(psid):
            assert time.monotonic() < deadline, "no reply to 'hi' after the fuzzing"
            time.sleep(0.01)
        assert self.graph.messages(psid)[0].text == "Hi there! What do you need?"
        assert [record.getMessage() for record in self.errors.records] == []


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    graph = FakeGraphAPI().start()
    errors = ErrorRecords()
    logging.getLogger().addHandler(errors)  # the runtime's records and Sanic's
    config = write_bot(tmp_path_factory.mktemp("fuzzed-bot"), single_page())
    try:
        with (
            ServerThread(config, {"MESSENGER_GRAPH_API_BASE": graph.base_url}) as server,
            httpx.Client(base_url=server.base_url, timeout=10) as client,
        ):
            psids = itertools.count(3_000_000_000_000_001)
            yield Fuzzed(client, graph, errors, psids)
    finally:
        logging.getLogger().removeHandler(errors)
        graph.stop()


@SERVER
@given(raw=any_body)
def test_signed_fuzzed_bodies_get_200_or_400(fuzzed: Fuzzed, raw: bytes) -> None:
    answer = fuzzed.post(raw, signature=sign(raw, APP_SECRET))
    note(f"answered {answer.status_code}")
    assert answer.status_code in (200, 400), answer.text


# what an HTTP client can send as a header value: printable ASCII, no space at either end
header_values = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=80)


@settings(SERVER, max_examples=30)
@given(raw=any_body, signature=st.none() | header_values | header_values.map("sha256={}".format))
def test_unsigned_fuzzed_bodies_get_403(fuzzed: Fuzzed, raw: bytes, signature: str | None) -> None:
    answer = fuzzed.post(raw, signature=signature)
    assert answer.status_code == 403


def test_huge_and_very_deep_bodies_get_413_400_or_200(fuzzed: Fuzzed) -> None:
    too_big = encode({"object": "page", "entry": [], "pad": "x" * (MIB + 1)})
    assert fuzzed.post(too_big, signature=sign(too_big, APP_SECRET)).status_code == 413
    deep = f'{{"object": "page", "entry": {nested(100_000)}}}'.encode()
    assert fuzzed.post(deep, signature=sign(deep, APP_SECRET)).status_code == 400
    unknown = {"sender": {"id": "2000000000000003"}, "recipient": {"id": PAGE_ID}, "new": [1]}
    just_under = body(*[unknown] * 5_000)
    just_under["entry"][0]["pad"] = "x" * (MIB - len(encode(just_under)) - 100)
    raw = encode(just_under)
    assert MIB - 100 < len(raw) <= MIB
    assert fuzzed.post(raw, signature=sign(raw, APP_SECRET)).status_code == 200
    fuzzed.still_answers()


@pytest.mark.parametrize("name", FOUND)
def test_what_the_fuzzing_found_gets_200_or_400(fuzzed: Fuzzed, name: str) -> None:
    raw, expected = FOUND[name]
    answer = fuzzed.post(raw, signature=sign(raw, APP_SECRET))
    assert answer.status_code == (400 if expected is MalformedBodyError else 200)


def test_after_all_that_the_server_still_answers(fuzzed: Fuzzed) -> None:
    fuzzed.still_answers()
