"""The request schema, and the body it rejects described in the live API's words.

`schemas/chat-completions.request.json` is checked twice over. jsonschema_rs accepts a valid
body in a few microseconds; only a body it rejects goes through the pure-python `jsonschema`,
whose detailed errors give the live API's message, `param` and `code` for the first problem
(earliest in the body as sent).

    error = schema_problem(body)   # the OpenAIError to answer with, or None

The phrases every rejection shares (a missing parameter, the type of what came, a number as
the live API prints it) live here too, so validation.py words its own rules alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any, TypeGuard

import jsonschema_rs

from emulator.errors import OpenAIError, invalid_request
from emulator.located import dotted  # `param` is written as fixture problems write a path

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

_SCHEMA: dict[str, Any] = json.loads(
    files("emulator._schemas").joinpath("chat-completions.request.json").read_text("utf-8")
)
_FAST = jsonschema_rs.Draft202012Validator(_SCHEMA, validate_formats=False)


def fast_validator(*rules: dict[str, Any]) -> Any:
    """A jsonschema_rs validator of the request schema and `rules` besides (`allOf`)."""
    if not rules:
        return _FAST
    return jsonschema_rs.Draft202012Validator({**_SCHEMA, "allOf": list(rules)}, validate_formats=False)


@lru_cache(maxsize=1)
def _precise() -> Any:
    """The pure-python validator, imported and built on the first rejection (~0.05 s of start-up)."""
    import jsonschema

    return jsonschema.Draft202012Validator(_SCHEMA)


# The top-level parameters the schema declares.
PARAMETERS = frozenset(_SCHEMA["properties"])
# Keys that tell the branches of a union apart: a message by its role, a part or tool by type.
_DISCRIMINATORS = ("role", "type")
# Among errors at the same place, the one the live API names first.
_RANK = {"required": 0, "additionalProperties": 1, "type": 2}
# keyword -> what is wrong, what was expected, what came, code.
_SIZES = {
    "minItems": ("empty array", "an array with minimum length {bound}", "an empty array",
                 "empty_array"),
    "maxItems": ("array too long", "an array with maximum length {bound}",
                 "an array with length {size}", "array_above_max_length"),
    "maxLength": ("string too long", "a string with maximum length {bound}",
                  "a string with length {size}", "string_above_max_length"),
    "maxProperties": ("too many properties", "an object with at most {bound} properties",
                      "an object with {size} properties", "object_above_max_properties"),
}
# What a JSON value is called when it came instead of what was expected (bool before int).
_GOT = ((bool, "a boolean"), (int, "an integer"), (float, "a decimal number"), (str, "a string"),
        (list, "an array"), (dict, "an object"))
_NOUNS = {"string": "string", "integer": "integer", "number": "decimal", "boolean": "boolean",
          "object": "object", "array": "array"}


def schema_problem(body: dict[str, Any]) -> OpenAIError | None:
    """The live API's 400 for the first place `body` breaks the request schema; None if it fits."""
    try:
        if _FAST.is_valid(body):
            return None
    except ValueError:
        pass  # jsonschema_rs cannot take a lone surrogate as a key; the precise validator can
    errors = list(_precise().iter_errors(body))
    # Where the two validators differ (Python's `$` also matches before a final newline), the
    # precise one has the last word rather than a rejection nobody can explain.
    return _describe(_first(errors, body), body) if errors else None


# -- jsonschema's errors in the live API's words ----------------------------------------------


# jsonschema's types let an error's keyword, its value, the instance and the subschema be
# "unset"; every error a validator yields has all four, and these read them as they are.
def _keyword(error: ValidationError) -> str:
    return error.validator if isinstance(error.validator, str) else ""


def _bound(error: ValidationError) -> Any:
    """The keyword's value in the schema: `3` of `maxItems: 3`, the list of `required`."""
    return error.validator_value


def _instance(error: ValidationError) -> Any:
    return error.instance


def _subschema(error: ValidationError) -> Mapping[str, Any]:
    return error.schema if isinstance(error.schema, Mapping) else {}


def _first(errors: Iterable[ValidationError], body: Any) -> ValidationError:
    """The error the live API would name: earliest in the body as sent, then by kind."""
    return min(errors, key=lambda e: (_positions(body, e.absolute_path), _RANK.get(_keyword(e), 3)))


def _positions(instance: Any, path: Iterable[str | int]) -> tuple[int, ...]:
    """Where `path` points, as indexes (a key counts by its place in the object as sent)."""
    out = []
    for part in path:
        out.append(list(instance).index(part) if isinstance(instance, dict) else int(part))
        instance = instance[part]
    return tuple(out)


def _describe(error: ValidationError, body: Any) -> OpenAIError:
    """The OpenAIError for one jsonschema error."""
    path = list(error.absolute_path)
    param = dotted(path)
    value, kind, bound, schema = _instance(error), _keyword(error), _bound(error), _subschema(error)
    if kind == "anyOf":
        return _describe_union(error, body)
    if kind == "required":
        return missing(dotted([*path, next(k for k in bound if k not in value)]))
    if kind == "additionalProperties":
        extra = next(key for key in value if key not in schema.get("properties", {}))
        name = dotted([*path, extra])
        return invalid_request(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
    if kind == "type" or (kind == "enum" and not isinstance(value, str)):
        return _wrong_type(param, schema, value)
    if kind == "enum":
        return _invalid_value(param, value, bound)
    # A too-long metadata key comes as the key's own maxLength error, under propertyNames.
    if "propertyNames" in list(error.absolute_schema_path)[-2:]:
        return invalid_request(
            f"Invalid property name in '{param}': {_quote(value)} is too long. Expected a string"
            f" with maximum length {bound}, but got a string with length {len(value)} instead.",
            dotted([*path, value]),
            "property_name_above_max_length",
        )
    if kind in ("minimum", "maximum"):
        number = "integer" if "integer" in _types(schema) else "decimal"
        above = kind == "maximum"
        return invalid_request(
            f"Invalid '{param}': {number} {'above maximum' if above else 'below minimum'} value."
            f" Expected a value {'<=' if above else '>='} {format_number(bound)}, but got"
            f" {format_number(value)} instead.",
            param,
            f"{number}_{'above_max' if above else 'below_min'}_value",
        )
    if kind in _SIZES:
        what, expected, got, code = _SIZES[kind]
        sizes = {"bound": bound, "size": len(value)}
        return invalid_request(
            f"Invalid '{param}': {what}. Expected {expected.format(**sizes)},"
            f" but got {got.format(**sizes)} instead.",
            param,
            code,
        )
    if kind == "pattern":
        return invalid_request(
            f"Invalid '{param}': string does not match pattern. Expected a string that matches"
            f" the pattern '{bound}'.",
            param,
            "invalid_value",
        )
    return invalid_request(f"Invalid value for '{param}'.", param, "invalid_value")


def _describe_union(error: ValidationError, body: Any) -> OpenAIError:
    """Report the branch the input meant (by its role or type), not "none of these matched"."""
    param, value = dotted(error.absolute_path), _instance(error)
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context or ():
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    fitting = [errors for errors in branches.values() if not _type_mismatch(errors)]
    if not fitting:
        return _wrong_type(param, _subschema(error), value)
    if isinstance(value, dict):
        misses = [_discriminator_miss(errors, value) for errors in fitting]
        missed = [key for key in misses if key is not None]
        if len(missed) == len(fitting):
            return _bad_discriminator(error.absolute_path, value, missed[0], fitting)
        fitting = [errors for errors, miss in zip(fitting, misses) if miss is None]
    return _describe(_first(fitting[0], body), body)


def _type_mismatch(errors: Sequence[ValidationError]) -> bool:
    return any(_keyword(e) == "type" and not e.relative_path for e in errors)


def _discriminator_miss(errors: Sequence[ValidationError], value: dict[str, Any]) -> str | None:
    """The key (`role`, `type`) on which this branch does not fit `value`, if any."""
    for e in errors:
        path = list(e.relative_path)
        if len(path) == 1 and path[0] in _DISCRIMINATORS and _keyword(e) in ("enum", "type"):
            return str(path[0])
        if _keyword(e) == "required" and not path:
            missing = [key for key in _DISCRIMINATORS if key in _bound(e)]
            if missing and missing[0] not in value:
                return missing[0]
    return None


def _bad_discriminator(
    path: Iterable[str | int],
    value: dict[str, Any],
    key: str,
    branches: list[list[ValidationError]],
) -> OpenAIError:
    """No branch takes this role or type: name the key and every value some branch takes."""
    param = dotted([*path, key])
    if key not in value:
        return missing(param)
    supported = []
    for errors in branches:
        for e in errors:
            if _keyword(e) == "enum" and list(e.relative_path) == [key]:
                supported += [v for v in _bound(e) if v not in supported]
    if not isinstance(value[key], str):
        return _wrong_type(param, {"enum": supported}, value[key])
    return _invalid_value(param, value[key], supported)


def missing(param: str) -> OpenAIError:
    """The 400 for a required parameter that is not there."""
    return invalid_request(
        f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
    )


def _wrong_type(param: str, schema: Mapping[str, Any], value: Any) -> OpenAIError:
    return invalid_request(
        f"Invalid type for '{param}': expected {_article(_noun(schema))}, but got {json_type(value)}"
        " instead.",
        param,
        "invalid_type",
    )


def _invalid_value(param: str, value: Any, supported: Iterable[Any]) -> OpenAIError:
    choices = [_quote(v) for v in supported if v is not None]
    return invalid_request(
        f"Invalid value: {_quote(value)}. Supported values are: {_join(choices, 'and')}.",
        param,
        "invalid_value",
    )


def _noun(schema: Mapping[str, Any]) -> str:
    """What `schema` takes, as the live API names it: `string`, `array of objects`, ..."""
    schema = _resolve(schema)
    if "enum" in schema:
        choices = [_quote(v) for v in schema["enum"] if v is not None]
        return choices[0] if len(choices) == 1 else "one of " + _join(choices, "or")
    if "anyOf" in schema:
        return _either(_noun(branch) for branch in schema["anyOf"] if branch != {"type": "null"})
    types = [t for t in _types(schema) if t != "null"]
    if types == ["array"] and "items" in schema:
        item = _noun(schema["items"])
        return f"array of {item}s" if item in _NOUNS.values() else "array"
    return _either(_NOUNS[t] for t in types)


def _either(nouns: Iterable[str]) -> str:
    """`string`, or `one of a string or array of objects` (only the first noun takes an article)."""
    unique = list(dict.fromkeys(nouns))
    return unique[0] if len(unique) == 1 else "one of " + _article(_join(unique, "or"))


def _resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        schema = _SCHEMA["$defs"][schema["$ref"].removeprefix("#/$defs/")]
    return schema


def _types(schema: Mapping[str, Any]) -> list[str]:
    types = schema.get("type", [])
    return [types] if isinstance(types, str) else list(types)


def _join(items: Sequence[str], word: str) -> str:
    """`'a'`, `'a' or 'b'`, `'a', 'b', or 'c'`."""
    if len(items) < 3:
        return f" {word} ".join(items)
    return f"{', '.join(items[:-1])}, {word} {items[-1]}"


def _article(noun: str) -> str:
    if noun.startswith(("one of", "'")):
        return noun
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def json_type(value: Any) -> str:
    """The type of a JSON value, as the live API names what it got."""
    if value is None:
        return "null"
    return next(name for kind, name in _GOT if isinstance(value, kind))


def _quote(value: Any) -> str:
    """A value echoed in a message; the live API cuts long strings to `abc...xyz`."""
    if not isinstance(value, str):
        return format_number(value) if is_number(value) else json.dumps(value)
    return f"'{value[:3]}...{value[-3:]}'" if len(value) > 12 else f"'{value}'"


def is_number(value: object) -> TypeGuard[float]:
    """Whether `value` is a JSON number (a boolean is not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def format_number(value: float) -> str:
    """A number as the live API prints it: 2.0 as `2`."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value)
