"""The one door for Graph API failures: an HTTP answer or a transport error -> errors.py.

Retryable and permanent failures are different classes (`error.retryable`), so the sender
decides with one attribute. Messages name the code and a hint a person can act on, never
the token or the request URL (which carries it).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from runtime.errors import (
    GraphAPIError,
    GraphUnavailableError,
    PermanentSendError,
    RateLimitError,
    TokenError,
    WindowClosedError,
)

_RATE_LIMIT_CODES = frozenset({4, 17, 32, 613})
_TEMPORARY_CODES = frozenset({1, 2})
_OUTSIDE_WINDOW_SUBCODE = 2018278
_HINTS = {
    190: "token expired or invalid: regenerate the Page Access Token in the App Dashboard",
    100: "invalid parameter: the request does not fit the Send API (or the user is unknown)",
    10: "permission denied for this page",
    200: "permission denied: the app lacks a permission for this page",
    551: "this person is not available right now",
    368: "the page is temporarily blocked for a policy violation",
}


def error_from_response(status: int, content: bytes) -> GraphAPIError:
    """Translate a non-2xx Graph API answer."""
    error = _error_object(content)
    code = _int(error.get("code"))
    subcode = _int(error.get("error_subcode"))
    trace = error.get("fbtrace_id") if isinstance(error.get("fbtrace_id"), str) else None
    text = str(error.get("message") or f"HTTP {status}")[:300]
    details: dict[str, Any] = {
        "status": status,
        "code": code,
        "subcode": subcode,
        "fbtrace_id": trace,
        "meta_message": text,
    }
    label = f"(#{code}) " if code is not None else f"(HTTP {status}) "
    if code == 190:
        return TokenError(label + _HINTS[190] + f" [{text}]", **details)
    if code == 10 and subcode == _OUTSIDE_WINDOW_SUBCODE:
        message = "outside the 24-hour window: this send needs a message tag"
        return WindowClosedError(f"{label}{message} [{text}]", **details)
    if code in _RATE_LIMIT_CODES:
        return RateLimitError(f"{label}rate limited: backing off [{text}]", **details)
    if code in _TEMPORARY_CODES or status >= 500:
        return GraphUnavailableError(f"{label}temporary Graph API failure [{text}]", **details)
    if status == 429:
        return RateLimitError(f"{label}rate limited: backing off [{text}]", **details)
    hint = _HINTS.get(code or 0, "refused")
    return PermanentSendError(f"{label}{hint} [{text}]", **details)


def error_from_transport(err: httpx.TransportError) -> GraphUnavailableError:
    """A request that got no answer. `sent` is False where it surely never left."""
    not_sent = isinstance(err, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    what = type(err).__name__
    message = f"the Graph API could not be reached ({what})"
    if not_sent:
        message += "; the request was not sent"
    return GraphUnavailableError(message, sent=not not_sent)


def _error_object(content: bytes) -> dict[str, Any]:
    try:
        body = json.loads(content)
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
