"""The emulator's HTTP routes: the page, its JSON API, and the door to the Graph API stand-in.

The API speaks JSON. A request it cannot act on is answered 400 (404 for an account the
emulator does not show) with `{"error": "<what is wrong>"}`; a webhook the server refused is
not an error of the API: `/send` reports its status.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Coroutine, Mapping
from functools import wraps
from pathlib import Path
from typing import Any, Final

import httpx
from sanic import Request, response
from sanic.response import HTTPResponse

from runtime import pairing
from runtime.config.model import Account
from runtime.emulator.bot_info import bot_info
from runtime.emulator.graph_standin import GraphCall, Person
from runtime.emulator.settings import page_id_of
from runtime.emulator.state import Emulator, emulator_of
from runtime.emulator.webhooks import RequestError, person_event, webhook_body
from runtime.errors import PairingError
from runtime.messenger.profile import LOCALE_PATTERN
from runtime.messenger.signature import HEADER, sign
from runtime.server import WEBHOOK_PATH, runtime_of
from runtime.session import session_key
from runtime.store.base import TimerChanges, TimerRef

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
LONG_POLL_SECONDS: Final = 15.0  # the most an events request waits for something new
_PSID: Final = re.compile(r"^[0-9]{1,32}$")
_LOCALE: Final = re.compile(LOCALE_PATTERN)


Handler = Callable[..., Coroutine[Any, Any, HTTPResponse]]


class ApiError(RequestError):
    """A request the API refuses, and the HTTP status saying why."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _answers_errors(handler: Handler) -> Handler:
    """A RequestError raised by `handler` is its JSON answer: `{"error": ...}`."""

    @wraps(handler)
    async def answer(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
        try:
            return await handler(request, *args, **kwargs)
        except RequestError as err:
            return response.json({"error": str(err)}, status=err.status)

    return answer


# -- the page --------------------------------------------------------------------------------
async def page(request: Request) -> HTTPResponse:
    index = STATIC_DIR / "index.html"
    if not index.is_file():
        return response.text("the emulator's page is not installed (index.html)", status=404)
    return await response.file(index, mime_type="text/html; charset=utf-8")


async def media(request: Request, attachment_id: str) -> HTTPResponse:
    """An uploaded attachment's bytes (or a redirect to the URL it was uploaded from)."""
    found = _emulator(request).graph.media.get(attachment_id)
    if found is None:
        return response.text(f"no attachment {attachment_id} was uploaded", status=404)
    if found.content is None:
        return response.redirect(found.url or "/")
    return response.raw(found.content, content_type=found.content_type)


# -- the page's API --------------------------------------------------------------------------
@_answers_errors
async def bot(request: Request) -> HTTPResponse:
    locale = request.args.get("locale") or None
    info = bot_info(
        runtime_of(request.app).bot,
        account_id=_emulator(request).settings.account_id,
        locale=locale,
    )
    return response.json(info)


@_answers_errors
async def send(request: Request) -> HTTPResponse:
    """What the person did, as a signed webhook POST to the server's own webhook."""
    emulator = _emulator(request)
    data = _body(request)
    account = _account(request, data.get("account"))
    psid = _psid(data.get("psid"))
    page_id = page_id_of(account)
    done = person_event(data, psid=psid, page_id=page_id)
    body = json.dumps(webhook_body(done.event, page_id=page_id)).encode()
    headers = {"Content-Type": "application/json"}
    if account.app_secret is not None:  # as Meta does; the webhook checks it
        headers[HEADER] = sign(body, account.app_secret.reveal())
    if emulator.client is None:
        raise ApiError("the emulator is not running", status=503)
    url = f"{emulator.settings.origin}{WEBHOOK_PATH}/{account.id}"
    try:
        answer = await emulator.client.post(url, content=body, headers=headers)
    except httpx.TransportError as err:
        raise ApiError(f"the webhook did not answer ({type(err).__name__})", status=502) from None
    return response.json({"status": answer.status_code, "mid": done.mid})


@_answers_errors
async def events(request: Request) -> HTTPResponse:
    """The person's events after `after`; waits up to `wait` seconds (default 15, at most
    30) for one when there is none yet."""
    account = _account(request, request.args.get("account"))
    psid = _psid(request.args.get("psid"))
    after = _number(request.args.get("after"), "after", default=0)
    wait = min(_number(request.args.get("wait"), "wait", default=LONG_POLL_SECONDS), 30.0)
    streams = _emulator(request).streams
    found, seq = await streams.wait(account.id, psid, after=int(after), within=wait)
    return response.json({"events": found, "seq": seq})


@_answers_errors
async def person(request: Request) -> HTTPResponse:
    """Name a person: what the User Profile API answers for their PSID from now on."""
    data = _body(request)
    account = _account(request, data.get("account"))
    psid = _psid(data.get("psid"))
    first_name, last_name = data.get("first_name"), data.get("last_name", "")
    if not isinstance(first_name, str) or not first_name.strip():
        raise ApiError("first_name is a text that is not empty")
    if not isinstance(last_name, str):
        raise ApiError("last_name is a text")
    locale = data.get("locale") or None
    if locale is not None and not (isinstance(locale, str) and _LOCALE.match(locale)):
        raise ApiError(f"locale is written like en_US or fr_FR; got {locale!r}")
    people = _emulator(request).graph.people
    people[(account.id, psid)] = Person(first_name.strip(), last_name.strip(), locale)
    return response.json({"ok": True})


@_answers_errors
async def reset(request: Request) -> HTTPResponse:
    """Forget the person's session (and its timers) and their events: they start afresh."""
    data = _body(request)
    account = _account(request, data.get("account"))
    psid = _psid(data.get("psid"))
    store = runtime_of(request.app).store
    if store is None:
        raise ApiError("the server's store is not open", status=503)
    key = session_key(account.agent_id, psid)
    session = await store.load_session(key)
    if session is not None and session.timers:
        cancelled = tuple(
            TimerRef(account_id=account.id, psid=psid, slot=slot) for slot in session.timers
        )
        await store.change_timers(TimerChanges(cancelled=cancelled))
    await store.delete_session(key)
    _emulator(request).streams.forget(account.id, psid)
    return response.json({"ok": True})


@_answers_errors
async def approve(request: Request) -> HTTPResponse:
    """Approve the person's pending pairing request, as `runtime pair approve` does."""
    data = _body(request)
    account = _account(request, data.get("account"))
    psid = _psid(data.get("psid"))
    state = runtime_of(request.app)
    if state.store is None:
        raise ApiError("the server's store is not open", status=503)
    now = time.time()
    pending = await state.store.pending_pairing(account.id, psid, now=now)
    if pending is None:
        error = "this person has no pending pairing request: they get a code when they write"
        return response.json({"ok": False, "error": error})
    try:
        approval = await pairing.approve(state.store, state.bot.config, pending.code, now=now)
    except PairingError as err:
        return response.json({"ok": False, "error": str(err)})
    if state.worker is not None:  # their confirmation waits in the outbox: send it now
        state.worker.poll_now()
    return response.json({"ok": True, "outcome": approval.outcome})


# -- the Graph API stand-in ------------------------------------------------------------------
async def graph(request: Request, version: str, path: str = "") -> HTTPResponse:
    """A Graph API call of the runtime's (any version), read off the wire for the stand-in."""
    files = {name: (items[0].body, items[0].type) for name, items in (request.files or {}).items()}
    form = {name: values[0] for name, values in (request.form or {}).items()}
    call = GraphCall(
        method=request.method,
        path=path,
        query={name: values[0] for name, values in request.args.items()},
        content_type=request.headers.get("content-type", ""),
        body=request.body,
        form=form,
        files=files,
    )
    status, payload = await _emulator(request).graph.answer(call)
    return response.json(payload, status=status)


# -- reading requests ------------------------------------------------------------------------
def _emulator(request: Request) -> Emulator:
    return emulator_of(request.app)


def _body(request: Request) -> Mapping[str, Any]:
    try:
        data = json.loads(request.body or b"null")
    except ValueError:
        raise ApiError("the body is not JSON") from None
    if not isinstance(data, Mapping):
        raise ApiError("the body is a JSON object")
    return data


def _account(request: Request, account_id: object) -> Account:
    settings = _emulator(request).settings
    accounts = runtime_of(request.app).bot.accounts
    shown = [key for key in accounts if settings.account_id in (None, key)]
    if account_id is None and len(shown) == 1:
        account_id = shown[0]
    if not isinstance(account_id, str) or account_id not in shown:
        names = ", ".join(shown) or "none"
        raise ApiError(f"no account {account_id!r} here; the accounts are {names}", status=404)
    return accounts[account_id]


def _psid(value: object) -> str:
    if not isinstance(value, str) or not _PSID.match(value):
        raise ApiError(f'psid is a PSID: digits, as "7123456789012345"; got {value!r}')
    return value


def _number(value: str | None, name: str, *, default: float) -> float:
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ApiError(f"{name} is a number; got {value!r}") from None
    if number < 0:
        raise ApiError(f"{name} is not negative; got {value!r}")
    return number
