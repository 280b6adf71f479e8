"""Which of the person's profile fields (`user.first_name`...) the bot's templates use.

The worker asks the User Profile API for these fields only, and for none when no template
uses one: `locale` and `timezone` need other permissions than the name, and a field the app
may not read can fail the whole request. The answer comes from the templates' Jinja syntax
trees, so every way of naming a field counts:

    {{ user.first_name or 'there' }}            first_name
    {{ user["locale"] | default("en_US") }}     locale
    when: "user.get('timezone', 0) > 3"         timezone
    {{ user.psid }}                             nothing: not a profile field

`user` used whole (`{% set u = user %}`, `{{ user }}`, `user[vars.key]`, `user.items()`)
may read any field, so it counts as all of them. Pairing messages are not looked at: they
are rendered without `user`, before the person is admitted, and nothing is fetched for them.

A text written by locale (`{ default: "Hi!", fr: "Salut !" }`) uses `locale`: the person's
profile chooses the language, when `vars.locale` does not.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import jinja2
from jinja2 import nodes

from runtime.bot import CompiledFlow
from runtime.dialog.templates import ENVIRONMENT, Expression, JsonTemplate, Template
from runtime.texts import Text

# Meta's names (the User Profile API's `fields=`), as templates write them after `user.`
PROFILE_FIELDS: Final = ("first_name", "last_name", "name", "profile_pic", "locale", "timezone")
_ALL: Final = frozenset(PROFILE_FIELDS)
_USER: Final = "user"
_LOCALE: Final = "locale"
_BY_LOCALE: Final = "(a text by locale)"  # the walk's mark for one, compared by identity
# field annotations (strings, under `from __future__ import annotations`) that hold no template
_PLAIN_TYPES: Final = frozenset({"str", "int", "float", "bool", "str | None", "StepSource"})
_MAPPING_METHODS: Final = frozenset(name for name in dir(dict) if not name.startswith("__"))
# how to reach inside a value of each type met (`_parts_of`): the walk costs ~5 us a flow
_PARTS: dict[type, Callable[[Any], Iterable[object]]] = {}


def used_user_fields(flows: Iterable[CompiledFlow]) -> frozenset[str]:
    """The profile fields some template or `when` expression of `flows` uses (and `locale`
    when some text is written by locale)."""
    found: set[str] = set()
    for source, expression in _templates_in([flow.steps for flow in flows]):
        if source is _BY_LOCALE:
            found.add(_LOCALE)
        else:
            found |= template_user_fields(source, expression=expression)
    return frozenset(found)


def template_user_fields(source: str, *, expression: bool = False) -> frozenset[str]:
    """The profile fields one template (or `when` expression) uses; empty if it cannot parse
    (the compiler reports that)."""
    if _USER not in source:  # most templates: no parse needed
        return frozenset()
    try:
        tree = ENVIRONMENT.parse("{{ " + source + " }}" if expression else source)
    except jinja2.TemplateSyntaxError:
        return frozenset()
    found: set[str] = set()
    _collect(tree, found)
    return frozenset(found)


def _collect(node: nodes.Node, found: set[str]) -> None:
    if isinstance(node, nodes.Getattr) and _is_user(node.node):
        found |= _named(node.attr)
        return
    if isinstance(node, nodes.Getitem) and _is_user(node.node):
        if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            found |= _named(node.arg.value)
            return
        found |= _ALL  # user[vars.key]: any field
        _collect(node.arg, found)
        return
    call = _user_get(node)
    if call is not None:
        first = call.args[0]
        found |= _named(first.value) if isinstance(first, nodes.Const) else _ALL
        for rest in (*call.args[1:], *call.kwargs):
            _collect(rest, found)
        return
    if _is_user(node):  # the mapping itself: an alias, a loop, printed whole
        found |= _ALL
        return
    for child in node.iter_child_nodes():
        _collect(child, found)


def _named(key: str) -> frozenset[str]:
    """What `user.<key>` reads: a profile field, all of them (a method such as `items`), or
    nothing (`psid`, `id`, a typo: undefined either way)."""
    if key in _ALL:
        return frozenset((key,))
    return _ALL if key in _MAPPING_METHODS else frozenset()


def _is_user(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == _USER and node.ctx == "load"


def _user_get(node: nodes.Node) -> nodes.Call | None:
    """`node` if it is `user.get("locale")` or `user.get("locale", "en_US")`."""
    if (
        isinstance(node, nodes.Call)
        and isinstance(node.node, nodes.Getattr)
        and node.node.attr == "get"
        and _is_user(node.node.node)
        and node.args
    ):
        return node
    return None


def _templates_in(values: list[object]) -> list[tuple[str, bool]]:
    """Every template and expression that mentions `user`, held at any depth by `values`
    (compiled steps): (source, is it an expression). Walking the dataclasses, not a list of
    step kinds, keeps this right when a step kind is added."""
    found: list[tuple[str, bool]] = []
    stack = values
    while stack:
        value = stack.pop()
        if isinstance(value, Template):
            if _USER in value.source and not value.is_literal:
                found.append((value.source, False))
        elif type(value) is Expression:
            if _USER in value.source:
                found.append((value.source, True))
        elif isinstance(value, Text):
            if len(value.locales) > 1:
                found.append((_BY_LOCALE, False))
            stack.extend(value)
        else:
            kind = type(value)
            inside = _PARTS.get(kind)
            if inside is None:
                inside = _PARTS[kind] = _parts_of(kind)
            stack.extend(inside(value))
    return found


def _parts_of(kind: type) -> Callable[[Any], Iterable[object]]:
    """How to reach what a value of `kind` holds: the items of a collection, the fields of a
    dataclass (a step, a button...) but those that are plain text, nothing of the rest."""
    if issubclass(kind, tuple | list | set | frozenset):
        return iter
    if issubclass(kind, Mapping):
        return lambda mapping: mapping.values()
    if issubclass(kind, JsonTemplate):
        return lambda body: [body.tree]
    if dataclasses.is_dataclass(kind):
        names = [f.name for f in dataclasses.fields(kind) if f.type not in _PLAIN_TYPES]
        return lambda value: [getattr(value, name) for name in names]
    return lambda _: ()
