"""The APIs' answers a conversation test gives: what the `http` steps' calls get, offline.

```json5
http: [
  { method: "GET", url: "https://api.example.com/orders/A123", json: { status: "shipped" } },
  { url: "https://api.example.com/orders/B9", status: 404, text: "no such order" },
  { method: "POST", url: "https://api.example.com/leads", error: "timeout" },
]
```

- An answer answers a call with its method (GET unless given) and its URL exactly as the
  flow renders it: the values of `{{ }}` percent-encoded (`A 1` is `A%201`), the query
  string included, and `${VAR}` as written, not filled in: a test never needs a secret.
- It answers every call that matches, however often the flow makes it; the order of the
  list does not matter (two answers to one request are a mistake in the file).
- Answers listed on a turn are for that turn only, and come before the test's own.
- `status` is 200 unless given; the body is `json` (any JSON value) or `text` (kept as
  text), empty without either. As for a real call, a status other than 2xx is `ok: false`.
  `error: "timeout"` or `error: "refused"` plays a call that gets no answer at all.
- A call no answer matches is not made either: it gets `ok: false`, so the flow goes on
  (to its `on_error` flow, say) and the rest of the turn shows; `runtime test` fails the
  test and names the request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus
from typing import Final

from runtime.dialog.effects import HttpCall, HttpResult
from runtime.http_calls import NOT_CONNECTED, answered, no_answer_within

DEFAULT_METHOD: Final = "GET"
UNANSWERED: Final = "no answer for this request in the test (runtime test makes no calls)"


class NoAnswer(StrEnum):
    """A call that gets no answer at all, told in the words a real call's error uses."""

    TIMEOUT = "timeout"  # the API says nothing within the step's timeout
    REFUSED = "refused"  # nothing listens there (or no such host)


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpAnswer:
    """What an API answers to `method` `url` (see the module's docstring for the rules)."""

    url: str
    method: str = DEFAULT_METHOD
    status: int = 200
    json: object = None
    text: str | None = None
    error: str | None = None  # a NoAnswer: "timeout" or "refused"

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", self.method.upper())
        if self.error is not None and self.error not in set(NoAnswer):
            known = ", ".join(NoAnswer)
            raise ValueError(f"{self.describe()}: error {self.error!r} is not one of {known}")
        if self.json is not None and self.text is not None:
            raise ValueError(f"{self.describe()}: give `json` or `text`, not both")
        if not 100 <= self.status <= 599:
            raise ValueError(f"{self.describe()}: status {self.status} is not an HTTP status")

    def describe(self) -> str:
        """`GET https://api.example.com/orders/A1`"""
        return f"{self.method} {self.url}"

    def result(self, call: HttpCall) -> HttpResult:
        """What `call` gets: what a real call with this answer would give the flow."""
        if self.error == NoAnswer.TIMEOUT:
            return HttpResult(ok=False, error=no_answer_within(call.timeout))
        if self.error == NoAnswer.REFUSED:
            return HttpResult(ok=False, error=NOT_CONNECTED)
        body = self.text if self.text is not None else self.json
        ok = 200 <= self.status < 300
        error = None if ok else answered(self.status, _reason(self.status))
        return HttpResult(ok=ok, status=self.status, body="" if body is None else body, error=error)


class HttpAnswers:
    """Answers by request: a dict lookup on (method, URL)."""

    def __init__(self, answers: Iterable[HttpAnswer] = ()) -> None:
        self._by_request: dict[tuple[str, str], HttpAnswer] = {}
        for answer in answers:
            key = (answer.method, answer.url)
            if key in self._by_request:
                raise ValueError(f"two answers to {answer.describe()}; keep one")
            self._by_request[key] = answer

    def find(self, call: HttpCall) -> HttpAnswer | None:
        return self._by_request.get((call.method.upper(), call.url))

    def __bool__(self) -> bool:
        return bool(self._by_request)


@dataclass(frozen=True, slots=True, kw_only=True)
class Exchange:
    """One call a turn made offline and what it got; `answered` False when no answer
    matched it (the flow got `ok: false`)."""

    call: HttpCall
    result: HttpResult
    answered: bool


def answer_call(call: HttpCall, *answer_sets: HttpAnswers) -> Exchange:
    """The first answer to `call` among `answer_sets` (a turn's, then the test's)."""
    for answers in answer_sets:
        found = answers.find(call)
        if found is not None:
            return Exchange(call=call, result=found.result(call), answered=True)
    return Exchange(call=call, result=HttpResult(ok=False, error=UNANSWERED), answered=False)


def describe_unanswered(call: HttpCall) -> str:
    """The line `runtime test` prints for a request it has no answer to, with the fix."""
    example = f'{{ method: "{call.method}", url: "{call.url}", status: 200, json: {{ ... }} }}'
    return (
        f"no answer for {call.method} {call.url} (made by {call.where}); "
        f"list one in the test's `http`: {example}"
    )


def answer_from_mapping(data: Mapping[str, object]) -> HttpAnswer:
    """An HttpAnswer from a test file's (schema-checked) `http` entry."""
    error = data.get("error")
    text = data.get("text")
    return HttpAnswer(
        url=str(data["url"]),
        method=str(data.get("method", DEFAULT_METHOD)),
        status=int(str(data.get("status", 200))),
        json=data.get("json"),
        text=str(text) if text is not None else None,
        error=str(error) if error is not None else None,
    )


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
