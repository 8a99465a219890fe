"""The rules OpenAI applies to `strict: true` schemas (structured outputs, strict function tools).

`strict_schema_problem` returns the real API's message fragment for the first rule a schema
breaks; the caller wraps it as "Invalid schema for response_format '<name>': <fragment>" or
"Invalid schema for function '<name>': <fragment>". Wordings come from real 400s quoted in
public issues (see the protocol reference, §4); the two size limits are OpenAI's documented
ones, worded by us.

Keywords are refused from a deny-list of those the Structured Outputs guide lists as
unsupported and those real 400s have named; anything else (title, $comment, ...) passes, so
the emulator is never stricter than the server it stands in for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emulator import schemaops

__all__ = ["strict_schema_problem"]

MAX_NESTING = 10  # object levels, as documented
MAX_PROPERTIES = 5000  # object properties in the whole schema, as documented

# Named in the guide's "not yet supported" list or in real 400s ("'minLength' is not
# permitted", "'uniqueItems' ...", "'default' ...", "'propertyNames' ...", "'oneOf' ...").
NOT_PERMITTED = frozenset({
    "allOf", "oneOf", "not", "if", "then", "else", "dependentRequired", "dependentSchemas",
    "patternProperties", "propertyNames", "minProperties", "maxProperties",
    "unevaluatedProperties", "unevaluatedItems", "contains", "minContains", "maxContains",
    "uniqueItems", "minLength", "maxLength", "default",
})  # fmt: skip
FORMATS = frozenset({
    "date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid",
})  # fmt: skip

_Context = tuple[str, ...]

# The keywords this module reads into, and the JSON type each must have to be read at all
# (wording ours: a schema that breaks one is no JSON Schema, whatever strict mode says).
_SHAPES: tuple[tuple[str, type, str], ...] = (
    ("properties", Mapping, "an object"),
    ("$defs", Mapping, "an object"),
    ("definitions", Mapping, "an object"),
    ("anyOf", list, "an array"),
    ("enum", list, "an array"),
    ("format", str, "a string"),
)


def strict_schema_problem(schema: Mapping[str, Any]) -> str | None:
    """The API's message for the first strict-mode rule `schema` breaks, or None.

    >>> strict_schema_problem({"type": "object", "properties": {}})
    "In context=(), 'additionalProperties' is required to be supplied and to be false."
    """
    root_type = schema.get("type") if isinstance(schema, Mapping) else None
    if root_type != "object":
        return f"schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{root_type}\"'."
    if "anyOf" in schema:
        return _at((), "'anyOf' is not permitted.")
    count = _count_properties(schema)
    if count > MAX_PROPERTIES:
        return (
            f"The schema has {count} object properties in total, "
            f"more than the limit of {MAX_PROPERTIES}."
        )
    return _problem(schema, (), 0)


def _at(context: _Context, message: str) -> str:
    return f"In context={context!r}, {message}"


def _problem(schema: Any, context: _Context, nesting: int) -> str | None:
    """The first problem in `schema`, found at `context` below `nesting` object levels."""
    if not isinstance(schema, Mapping):
        return _at(context, "schema must have a 'type' key.")
    if "$ref" in schema:
        extra = sorted(k for k in schema if k != "$ref")
        if extra:
            return _at(context, f"$ref cannot have keywords {{{', '.join(map(repr, extra))}}}.")
    forbidden = next((key for key in schema if key in NOT_PERMITTED), None)
    if forbidden:
        return _at(context, f"'{forbidden}' is not permitted.")
    if "type" not in schema and "$ref" not in schema and "anyOf" not in schema:
        return _at(context, "schema must have a 'type' key.")
    return (
        _malformed(schema, context)
        or _own_problem(schema, context, nesting)
        or _children_problem(schema, context, nesting)
    )


def _malformed(schema: Mapping[str, Any], context: _Context) -> str | None:
    """A keyword read below whose value has the wrong JSON type (`properties: 5`)."""
    for key, kind, noun in _SHAPES:
        if key in schema and not isinstance(schema[key], kind):
            return _at(context, f"'{key}' must be {noun}.")
    if not all(isinstance(t, str) for t in _types(schema)):
        return _at(context, "'type' must be a string or an array of strings.")
    return None


def _own_problem(schema: Mapping[str, Any], context: _Context, nesting: int) -> str | None:
    """What is wrong with this node itself, its subschemas aside."""
    types = _types(schema)
    for i, kind in enumerate(types):
        # A list of types is checked one type at a time, at the type's index.
        where = (*context, "type", str(i)) if len(types) > 1 else context
        if kind == "object":
            problem = _object_problem(schema, where, nesting + 1)
            if problem:
                return problem
        elif kind == "array" and "items" not in schema:
            return _at(where, "array schema missing items.")
    for value in schema.get("enum", ()):
        if types and not any(schemaops.is_type(value, t) for t in types):
            expected = {"type": schema["type"]}
            return _at(context, f"enum value {value} does not validate against {expected!r}.")
    fmt = schema.get("format")
    if fmt is not None and fmt not in FORMATS:
        return _at(context, f"'{fmt}' is not a valid format.")
    return None


def _object_problem(schema: Mapping[str, Any], context: _Context, level: int) -> str | None:
    if level > MAX_NESTING:  # wording ours: no real 400 for it has been published
        return _at(context, f"objects are nested more than {MAX_NESTING} levels deep.")
    if schema.get("additionalProperties") is not False:
        return _at(context, "'additionalProperties' is required to be supplied and to be false.")
    required = schema.get("required")
    listed = required if isinstance(required, list) else []
    missing = [key for key in schema.get("properties", {}) if key not in listed]
    if missing:
        return _at(
            context,
            "'required' is required to be supplied and to be an array including every key in "
            f"properties. Missing {missing[0]!r}.",
        )
    return None


def _children_problem(schema: Mapping[str, Any], context: _Context, nesting: int) -> str | None:
    """The first problem among the subschemas: $defs, properties, items, anyOf branches."""
    below = nesting + ("object" in _types(schema))  # levels above this node's properties
    children: list[tuple[_Context, Any, int]] = []
    for defs in ("$defs", "definitions"):
        # A definition can be used at any depth; its own nesting counts from zero.
        children += [((*context, defs, name), sub, 0) for name, sub in schema.get(defs, {}).items()]
    for key, sub in schema.get("properties", {}).items():
        children.append(((*context, "properties", key), sub, below))
    if isinstance(schema.get("items"), Mapping):
        children.append(((*context, "items"), schema["items"], below))
    for i, sub in enumerate(schema.get("anyOf", ())):
        children.append(((*context, "anyOf", str(i)), sub, nesting))
    for where, sub, levels in children:
        problem = _problem(sub, where, levels)
        if problem:
            return problem
    return None


def _types(schema: Mapping[str, Any]) -> list[Any]:
    """The declared types (a keyword never implies one here: untyped nodes are refused)."""
    declared = schema.get("type")
    return schemaops.as_list(declared) if declared else []


def _count_properties(schema: Any) -> int:
    """How many object properties the whole schema declares, $defs included."""
    if isinstance(schema, list):
        return sum(_count_properties(s) for s in schema)
    if not isinstance(schema, Mapping):
        return 0
    own = len(schema["properties"]) if isinstance(schema.get("properties"), Mapping) else 0
    return own + sum(_count_properties(v) for k, v in schema.items() if k not in ("enum", "const"))
