"""Small operations on JSON Schema keywords: merging allOf parts, type tests, numeric limits.

The generator in `jsongen` builds on these, and `strict_schema` shares the type tests; each
one reads or combines keywords without generating anything.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import jsonschema_rs

ROOT_URI = "urn:chat-emulator:schema"  # the name the root schema gets in a validator registry
KEYWORD_TYPES = (  # which keywords imply which type when a schema gives none
    (
        "object",
        (
            "properties",
            "required",
            "additionalProperties",
            "patternProperties",
            "minProperties",
            "maxProperties",
            "propertyNames",
            "dependentRequired",
        ),
    ),
    ("array", ("items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains")),
    ("string", ("minLength", "maxLength", "pattern", "format")),
    ("number", ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")),
)

_PYTHON_TYPES: dict[str, type | tuple[type, ...]] = {
    "null": type(None),
    "string": str,
    "number": (int, float),
    "object": Mapping,
    "array": list,
    "boolean": bool,
}
_LARGEST = {"minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains"}
_SMALLEST = {"maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains"}
_SUBSCHEMAS = {"items", "additionalItems", "additionalProperties", "propertyNames", "contains"}
_ANNOTATIONS = {
    "title",
    "description",
    "default",
    "examples",
    "$comment",
    "$schema",
    "$id",
    "$anchor",
    "$defs",
    "definitions",
    "deprecated",
    "readOnly",
    "writeOnly",
}


def merge_keyword(merged: dict[str, Any], key: str, value: Any, unmerged: list[Any]) -> None:
    """Fold one keyword of an allOf part into `merged`; what cannot fold goes to `unmerged`."""
    if key not in merged or key in _ANNOTATIONS or canonical(merged[key]) == canonical(value):
        merged.setdefault(key, value)
        return
    old = merged[key]
    if key in ("properties", "patternProperties"):
        merged[key] = {
            **old,
            **{k: {"allOf": [old[k], v]} if k in old else v for k, v in value.items()},
        }
    elif key == "required":
        merged[key] = list(dict.fromkeys([*old, *value]))
    elif key == "type":
        merged[key] = common_types(as_list(old), as_list(value))
    elif key == "enum":
        merged[key] = [v for v in old if canonical(v) in {canonical(w) for w in value}]
    elif key == "const":
        raise ValueError(f"allOf requires both const {old!r} and const {value!r}")
    elif key in _LARGEST | _SMALLEST and is_type(old, "number") and is_type(value, "number"):
        merged[key] = max(old, value) if key in _LARGEST else min(old, value)
    elif key == "uniqueItems":
        merged[key] = old or value
    elif key in _SUBSCHEMAS and key != "contains":
        merged[key] = {"allOf": [old, value]}
    elif key == "not":
        merged[key] = {"anyOf": [old, value]}
    elif key == "multipleOf" and is_type(old, "integer") and is_type(value, "integer"):
        merged[key] = math.lcm(int(old), int(value))
    else:
        unmerged.append({key: value})


def common_types(first: list[str], second: list[str]) -> list[str]:
    """The types both lists allow ("integer" is a "number")."""
    common = [t for t in first if t in second or (t == "integer" and "number" in second)]
    common += [t for t in second if t == "integer" and "number" in first and t not in common]
    if not common:
        raise ValueError(f"allOf requires a value of type {first} and of type {second}")
    return common


def types(schema: Mapping[str, Any]) -> list[str]:
    """The declared types, or the one the keywords imply; [] when any type goes."""
    declared = schema.get("type")
    if declared is None:
        return [t for t, keywords in KEYWORD_TYPES if any(k in schema for k in keywords)][:1]
    if not as_list(declared):
        raise ValueError("'type' is an empty list, which no value matches")
    return as_list(declared)


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def is_type(value: Any, name: str) -> bool:
    """JSON Schema's type test: 1.0 is an integer, True is no number."""
    if isinstance(value, bool):
        return name == "boolean"
    if name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    return isinstance(value, _PYTHON_TYPES.get(name, ()))


def is_null(schema: Any) -> bool:
    return isinstance(schema, Mapping) and schema.get("type") == "null"


def recursion_risk(schema: Any) -> int:
    """0 for a null branch, 1 for one without `$ref` (it ends), 2 for one that may recurse."""
    return 0 if is_null(schema) else 2 if "$ref" in repr(schema) else 1


def canonical(value: Any) -> str:
    """A key that is equal for values JSON Schema calls equal (1 and 1.0 are)."""

    def plain(v: Any) -> Any:
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, Mapping):
            return {k: plain(x) for k, x in v.items()}
        return [plain(x) for x in v] if isinstance(v, list) else v

    return json.dumps(plain(value), sort_keys=True, default=repr)


def absolute_refs(schema: Any) -> Any:
    """A copy of `schema` whose local `$ref`s name the root document, so they resolve anywhere."""
    if isinstance(schema, list):
        return [absolute_refs(s) for s in schema]
    if not isinstance(schema, Mapping):
        return schema
    return {
        key: ROOT_URI + value
        if key == "$ref" and str(value).startswith("#")
        else value
        if key in ("const", "enum", "default", "examples")  # data, not schemas
        else absolute_refs(value)
        for key, value in schema.items()
    }


def limits(schema: Mapping[str, Any]) -> tuple[float, bool, float, bool]:
    """(low, low is exclusive, high, high is exclusive) from minimum, maximum, exclusive*."""
    low, high = schema.get("minimum", -math.inf), schema.get("maximum", math.inf)
    low_open = high_open = False
    above, below = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if isinstance(above, bool):  # draft 4: a flag that makes `minimum` exclusive
        low_open = above
    elif above is not None and above >= low:
        low, low_open = above, True
    if isinstance(below, bool):
        high_open = below
    elif below is not None and below <= high:
        high, high_open = below, True
    return low, low_open, high, high_open


def fits_number(value: float, schema: Mapping[str, Any]) -> bool:
    """Whether `value` keeps the schema's bounds and multipleOf."""
    low, low_open, high, high_open = limits(schema)
    if value < low or value > high or (low_open and value == low) or (high_open and value == high):
        return False
    step = schema.get("multipleOf")
    if step is None:
        return True
    # Validators divide when a float is involved and call any fraction in the quotient a miss.
    if isinstance(step, float) or isinstance(value, float):
        return bool((value / step).is_integer())
    return value % step == 0


class PartChecker:
    """Validates values against parts of one root schema, with their local `$ref`s resolved."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.registry: jsonschema_rs.Registry | None = None
        # Keyed by id(part); the part is kept with its validator so that its id is not reused.
        self.validators: dict[int, tuple[Any, Any]] = {}

    def is_valid(self, value: Any, part: Any) -> bool:
        """Whether `value` is valid against `part`, a subschema of the root."""
        cached = self.validators.get(id(part))
        if cached is None:
            if self.registry is None:
                self.registry = jsonschema_rs.Registry([(ROOT_URI, dict(self.root))])
            validator = jsonschema_rs.validator_for(
                absolute_refs(part), registry=self.registry, validate_formats=True
            )
            cached = self.validators[id(part)] = (part, validator)
        return bool(cached[1].is_valid(value))
