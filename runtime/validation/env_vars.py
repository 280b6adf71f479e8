"""The `${VAR}`s the flows' `http` steps name, against the environment: warnings, never values.

An `http` step's secrets stay `${VAR}` in the compiled Bot and are filled in as each request
leaves (`runtime/http_calls.py`), so a variable that is not set breaks nothing at start: each
call that needs it fails (`ok: false`, its `on_error` flow). That is a warning, not an error:
CI often validates without the production secrets. One warning a variable, at the first
string that names it (the others listed), so `runtime serve` logs one line for each.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Final

from runtime.bot import CompiledFlow, HttpStep
from runtime.config.json5file import env_names_in
from runtime.dialog.templates import Expression, JsonTree, Template
from runtime.validation.problems import Problem, Severity

_BASE: Final = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LISTED: Final = 3  # other places named in a warning; past that, a count


def unset_env_warnings(flows: Iterable[CompiledFlow], environ: Mapping[str, str]) -> list[Problem]:
    """A warning for each `${VAR}` some `http` step names that `environ` does not set, and for
    each one that starts a URL but holds no http(s) URL. Values never appear."""
    places: dict[str, list[tuple[str, str]]] = {}
    bases: dict[str, tuple[str, str]] = {}  # `${VAR}` starting a URL -> where, first time
    for flow in flows:
        for step in flow.steps:
            if not isinstance(step, HttpStep):
                continue
            for path, text in _strings(step):
                for name in sorted(env_names_in(text)):
                    places.setdefault(name, []).append((flow.file, path))
            base = _base_name(step.url.source)
            if base is not None:
                bases.setdefault(base, (flow.file, f"{step.source.key_path}.http.url"))
    warnings = [_unset(name, where) for name, where in places.items() if name not in environ]
    for name, (file, path) in bases.items():
        value = environ.get(name)
        if value is not None and not value.lower().startswith(("http://", "https://")):
            message = (
                f"environment variable {name} starts this URL but does not hold an http:// or"
                " https:// URL (its value is not shown), so the call fails (ok: false); set it"
                ' to one such as "https://api.example.com"'
            )
            warnings.append(_warning(file, path, message))
    return warnings


def _unset(name: str, places: list[tuple[str, str]]) -> Problem:
    (file, path), *others = places
    message = (
        f"environment variable {name} is not set, so this call fails (ok: false, or its"
        " on_error flow) until it is; set it where `runtime serve` runs"
    )
    if others:
        listed = ", ".join(
            where if other == file else f"{other} {where}" for other, where in others[:_LISTED]
        )
        more = len(others) - _LISTED
        message += f" (also named in {listed}" + (f" and {more} more)" if more > 0 else ")")
    return _warning(file, path, message)


def _warning(file: str, path: str, message: str) -> Problem:
    return Problem(file=file, path=path, message=message, severity=Severity.WARNING)


def _base_name(url: str) -> str | None:
    """VAR when `url` starts with `${VAR}` (the whole scheme and host from the environment)."""
    found = _BASE.match(url)
    return found.group(1) if found else None


def _strings(step: HttpStep) -> Iterator[tuple[str, str]]:
    """(key path, text as written) of every string of the request: URL, headers, body."""
    path = f"{step.source.key_path}.http"
    yield f"{path}.url", step.url.source
    for name, value in step.headers:
        yield f"{path}.headers.{name}", value.source
    if step.body is not None:
        yield from _body_strings(f"{path}.json", step.body.tree)


def _body_strings(path: str, tree: JsonTree) -> Iterator[tuple[str, str]]:
    if isinstance(tree, str):
        yield path, tree
    elif isinstance(tree, Template | Expression):
        yield path, tree.source
    elif isinstance(tree, list):
        for number, item in enumerate(tree):
            yield from _body_strings(f"{path}.{number}", item)
    elif isinstance(tree, dict):
        for key, item in tree.items():
            yield from _body_strings(f"{path}.{key}", item)
