"""Jinja templates and `when` expressions, compiled once in a sandbox.

Messenger is plain text, so autoescape is off. User text only ever reaches a template as data
in its context (`message.text`), never as template source. A string with no Jinja syntax is
kept as it is and never goes through Jinja at all. The sandbox is the immutable one: a
template reads variables but cannot change them (`vars.tags.append(1)` is refused); only a
`set` step does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import jinja2
import jinja2.meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

# the names every template sees; anything else a template names is a warning at validate time
CONTEXT_NAMES: Final = frozenset({"user", "message", "match", "vars", "account"})


def _finalize(value: object) -> object:
    return "" if value is None else value  # `{{ message.text }}` of a tap prints nothing


ENVIRONMENT: Final = ImmutableSandboxedEnvironment(
    autoescape=False,
    undefined=jinja2.Undefined,
    finalize=_finalize,
    keep_trailing_newline=True,
)
_JINJA_MARKERS: Final = ("{{", "{%", "{#")


def has_jinja_syntax(text: str) -> bool:
    """True if `text` is a template; False if it is sent exactly as written (a literal)."""
    return any(marker in text for marker in _JINJA_MARKERS)


class Template:
    """A compiled text template. `render` raises jinja2/sandbox errors for the caller to log."""

    __slots__ = ("_compiled", "source")

    def __init__(self, source: str) -> None:
        """Compile `source`; raises jinja2.TemplateSyntaxError (with `.lineno`)."""
        self.source = source
        self._compiled: jinja2.Template | None = None
        if has_jinja_syntax(source):
            self._compiled = ENVIRONMENT.from_string(source)

    @property
    def is_literal(self) -> bool:
        """True when the text has no Jinja syntax: what you see is what is sent."""
        return self._compiled is None

    def render(self, context: Mapping[str, object]) -> str:
        if self._compiled is None:
            return self.source
        return self._compiled.render(context)

    def __repr__(self) -> str:
        return f"Template({self.source!r})"


class Expression:
    """A compiled `when` expression, such as `vars.email is defined`."""

    __slots__ = ("_compiled", "source")

    def __init__(self, source: str) -> None:
        """Compile `source`; raises jinja2.TemplateSyntaxError."""
        self.source = source
        self._compiled = ENVIRONMENT.compile_expression(source, undefined_to_none=False)

    def is_true(self, context: Mapping[str, object]) -> bool:
        return bool(self._compiled(**context))

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


def undeclared_names(source: str, *, expression: bool = False) -> frozenset[str]:
    """Top-level names a template or expression uses that are not in its context."""
    text = "{{ " + source + " }}" if expression else source
    names = jinja2.meta.find_undeclared_variables(ENVIRONMENT.parse(text))
    return frozenset(names - CONTEXT_NAMES - set(ENVIRONMENT.globals))
