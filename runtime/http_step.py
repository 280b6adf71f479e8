"""Compiling an `http` step: the request's parts checked and compiled once, with key paths.

    { http: { method: "POST", url: "https://api.example.com/orders/{{ match.number }}",
              headers: { Authorization: "Bearer ${ORDERS_TOKEN}" },
              json: { email: "{{ vars.email }}" }, timeout: 5, save_as: "order",
              on_error: "order_unavailable" } }

What a person types can never change where a request goes: the URL's scheme and host are
written out in the flow file (or come whole from a `${VAR}`), never from a template, and
every value a URL template prints is percent-encoded (`dialog/templates.py` UrlTemplate).
`${VAR}` secrets stay unresolved in the compiled step and in the rendered HttpCall; they
are filled in as the request leaves (`runtime/http_calls.py`), so none reaches a log line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from runtime.bot import HttpStep
from runtime.config.json5file import env_names_in
from runtime.dialog.templates import (
    JsonTemplate,
    JsonTree,
    RequestTemplate,
    UrlTemplate,
    has_jinja_syntax,
)

if TYPE_CHECKING:
    from runtime.step_compiler import StepCompiler

METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE")
DEFAULT_TIMEOUT: Final = 5.0
MAX_TIMEOUT: Final = 20.0
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
# headers the runtime (or httpx) sets itself: a flow's own would be overwritten or break it
_RESERVED_HEADERS: Final = frozenset(
    {"idempotency-key", "host", "content-length", "transfer-encoding", "connection"}
)
_HEADER_NAME: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_ENV: Final = r"\$\{[A-Za-z_][A-Za-z0-9_]*\}"
# the start of a URL: scheme and host written out, or a whole `${VAR}` base
_ORIGIN: Final = re.compile(rf"(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://[^/?#\s]+|{_ENV})")
_MARKERS: Final = re.compile(r"\{\{|\{%|\{#")
# a string that is one `{{ expression }}` alone keeps its value's JSON type in a body
_ONE_EXPRESSION: Final = re.compile(r"\{\{(?P<expression>(?:(?!\{\{|\}\}|\{%|\{#).)*)\}\}", re.S)


def compile_http_step(
    compiler: StepCompiler, spec: Mapping[str, Any], base: Mapping[str, Any]
) -> HttpStep | None:
    """The HttpStep `spec` describes, or None when its URL cannot be called safely (the
    problems are on `compiler`)."""
    path = f"{base['source'].key_path}.http"
    method = str(spec.get("method", "GET")).upper()
    url = _url(compiler, str(spec["url"]), f"{path}.url")
    headers = _headers(compiler, spec.get("headers") or {}, f"{path}.headers")
    body = None
    if "json" in spec:
        if method == "GET":
            compiler.problem(
                f"{path}.json",
                'a GET request carries no body; use method: "POST" (or PUT, PATCH), or put'
                " the values in the URL's query (they are percent-encoded)",
            )
        body = JsonTemplate(_body(compiler, spec["json"], f"{path}.json"))
    timeout = float(spec.get("timeout", DEFAULT_TIMEOUT))
    if not 0 < timeout <= MAX_TIMEOUT:
        compiler.problem(
            f"{path}.timeout",
            f"is {timeout:g} s; a call may wait more than 0 and at most {MAX_TIMEOUT:g} seconds"
            " (the person waits meanwhile)",
        )
    if url is None:
        return None
    return HttpStep(
        **base,
        method=method,
        url=url,
        headers=headers,
        body=body,
        timeout=timeout,
        save_as=spec.get("save_as"),
        on_error=spec.get("on_error"),
        env_names=env_names_in([spec["url"], dict(spec.get("headers") or {}), spec.get("json")]),
    )


def _url(compiler: StepCompiler, source: str, path: str) -> UrlTemplate | None:
    """The URL template, if its scheme and host are written out and it compiles."""
    marker = _MARKERS.search(source)
    literal = source if marker is None else source[: marker.start()]
    origin = _ORIGIN.match(literal)
    if origin is None or (marker is not None and len(literal) == origin.end()):
        compiler.problem(
            path,
            "the scheme and host must be written out before any {{ }} (such as"
            ' "https://api.example.com/orders/{{ match.number }}"), so that what a person'
            " types can never change where the request goes",
        )
        return None
    scheme = origin.group("scheme")
    if scheme is not None and scheme.lower() not in ("http", "https"):
        compiler.problem(path, f"is a {scheme}: URL; an http step calls http:// or https:// only")
        return None
    rest = literal[origin.end() :]
    if rest and rest[0] not in "/?#":
        compiler.problem(path, "the host must end with '/', '?' or '#' before the rest of the URL")
        return None
    template = compiler.template(source, path, UrlTemplate)
    return template if isinstance(template, UrlTemplate) else None


def _headers(
    compiler: StepCompiler, spec: Mapping[str, Any], path: str
) -> tuple[tuple[str, RequestTemplate], ...]:
    headers = []
    for name, value in spec.items():
        where = f"{path}.{name}"
        if not _HEADER_NAME.fullmatch(name):
            compiler.problem(where, f"{name!r} is not a valid HTTP header name")
            continue
        if name.lower() in _RESERVED_HEADERS:
            compiler.problem(where, f"{name} is set by the runtime; leave it out")
            continue
        template = compiler.template(str(value), where, RequestTemplate)
        if isinstance(template, RequestTemplate):
            headers.append((name, template))
    return tuple(headers)


def _body(compiler: StepCompiler, data: object, path: str) -> JsonTree:
    """The body tree: strings compiled (see JsonTemplate), the rest kept as written."""
    if isinstance(data, str):
        if not has_jinja_syntax(data):
            return data
        alone = _ONE_EXPRESSION.fullmatch(data.strip())
        if alone is not None:
            expression = compiler.expression(alone["expression"], path)
            return expression if expression is not None else ""
        template = compiler.template(data, path, RequestTemplate)
        return template if isinstance(template, RequestTemplate) else ""
    if isinstance(data, Mapping):
        return {str(key): _body(compiler, value, f"{path}.{key}") for key, value in data.items()}
    if isinstance(data, list):
        return [_body(compiler, value, f"{path}.{number}") for number, value in enumerate(data)]
    if data is None or isinstance(data, bool | int | float):
        return data
    return str(data)
