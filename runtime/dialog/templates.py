"""Jinja templates and `when` expressions, compiled once in a sandbox.

Messenger is plain text, so autoescape is off. User text only ever reaches a template as data
in its context (`message.text`), never as template source. A string with no Jinja syntax is
kept as it is and never goes through Jinja at all. The sandbox is the immutable one: a
template reads variables but cannot change them (`vars.tags.append(1)` is refused); only a
`set` step does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Final, TypeAlias
from urllib.parse import quote

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


def _percent_encoded(value: object) -> str:
    """Every value a URL template prints is percent-encoded whole (`/`, `?`, `&`, `#`, `@`
    and `:` too), so what a person typed is one piece of data in the URL, never structure."""
    return "" if value is None else quote(str(value), safe="")


def escape_env_references(text: str) -> str:
    """`${` as a literal: a rendered value never names a secret (`$${` stands for `${`)."""
    return text.replace("${", "$${")


def _env_escaped(value: object) -> str:
    return "" if value is None else escape_env_references(str(value))


# an `http` step's URL: the values it prints are percent-encoded
URL_ENVIRONMENT: Final = ImmutableSandboxedEnvironment(
    autoescape=False, finalize=_percent_encoded, keep_trailing_newline=True
)
# an `http` step's headers and body: `${VAR}` in the flow file names a secret, filled in
# when the request leaves (runtime/http_calls.py); a `${` a rendered value prints does not
REQUEST_ENVIRONMENT: Final = ImmutableSandboxedEnvironment(
    autoescape=False, finalize=_env_escaped, keep_trailing_newline=True
)


def has_jinja_syntax(text: str) -> bool:
    """True if `text` is a template; False if it is sent exactly as written (a literal)."""
    return any(marker in text for marker in _JINJA_MARKERS)


class Template:
    """A compiled text template. `render` raises jinja2/sandbox errors for the caller to log."""

    __slots__ = ("_compiled", "source")
    environment: ClassVar[jinja2.Environment] = ENVIRONMENT

    def __init__(self, source: str) -> None:
        """Compile `source`; raises jinja2.TemplateSyntaxError (with `.lineno`)."""
        self.source = source
        self._compiled: jinja2.Template | None = None
        if has_jinja_syntax(source):
            self._compiled = self.environment.from_string(source)

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


class UrlTemplate(Template):
    """An `http` step's URL: every value it prints is percent-encoded."""

    __slots__ = ()
    environment = URL_ENVIRONMENT


class RequestTemplate(Template):
    """An `http` step's header or body text: a `${` a value prints is kept literal."""

    __slots__ = ()
    environment = REQUEST_ENVIRONMENT


class Expression:
    """A compiled `when` expression, such as `vars.email is defined`."""

    __slots__ = ("_compiled", "source")

    def __init__(self, source: str) -> None:
        """Compile `source`; raises jinja2.TemplateSyntaxError."""
        self.source = source
        self._compiled = ENVIRONMENT.compile_expression(source, undefined_to_none=False)

    def is_true(self, context: Mapping[str, object]) -> bool:
        return bool(self._compiled(**context))

    def value(self, context: Mapping[str, object]) -> object:
        """What the expression evaluates to (an undefined name is jinja2.Undefined)."""
        return self._compiled(**context)

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


def undeclared_names(source: str, *, expression: bool = False) -> frozenset[str]:
    """Top-level names a template or expression uses that are not in its context."""
    text = "{{ " + source + " }}" if expression else source
    names = jinja2.meta.find_undeclared_variables(ENVIRONMENT.parse(text))
    return frozenset(names - CONTEXT_NAMES - set(ENVIRONMENT.globals))


# a `json` body as compiled: JSON whose strings may be templates or expressions
JsonTree: TypeAlias = (
    Template
    | Expression
    | str
    | int
    | float
    | bool
    | list["JsonTree"]
    | dict[str, "JsonTree"]
    | None
)


class JsonTemplate:
    """An `http` step's `json` body: a JSON value whose strings are templates.

    The compiler builds the tree (`runtime/step_compiler.py`): a string that is one
    `{{ expression }}` alone is an Expression and keeps its value's JSON type (a number stays
    a number, a list a list); any other string with Jinja is a RequestTemplate; the rest is
    kept as written.
    """

    __slots__ = ("tree",)

    def __init__(self, tree: JsonTree) -> None:
        self.tree = tree

    def render(self, context: Mapping[str, object]) -> object:
        """The body to send; raises what a template raises, for the caller to note."""
        return _render_tree(self.tree, context)

    def templates(self) -> list[Template | Expression]:
        """Every template and expression in the tree, in order (for the checks that read them)."""
        found: list[Template | Expression] = []
        _collect_templates(self.tree, found)
        return found


def _render_tree(tree: JsonTree, context: Mapping[str, object]) -> object:
    if isinstance(tree, Template):
        return tree.render(context)
    if isinstance(tree, Expression):
        return json_value(tree.value(context))
    if isinstance(tree, list):
        return [_render_tree(item, context) for item in tree]
    if isinstance(tree, dict):
        return {key: _render_tree(item, context) for key, item in tree.items()}
    return tree


def _collect_templates(tree: JsonTree, found: list[Template | Expression]) -> None:
    if isinstance(tree, Template | Expression):
        found.append(tree)
    elif isinstance(tree, list):
        for item in tree:
            _collect_templates(item, found)
    elif isinstance(tree, dict):
        for item in tree.values():
            _collect_templates(item, found)


def json_value(value: object) -> object:
    """A template value as JSON can carry it; strings escaped as RequestTemplate does."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, jinja2.Undefined):
        return None
    if isinstance(value, Mapping):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    return escape_env_references(str(value))
