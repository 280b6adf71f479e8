"""A JSON Schema (draft 2020-12) generated from a Cerberus schema, for editors."""

from __future__ import annotations

from typing import Any

from runtime.validation.schema import Rules, load_schema

_JSON_TYPES = {
    "string": "string",
    "integer": "integer",
    "float": "number",
    "number": "number",
    "boolean": "boolean",
    "list": "array",
    "dict": "object",
}


def json_schema(schema_name: str, *, title: str) -> dict[str, Any]:
    """The whole document: an object whose properties are the schema's top-level keys."""
    document: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
    }
    document.update(_object(load_schema(schema_name)))
    return document


def _object(fields: Rules) -> dict[str, Any]:
    properties = {name: _field(rules) for name, rules in fields.items()}
    required = sorted(name for name, rules in fields.items() if rules.get("required"))
    result: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        result["required"] = required
    return result


def _field(rules: Rules) -> dict[str, Any]:
    result: dict[str, Any] = {}
    meta = rules.get("meta", {})
    if "description" in meta:
        result["description"] = meta["description"]
    types = rules.get("type")
    names = types if isinstance(types, list) else [types] if types else []
    json_types = [_JSON_TYPES[name] for name in names if name in _JSON_TYPES]
    if rules.get("nullable") and json_types:  # `key: null` means something (profile: delete)
        json_types.append("null")
    if len(json_types) == 1:
        result["type"] = json_types[0]
    elif json_types:
        result["type"] = json_types
    if "allowed" in rules:
        result["enum"] = list(rules["allowed"])
    if "regex" in rules:
        result["pattern"] = rules["regex"]
    if "min" in rules:
        result["minimum"] = rules["min"]
    if "max" in rules:
        result["maximum"] = rules["max"]
    if rules.get("empty") is False and "string" in names:
        result["minLength"] = 1
    # Cerberus's minlength and maxlength count a list's items, a dict's entries or a string's
    # characters: JSON Schema has a word for each
    counted = "Items" if "list" in names else "Properties" if "dict" in names else "Length"
    if "minlength" in rules:
        result[f"min{counted}"] = rules["minlength"]
    if "maxlength" in rules:
        result[f"max{counted}"] = rules["maxlength"]
    children = rules.get("schema")
    if isinstance(children, dict) and "dict" in names:
        result.update({k: v for k, v in _object(children).items() if k != "type"})
    elif isinstance(children, dict) and "list" in names:
        result["items"] = _field(children)
    if "valuesrules" in rules:
        result["additionalProperties"] = _field(rules["valuesrules"])
    if "keysrules" in rules and "regex" in rules["keysrules"]:
        result["propertyNames"] = {"pattern": rules["keysrules"]["regex"]}
    return result
