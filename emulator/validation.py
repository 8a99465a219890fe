"""Request validation: the body as JSON, then the request schema, then the rules a schema cannot
say. A rejection is an OpenAIError worded, typed and `param`-ed as the live API words it, and,
like the live API, only the first problem is reported.

    body = parse_body(raw, request.headers.get("content-type"))
    validate_request(body)   # raises OpenAIError(400, ...) or returns

Accepting costs a few microseconds: one call into jsonschema_rs plus the checks around it. Only
a body jsonschema_rs rejects is run through the pure-python `jsonschema`, whose detailed errors
give the live API's wording.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any, TypeGuard

import jsonschema_rs
import orjson

from emulator.errors import OpenAIError, invalid_request
from emulator.models import is_reasoning
from emulator.strict_schema import strict_schema_problem

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

MALFORMED_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using"
    " your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was"
    " not valid JSON. If you have trouble figuring out how to fix this, please contact us through"
    " our help center at help.openai.com.)"
)

_SCHEMA: dict[str, Any] = json.loads(
    files("emulator._schemas").joinpath("chat-completions.request.json").read_text("utf-8")
)
_FAST = jsonschema_rs.Draft202012Validator(_SCHEMA, validate_formats=False)


@lru_cache(maxsize=1)
def _precise() -> Any:
    """The pure-python validator, imported and built on the first rejection (~0.05 s of start-up)."""
    import jsonschema

    return jsonschema.Draft202012Validator(_SCHEMA)


def __getattr__(name: str) -> Any:
    if name == "_PRECISE":  # the name the validator had when it was built on import
        return _precise()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

_KNOWN = frozenset(_SCHEMA["properties"])
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

# Every digit byte to b"0", every other byte to b" ": a run of 19 digits is then a substring.
_DIGITS_ONLY = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_DIGITS = b"0" * 19


def parse_body(raw: bytes, content_type: str | None) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 saying why it is not one."""
    if content_type and not _is_json_media_type(content_type):
        raise invalid_request(
            f"Invalid Content-Type header ({content_type}): the OpenAI API expects a JSON payload"
            " sent with 'Content-Type: application/json'."
        )
    # orjson takes a subset of what json.loads takes (no NaN, Infinity or lone surrogates) and
    # parses it alike, 2.7 us against 7.6 with the check; but it reads an integer past 64 bits as
    # a float, so a body with a run of 19 digits, and anything orjson refuses, goes the slow way.
    if _LONG_DIGITS in raw.translate(_DIGITS_ONLY):
        body = _parse_slowly(raw)
    else:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = _parse_slowly(raw)
    if not isinstance(body, dict):
        raise invalid_request(
            f"Invalid type for the request body: expected an object, but got {_got(body)} instead.",
            code="invalid_type",
        )
    return body


def _parse_slowly(raw: bytes) -> Any:
    """The body as json.loads reads it, or the 400 that says why it cannot."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid_request(
            f"The request body is not valid UTF-8 (invalid byte at position {exc.start}):"
            " the OpenAI API expects a UTF-8 encoded JSON payload."
        ) from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise invalid_request(MALFORMED_JSON) from None


def validate_request(body: dict[str, Any]) -> None:
    """Raise the OpenAIError the live API answers `body` with; return if it would be accepted."""
    for check in _CHECKS:
        error = check(body)
        if error is not None:
            raise error


def _is_json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _reject_constant(name: str) -> None:
    # json.loads takes NaN and Infinity, which are not JSON.
    raise ValueError(name)


# -- checks, in the order the live API reports them -----------------------------------------


def _missing_model_or_messages(body: dict[str, Any]) -> OpenAIError | None:
    if body.get("model") is None:
        return invalid_request("you must provide a model parameter")
    if "messages" not in body:
        return _missing("messages")
    return None


def _reasoning(model: object) -> bool:
    return isinstance(model, str) and is_reasoning(model)


def _unknown_parameters(body: dict[str, Any]) -> OpenAIError | None:
    reasoning = _reasoning(body["model"])
    unknown = [key for key in body if key not in _KNOWN]
    if not reasoning and body.get("reasoning_effort") is not None:
        unknown.append("reasoning_effort")  # gpt-4o-class models do not know it at all
    if not unknown:
        return None
    if reasoning:
        name = unknown[0]
        return invalid_request(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
    plural = "s" if len(unknown) > 1 else ""
    names = ", ".join(sorted(unknown))
    return invalid_request(f"Unrecognized request argument{plural} supplied: {names}")


def _unsupported_by_model(body: dict[str, Any]) -> OpenAIError | None:
    if not _reasoning(body["model"]):
        return None
    if body.get("max_tokens") is not None:
        return invalid_request(
            "Unsupported parameter: 'max_tokens' is not supported with this model."
            " Use 'max_completion_tokens' instead.",
            "max_tokens",
            "unsupported_parameter",
        )
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if _is_number(value) and value != 1:
            return invalid_request(
                f"Unsupported value: '{name}' does not support {_number(value)} with this model."
                " Only the default (1) value is supported.",
                name,
                "unsupported_value",
            )
    return None


def _schema_problem(body: dict[str, Any]) -> OpenAIError | None:
    try:
        if _FAST.is_valid(body):
            return None
    except ValueError:
        pass  # jsonschema_rs cannot take a lone surrogate as a key; the precise validator can
    errors = list(_precise().iter_errors(body))
    # Where the two validators differ (Python's `$` also matches before a final newline), the
    # precise one has the last word rather than a rejection nobody can explain.
    return _describe(_first(errors, body), body) if errors else None


def _tools_required(body: dict[str, Any]) -> OpenAIError | None:
    if body.get("tools"):
        return None
    for name in ("tool_choice", "parallel_tool_calls"):
        if body.get(name) is not None:
            return invalid_request(
                f"Invalid value for '{name}': '{name}' is only allowed when 'tools' are specified.",
                name,
            )
    return None


def _switches_required(body: dict[str, Any]) -> OpenAIError | None:
    for name, switch in (("stream_options", "stream"), ("top_logprobs", "logprobs")):
        if body.get(name) is not None and body.get(switch) is not True:
            return invalid_request(
                f"The '{name}' parameter is only allowed when '{switch}' is enabled.", name
            )
    return None


def _audio_output_needs_audio(body: dict[str, Any]) -> OpenAIError | None:
    if "audio" in (body.get("modalities") or ()) and body.get("audio") is None:
        return _missing("audio")
    return None


def _conversation(body: dict[str, Any]) -> OpenAIError | None:
    """Message-level rules, in the older `messages.[i]` notation the live API keeps for them."""
    answered_turn: set[str] | None = None  # tool_call ids of the assistant turn being answered
    unanswered: list[str] = []
    turn_at = 0
    for i, message in enumerate(body["messages"]):
        if message.get("content") is None and not _may_lack_content(message):
            return invalid_request(
                "Invalid value for 'content': expected a string, got null.",
                f"messages.[{i}].content",
            )
        if message["role"] == "tool":
            error = _tool_answer(message, i, answered_turn)
            if error is not None:
                return error
            if message["tool_call_id"] in unanswered:
                unanswered.remove(message["tool_call_id"])
            continue
        if unanswered:
            return _unanswered_calls(unanswered, turn_at)
        calls = message.get("tool_calls") if message["role"] == "assistant" else None
        answered_turn = {call["id"] for call in calls} if calls else None
        unanswered = [call["id"] for call in calls or ()]
        turn_at = i
    return _unanswered_calls(unanswered, turn_at) if unanswered else None


def _may_lack_content(message: dict[str, Any]) -> bool:
    if message["role"] == "function":
        return True
    # An assistant turn that called tools or spoke audio, or a refusal sent back, has no text.
    sent_back = ("tool_calls", "function_call", "audio", "refusal")
    return message["role"] == "assistant" and any(message.get(key) for key in sent_back)


def _tool_answer(message: dict[str, Any], i: int, turn: set[str] | None) -> OpenAIError | None:
    if "tool_call_id" not in message:
        return invalid_request(
            "Missing parameter 'tool_call_id': messages with role 'tool' must have a"
            " 'tool_call_id'.",
            f"messages.[{i}].tool_call_id",
        )
    if turn is None:
        return invalid_request(
            "Invalid parameter: messages with role 'tool' must be a response to a preceeding"
            " message with 'tool_calls'.",
            f"messages.[{i}].role",
        )
    if message["tool_call_id"] not in turn:
        return invalid_request(
            f"Invalid parameter: 'tool_call_id' of '{message['tool_call_id']}' not found in"
            " 'tool_calls' of previous message.",
            f"messages.[{i}].tool_call_id",
        )
    return None


def _unanswered_calls(ids: list[str], turn_at: int) -> OpenAIError:
    return invalid_request(
        "An assistant message with 'tool_calls' must be followed by tool messages responding to"
        " each 'tool_call_id'. The following tool_call_ids did not have response messages:"
        f" {', '.join(ids)}",
        f"messages.[{turn_at}].role",
    )


def _json_mode_mentions_json(body: dict[str, Any]) -> OpenAIError | None:
    response_format = body.get("response_format")
    if not response_format or response_format["type"] != "json_object":
        return None
    if any("json" in text.lower() for text in _texts(body["messages"])):
        return None
    return invalid_request(
        "'messages' must contain the word 'json' in some form, to use 'response_format' of type"
        " 'json_object'.",
        "messages",
    )


def _texts(messages: Iterable[dict[str, Any]]) -> Iterator[str]:
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            yield content
        elif isinstance(content, list):
            yield from (part["text"] for part in content if part["type"] == "text")


def _strict_schemas(body: dict[str, Any]) -> OpenAIError | None:
    """A `strict: true` response format or function whose schema Structured Outputs cannot take."""
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        spec = response_format.get("json_schema") or {}
        problem = _strict_problem(spec) if spec.get("strict") else None
        if problem:
            return invalid_request(
                f"Invalid schema for response_format '{spec.get('name')}': {problem}",
                "response_format",
                "invalid_json_schema",
            )
    for i, tool in enumerate(body.get("tools") or ()):
        function = tool.get("function") or {}
        problem = _strict_problem(function, "parameters") if function.get("strict") else None
        if problem:
            return invalid_request(
                f"Invalid schema for function '{function.get('name')}': {problem}",
                f"tools[{i}].function.parameters",
                "invalid_function_parameters",
            )
    return None


def _strict_problem(spec: dict[str, Any], key: str = "schema") -> str | None:
    # Checking a schema costs up to ~0.4 ms and clients send the same schema on every request.
    return _strict_problem_of(json.dumps(spec.get(key) or {}, sort_keys=True))


@lru_cache(maxsize=256)
def _strict_problem_of(schema_json: str) -> str | None:
    return strict_schema_problem(json.loads(schema_json))


_CHECKS: tuple[Callable[[dict[str, Any]], OpenAIError | None], ...] = (
    _missing_model_or_messages,
    _unknown_parameters,
    _unsupported_by_model,
    _schema_problem,
    _tools_required,
    _switches_required,
    _audio_output_needs_audio,
    _conversation,
    _json_mode_mentions_json,
    _strict_schemas,
)


# -- schema errors in the live API's words ---------------------------------------------------


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
    param = _param(path)
    value, kind, bound, schema = _instance(error), _keyword(error), _bound(error), _subschema(error)
    if kind == "anyOf":
        return _describe_union(error, body)
    if kind == "required":
        return _missing(_param([*path, next(k for k in bound if k not in value)]))
    if kind == "additionalProperties":
        extra = next(key for key in value if key not in schema.get("properties", {}))
        name = _param([*path, extra])
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
            _param([*path, value]),
            "property_name_above_max_length",
        )
    if kind in ("minimum", "maximum"):
        number = "integer" if "integer" in _types(schema) else "decimal"
        above = kind == "maximum"
        return invalid_request(
            f"Invalid '{param}': {number} {'above maximum' if above else 'below minimum'} value."
            f" Expected a value {'<=' if above else '>='} {_number(bound)}, but got"
            f" {_number(value)} instead.",
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
    param, value = _param(error.absolute_path), _instance(error)
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
    param = _param([*path, key])
    if key not in value:
        return _missing(param)
    supported = []
    for errors in branches:
        for e in errors:
            if _keyword(e) == "enum" and list(e.relative_path) == [key]:
                supported += [v for v in _bound(e) if v not in supported]
    if not isinstance(value[key], str):
        return _wrong_type(param, {"enum": supported}, value[key])
    return _invalid_value(param, value[key], supported)


def _missing(param: str) -> OpenAIError:
    return invalid_request(
        f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
    )


def _wrong_type(param: str, schema: Mapping[str, Any], value: Any) -> OpenAIError:
    return invalid_request(
        f"Invalid type for '{param}': expected {_article(_noun(schema))}, but got {_got(value)}"
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


def _got(value: Any) -> str:
    """The type of a JSON value, as the live API names what it got."""
    if value is None:
        return "null"
    return next(name for kind, name in _GOT if isinstance(value, kind))


def _quote(value: Any) -> str:
    """A value echoed in a message; the live API cuts long strings to `abc...xyz`."""
    if not isinstance(value, str):
        return _number(value) if _is_number(value) else json.dumps(value)
    return f"'{value[:3]}...{value[-3:]}'" if len(value) > 12 else f"'{value}'"


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(value: float) -> str:
    """A number as the live API prints it: 2.0 as `2`."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value)


def _param(path: Iterable[str | int]) -> str:
    """A JSON path as the live API writes `param`: `messages[0].content[1].text`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out
