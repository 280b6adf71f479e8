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
from runtime.validation.problems import Problem, Severity

if TYPE_CHECKING:
    from runtime.step_compiler import StepCompiler

DEFAULT_TIMEOUT: Final = 5.0  # seconds; the schema allows 0.1 to 20 (schemas/flow.json5)
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
# headers the runtime (or httpx) sets itself, and why: a flow's own would be overwritten or
# break the request
_RESERVED_HEADERS: Final = {
    "idempotency-key": "one key per event and step, so the API knows a turn replayed after a crash",
    "host": "from the URL",
    "content-length": "from the body",
    "transfer-encoding": "from the body",
    "connection": "by its pool of connections",
}
_SECRET_WORDS: Final = ("token", "secret", "key", "password", "auth", "cookie", "signature")
_HEADER_NAME: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_ENV: Final = r"\$\{[A-Za-z_][A-Za-z0-9_]*\}"
_ENV_BASE: Final = re.compile(_ENV)
_SCHEME: Final = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
# what a host (with its userinfo and port) may hold once its `${VAR}`s are taken out
_AUTHORITY: Final = re.compile(r"[A-Za-z0-9._~%!$&'()*+,;=:@\[\]-]*")
_MARKERS: Final = re.compile(r"\{\{|\{%|\{#")
# a string that is one `{{ expression }}` alone keeps its value's JSON type in a body
_ONE_EXPRESSION: Final = re.compile(r"\{\{(?P<expression>(?:(?!\{\{|\}\}|\{%|\{#).)*)\}\}", re.S)
_EXAMPLE: Final = '"https://api.example.com/orders/{{ match.number }}"'


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
    wrong = origin_problem(literal, templated=marker is not None)
    if wrong is not None:
        compiler.problem(path, wrong)
        return None
    template = compiler.template(source, path, UrlTemplate)
    return template if isinstance(template, UrlTemplate) else None


def origin_problem(literal: str, *, templated: bool) -> str | None:
    """What is wrong with where a URL goes, or None.

    `literal` is the URL up to its first `{{` (all of it when `templated` is False). The
    scheme and the host (and port) must be written out there and end with '/', '?' or '#'
    before any template, or come whole from one `${VAR}` (the author's, like the flow file);
    then no value a template prints can change the host.
    """
    base = _ENV_BASE.match(literal)
    if base is not None:
        if templated and not any(mark in literal[base.end() :] for mark in "/?#"):
            return (
                f"a template follows {base.group()} with no '/' between them, so what it"
                " prints would become part of the host; write"
                f' "{base.group()}/orders/{{{{ match.number }}}}"'
            )
        return None
    if literal[:1].isspace():
        return "starts with a space; take it out"
    scheme = _SCHEME.match(literal)
    if scheme is None:
        partial = literal.lower()
        if templated and ("https://".startswith(partial) or "http://".startswith(partial)):
            return (
                "the scheme and host come from a template; write them out, such as"
                f' {_EXAMPLE} (or take them from the environment: "${{API_BASE}}/orders/..."),'
                " so that what a person types can never change where the request goes"
            )
        written = partial.partition(":")[0]
        if partial.startswith(("http:", "https:")):
            return f'is not an absolute URL: write "//" after "{written}:", then the host'
        return (
            "is not an absolute URL: start it with https:// (or http://) and the host, such"
            f" as {_EXAMPLE}"
        )
    name = scheme.group("scheme")
    if name.lower() not in ("http", "https"):
        return f"is a {name}: URL; an http step calls http:// or https:// URLs only"
    rest = literal[scheme.end() :]
    end = next((index for index, char in enumerate(rest) if char in "/?#"), None)
    authority = rest if end is None else rest[:end]
    if end is None and templated:
        if not authority:
            return (
                f"the host comes from a template; write it out, such as {_EXAMPLE}, so that"
                " what a person types can never change where the request goes"
            )
        if authority.endswith(":"):
            return (
                "the port comes from a template; write it out, such as"
                f' "{name}://{authority}8080/{{{{ match.number }}}}"'
            )
        return (
            f"a template follows the host {authority!r} with no '/' between them, so what it"
            f' prints would become part of the host; write "{name}://{authority}/'
            '{{ match.number }}"'
        )
    return _authority_problem(authority, name)


def _authority_problem(authority: str, scheme: str) -> str | None:
    """What is wrong with a written-out `user:password@host:port`, or None (the user and
    password are never shown: they may be a secret)."""
    userinfo, _, host = authority.rpartition("@")
    if not host:
        return f"has no host after {scheme}://; write one, such as {_EXAMPLE}"
    if _AUTHORITY.sub("", _ENV_BASE.sub("", userinfo)):
        return (
            "the user or password before '@' holds a character a URL cannot have there;"
            " percent-encode it, or send it in a header"
        )
    stray = _AUTHORITY.sub("", _ENV_BASE.sub("", host))
    if stray:
        return (
            f"the host {host!r} has {stray[0]!r} in it, which no host name has; the host ends"
            " at the first '/', '?' or '#'"
        )
    port = _port(host)
    if port is not None and "${" not in port and not (port.isdigit() and 0 < int(port) < 65536):
        return f"the port {port!r} is not a port number: 1 to 65535, such as {scheme}://host:8080/"
    return None


def _port(host: str) -> str | None:
    """The port written after `host` (`api.example.com:8080`, `[::1]:8080`), or None."""
    if host.startswith("["):  # an IPv6 address
        after = host[host.find("]") + 1 :]
        return after[1:] if after.startswith(":") else None
    return host.rpartition(":")[2] if ":" in host else None


def _headers(
    compiler: StepCompiler, spec: Mapping[str, Any], path: str
) -> tuple[tuple[str, RequestTemplate], ...]:
    headers = []
    for name, value in spec.items():
        where = f"{path}.{name}"
        if not _HEADER_NAME.fullmatch(name):
            compiler.problem(
                where,
                f"{name!r} is not an HTTP header name: use letters, digits and '-' (such as"
                " X-Api-Key), with no space or ':'",
            )
            continue
        why = _RESERVED_HEADERS.get(name.lower())
        if why is not None:
            compiler.problem(where, f"the runtime sets {name} itself ({why}); leave it out")
            continue
        text = str(value)
        wrong = _header_value_problem(text)
        if wrong is not None:
            compiler.problem(where, wrong)
            continue
        if _names_secret(name) and text.strip() and not _ENV_BASE.search(text):
            compiler.problems.append(_written_secret(compiler.file, where, name))
        template = compiler.template(text, where, RequestTemplate)
        if isinstance(template, RequestTemplate):
            headers.append((name, template))
    return tuple(headers)


def _names_secret(header: str) -> bool:
    """Authorization, X-Api-Key, X-Auth-Token...: a header that carries a credential."""
    name = header.lower()
    return name.endswith("authorization") or any(word in name for word in _SECRET_WORDS)


def _written_secret(file: str, path: str, header: str) -> Problem:
    variable = header.upper().replace("-", "_")
    example = "Bearer ${ORDERS_TOKEN}" if variable.endswith("AUTHORIZATION") else f"${{{variable}}}"
    return Problem(
        file=file,
        path=path,
        message=(
            f"{header} is written in the flow file, so whoever reads the file has it; take it"
            f' from the environment instead, such as "{example}" (filled in as the request'
            " leaves, never logged)"
        ),
        severity=Severity.WARNING,
    )


def _header_value_problem(text: str) -> str | None:
    """A header value is one line: the caller refuses a control character in it at call
    time (`http_calls.py`), so one written in the flow is an error now."""
    if "\r" in text or "\n" in text:
        return "a header value is one line: take the line break out"
    if has_control_character(text):
        return "a header value is text: take the control character out"
    return None


def has_control_character(text: str) -> bool:
    """A character a header value may not hold (a tab aside): checked when the flow is
    compiled, and again on the value rendered when the call is made (`http_calls.py`)."""
    return any((ord(char) < 32 and char != "\t") or ord(char) == 127 for char in text)


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
