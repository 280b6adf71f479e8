"""Cerberus schemas from `schemas/*.json5`, and their errors as `Problem`s with key paths.

The schema files are plain Cerberus rules written as JSON5 with two conventions of ours (see
the header of `schemas/config.json5`): named rule sets in `definitions`, merged with
`$extends`, and a `meta` mapping (`description`, `secret`, `hint`, `required`, `expected`)
that Cerberus ignores.
"""

from __future__ import annotations

import copy
import difflib
import functools
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any, ClassVar

import cerberus
import cerberus.errors
import pyjson5

from runtime.validation.problems import Problem, key_path

Rules = dict[str, Any]

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "float": "a number",
    "number": "a number",
    "boolean": "true or false",
    "list": "a list",
    "dict": "an object",
}


def describe_value_type(value: object) -> str:
    """What a JSON5 value is, in the words a config author knows."""
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Sequence):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


@functools.cache
def load_schema(name: str) -> Rules:
    """The schema `schemas/<name>.json5`, with every `$extends` resolved."""
    text = resources.files("runtime.schemas").joinpath(f"{name}.json5").read_text("utf-8")
    document = pyjson5.decode(text)  # the fast parser: json5 took a quarter second a command
    definitions: Mapping[str, Rules] = document.get("definitions", {})
    resolved: Rules = _resolve_extends(document["schema"], definitions)
    return resolved


def _resolve_extends(node: Any, definitions: Mapping[str, Rules]) -> Any:
    if isinstance(node, list):
        return [_resolve_extends(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    merged: Rules = {}
    base = node.get("$extends")
    if base is not None:
        merged.update(_resolve_extends(definitions[base], definitions))
    for key, value in node.items():
        if key != "$extends":
            merged[key] = _resolve_extends(value, definitions)
    return merged


class RuntimeValidator(cerberus.Validator):  # type: ignore[misc]
    """Cerberus with the coercions our schemas name (`coerce: "integer"`), and `true` no
    integer (Cerberus takes a bool for one, as Python does: `max_retries: true` would be 1)."""

    types_mapping: ClassVar[dict[str, Any]] = {
        **cerberus.Validator.types_mapping,
        "integer": cerberus.TypeDefinition("integer", (int,), (bool,)),
    }

    def _normalize_coerce_integer(self, value: object) -> object:
        # `${PORT}` arrives as a string: accept digits, leave anything else for `type` to report
        if isinstance(value, str) and value.strip().isdigit():
            return int(value.strip())
        return value


def validate_document(
    document: Mapping[str, object],
    schema_name: str,
    *,
    file: str,
    secrets: frozenset[str] = frozenset(),
) -> tuple[dict[str, object], list[Problem]]:
    """Validate and normalize a document; return the normalized copy and every problem.

    Values of fields the schema marks `secret`, and any value containing one of `secrets`
    (say, a token pasted into the wrong key), never appear in a message.
    """
    schema = load_schema(schema_name)
    validator = RuntimeValidator(schema, allow_unknown=False)
    ok = validator.validate(dict(document))
    normalized: dict[str, object] = validator.document if validator.document else dict(document)
    if ok:
        return normalized, []
    hidden = secrets | secret_values(document, schema)
    problems = [
        _problem_for(error, schema, file, hidden) for error in _leaf_errors(validator._errors)
    ]
    return normalized, sorted(problems, key=lambda problem: problem.path)


def secret_values(document: object, schema: Rules) -> frozenset[str]:
    """Every string the document holds in a field whose rules say `meta.secret`."""
    found: set[str] = set()

    def walk(value: object, rules: Rules) -> None:
        if rules.get("meta", {}).get("secret") and isinstance(value, str) and value:
            found.add(value)
        children = rules.get("schema")
        if isinstance(value, Mapping) and isinstance(children, dict):
            for key, item in value.items():
                if isinstance(children.get(key), dict):
                    walk(item, children[key])
        if isinstance(value, Mapping) and isinstance(rules.get("valuesrules"), dict):
            for item in value.values():
                walk(item, rules["valuesrules"])
        if isinstance(value, list) and isinstance(children, dict):
            for item in value:
                walk(item, children)

    walk(document, {"type": "dict", "schema": schema})
    return frozenset(found)


def drop_invalid(document: Mapping[str, object], problems: Sequence[Problem]) -> dict[str, object]:
    """A copy of `document` without the values `problems` point at.

    Later steps (account resolution, compiling) then see only values of the right shape, and
    a mistake is reported once, by the schema, not again by each step that trips over it.
    """
    pruned: Any = copy.deepcopy(dict(document))
    # deepest and last first, so deleting a list item does not shift the next one to delete
    paths = sorted(
        (tuple(_as_index(part) for part in problem.path.split(".")) for problem in problems),
        key=lambda parts: (len(parts), parts[-1] if isinstance(parts[-1], int) else -1),
        reverse=True,
    )
    for parts in paths:
        parent = pruned
        for part in parts[:-1]:
            try:
                parent = parent[part]
            except (KeyError, IndexError, TypeError):
                parent = None
                break
        if isinstance(parent, dict):
            parent.pop(parts[-1], None)
        elif isinstance(parent, list) and isinstance(parts[-1], int) and parts[-1] < len(parent):
            del parent[parts[-1]]
    result: dict[str, object] = pruned
    return result


def _as_index(part: str) -> str | int:
    return int(part) if part.isdigit() else part


def _leaf_errors(errors: Sequence[cerberus.errors.ValidationError]) -> list[Any]:
    leaves: list[Any] = []
    for error in errors:
        if error.is_group_error and error.child_errors:
            leaves.extend(_leaf_errors(error.child_errors))
        else:
            leaves.append(error)
    return leaves


def _schema_node(schema: Rules, schema_path: Sequence[object]) -> Any:
    """Follow a Cerberus `schema_path` from the top of `schema`; None if it leads nowhere."""
    node: Any = schema
    for part in schema_path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _problem_for(error: Any, schema: Rules, file: str, hidden: frozenset[str]) -> Problem:
    path = tuple(error.document_path)
    if error.code == cerberus.errors.UNKNOWN_FIELD.code:
        # its schema_path leads to the mapping of the keys that are allowed there
        known = _schema_node(schema, error.schema_path)
        message = _unknown_key_message(str(path[-1]), known if isinstance(known, dict) else {})
    else:
        rules = _schema_node(schema, error.schema_path[:-1])
        meta = rules.get("meta", {}) if isinstance(rules, dict) else {}
        secret = bool(meta.get("secret")) or (
            isinstance(error.value, str) and any(value in error.value for value in hidden)
        )
        if error.code == cerberus.errors.REQUIRED_FIELD.code:
            message = _required_message(str(path[-1]), rules if isinstance(rules, dict) else {})
        else:
            message = _message(error, meta, secret=secret)
    return Problem(file=file, path=key_path(path), message=message)


def _required_message(key: str, rules: Rules) -> str:
    """`is required: ...` and how to add it: the schema's `meta.required` sentence, else the
    key and the kind of value it takes."""
    how = rules.get("meta", {}).get("required")
    if how:
        return f"is required: {how}"
    kinds = rules.get("type")
    names = [kinds] if isinstance(kinds, str) else list(kinds or [])
    shown = " or ".join(_TYPE_NAMES.get(str(name), str(name)) for name in names)
    return f"is required: add `{key}`" + (f" ({shown})" if shown else "")


def _message(error: Any, meta: Mapping[str, Any], *, secret: bool) -> str:
    """One rule's failure as a sentence; a `secret` value is never shown."""
    code = error.code
    value = error.value
    shown = _shown(value, secret=secret)
    if code == cerberus.errors.BAD_TYPE.code:
        expected = error.constraint if isinstance(error.constraint, list) else [error.constraint]
        names = " or ".join(_TYPE_NAMES.get(str(name), str(name)) for name in expected)
        # `meta.expected`, where the type alone would not say what to write (a duration)
        return f"expected {meta.get('expected') or names}, got {describe_value_type(value)}"
    if code == cerberus.errors.UNALLOWED_VALUE.code:
        return f"unknown value{shown}; expected one of {', '.join(map(str, error.constraint))}"
    if code == cerberus.errors.REGEX_MISMATCH.code:
        hint = meta.get("hint") or f"must match {error.constraint}"
        return f"invalid value{shown}: {hint}"
    if code == cerberus.errors.EMPTY_NOT_ALLOWED.code:
        return "must not be empty"
    if code == cerberus.errors.NOT_NULLABLE.code:
        return "must not be null"
    fits = f": {meta['hint']}" if meta.get("hint") else ""  # the unit, the range: what fits
    if code == cerberus.errors.MIN_VALUE.code:
        return f"must be at least {error.constraint}, got{shown or ' a smaller value'}{fits}"
    if code == cerberus.errors.MAX_VALUE.code:
        return f"must be at most {error.constraint}, got{shown or ' a larger value'}{fits}"
    if code == cerberus.errors.MIN_LENGTH.code and not len(value) and meta.get("hint"):
        return f"is empty: {meta['hint']}"
    if code == cerberus.errors.MIN_LENGTH.code:
        return f"must have at least {_counted(value, error.constraint)}, has {len(value)}"
    if code == cerberus.errors.MAX_LENGTH.code:
        return f"must have at most {_counted(value, error.constraint)}, has {len(value)}"
    return f"breaks the schema rule {error.rule!r}"


_LONGEST_SHOWN = 32


def _shown(value: object, *, secret: bool) -> str:
    """The value for a message: never a secret field's, nor a long string (a pasted token?)."""
    if secret:
        return ""
    text = repr(value)
    if len(text) > _LONGEST_SHOWN:
        return f" ({len(str(value))} characters)" if isinstance(value, str) else ""
    return f" {text}"


def _counted(value: object, number: int) -> str:
    """`3 items`, `1 entry`, `20 characters`: what a length counts in `value`."""
    if isinstance(value, str):
        noun = "character"
    else:
        noun = "entry" if isinstance(value, Mapping) else "item"
    if number != 1:
        noun = "entries" if noun == "entry" else noun + "s"
    return f"{number} {noun}"


def _unknown_key_message(key: str, allowed: Mapping[str, object]) -> str:
    known = sorted(allowed)
    message = "unknown key"
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        message += f"; did you mean `{close[0]}`?"
    elif known:
        message += f"; expected one of {', '.join(known)}"
    return message
