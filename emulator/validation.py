"""Request validation: the body as JSON, then the request schema, then the rules a schema cannot
say. A rejection is an OpenAIError worded, typed and `param`-ed as the live API words it, and,
like the live API, only the first problem is reported.

    body = parse_body(raw, request.headers.get("content-type"))
    validate_request(body, raw)   # raises OpenAIError(400, ...) or returns

Accepting costs a few microseconds: one call into jsonschema_rs, with the rules below that a
schema can say, then the conversation's rules; bytes accepted lately, one look-up. The schema
check, and the wording of what it finds, is request_schema.py; the rules here word their
rejections with its phrases.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import orjson

from emulator import request_schema
from emulator.errors import OpenAIError, invalid_request
from emulator.matching import message_text
from emulator.models import is_reasoning
from emulator.request_schema import PARAMETERS, format_number, is_number, json_type, missing
from emulator.strict_schema import strict_schema_problem

MALFORMED_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using"
    " your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was"
    " not valid JSON. If you have trouble figuring out how to fix this, please contact us through"
    " our help center at help.openai.com.)"
)

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
    body = read_json(raw)
    if not isinstance(body, dict):
        raise invalid_request(
            f"Invalid type for the request body: expected an object, but got {json_type(body)}"
            " instead.",
            code="invalid_type",
        )
    return body


def read_json(raw: bytes) -> Any:
    """The JSON value of `raw` as json.loads reads it, or a 400 saying why there is none."""
    # orjson takes a subset of what json.loads takes (no NaN, Infinity or lone surrogates) and
    # parses it alike, 2.7 us against 7.6 with the check; but it reads an integer past 64 bits as
    # a float, so a body with a run of 19 digits, and anything orjson refuses, goes the slow way.
    if _LONG_DIGITS in raw.translate(_DIGITS_ONLY):
        return _parse_slowly(raw)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _parse_slowly(raw)


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


def validate_request(body: dict[str, Any], raw: bytes | None = None) -> None:
    """Raise the OpenAIError the live API answers `body` with; return if it would be accepted.

    `raw`, the bytes `body` was parsed from: bytes accepted lately are accepted again at once.
    """
    if raw is not None and raw in _accepted_lately:
        return
    if not _accepted_at_once(body):
        for check in _CHECKS:
            error = check(body)
            if error is not None:
                raise error
    if raw is not None and len(raw) <= _KEEPABLE:
        if len(_accepted_lately) >= _KEPT:
            _accepted_lately.clear()  # atomic, where evicting one would race another thread's
        _accepted_lately.add(raw)


# The same body comes again and again (an SDK's retries, a test run twice, a load test's
# request), and the verdict depends on its bytes alone: the bodies accepted lately are kept,
# up to _KEPT of up to _KEEPABLE bytes. Validation costs far more on the wire than in a loop
# (BENCHMARKS.md, eighth round): a hit saves 16-29 us there; the look-up costs ~0.2 us.
_KEPT = 256
_KEEPABLE = 4096
_accepted_lately: set[bytes] = set()


@lru_cache(maxsize=64)  # clients send one or two spellings, with every request
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
        return missing("messages")
    return None


def _reasoning(model: object) -> bool:
    return isinstance(model, str) and is_reasoning(model)


def _unknown_parameters(body: dict[str, Any]) -> OpenAIError | None:
    reasoning = _reasoning(body["model"])
    unknown = [] if PARAMETERS.issuperset(body) else [key for key in body if key not in PARAMETERS]
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
        if is_number(value) and value != 1:
            return invalid_request(
                f"Unsupported value: '{name}' does not support {format_number(value)} with this"
                " model. Only the default (1) value is supported.",
                name,
                "unsupported_value",
            )
    return None


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
        return missing("audio")
    return None


def _conversation(body: dict[str, Any]) -> OpenAIError | None:
    """Message-level rules, in the older `messages.[i]` notation the live API keeps for them."""
    answered_turn: list[str] | None = None  # tool_call ids of the assistant turn being answered
    unanswered: list[str] = []
    turn_at = 0
    for i, message in enumerate(body["messages"]):
        role = message["role"]
        if message.get("content") is None and not _may_lack_content(role, message):
            return invalid_request(
                "Invalid value for 'content': expected a string, got null.",
                f"messages.[{i}].content",
            )
        if role == "tool":
            error = _tool_answer(message, i, answered_turn)
            if error is not None:
                return error
            if message["tool_call_id"] in unanswered:
                unanswered.remove(message["tool_call_id"])
            continue
        if unanswered:
            return _unanswered_calls(unanswered, turn_at)
        calls = message.get("tool_calls") if role == "assistant" else None
        if calls:
            answered_turn = [call["id"] for call in calls]  # a few: a list looks up as fast as a set
            unanswered = answered_turn.copy()
            turn_at = i
        else:
            answered_turn = None
    return _unanswered_calls(unanswered, turn_at) if unanswered else None


def _may_lack_content(role: str, message: dict[str, Any]) -> bool:
    if role == "function":
        return True
    # An assistant turn that called tools or spoke audio, or a refusal sent back, has no text.
    return role == "assistant" and bool(
        message.get("tool_calls") or message.get("function_call") or message.get("audio") or message.get("refusal")
    )


def _tool_answer(message: dict[str, Any], i: int, turn: list[str] | None) -> OpenAIError | None:
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
    if any("json" in message_text(message).lower() for message in body["messages"]):
        return None
    return invalid_request(
        "'messages' must contain the word 'json' in some form, to use 'response_format' of type"
        " 'json_object'.",
        "messages",
    )


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
    # Checking a schema costs up to ~0.4 ms and clients send the same schema on every request:
    # the finding is kept by the schema's JSON (orjson's: 0.5 us against json's 8 us for the
    # benchmark's six-property schema; json's for integers past 64 bits, which orjson cannot write).
    schema = spec.get(key) or {}
    try:
        schema_json: str | bytes = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        schema_json = json.dumps(schema, sort_keys=True)
    return _strict_problem_of(schema_json)


@lru_cache(maxsize=256)
def _strict_problem_of(schema_json: str | bytes) -> str | None:
    return strict_schema_problem(json.loads(schema_json))


# -- the accept path ------------------------------------------------------------------------
#
# A body the request schema accepts together with the rules below passes every check but the
# three the accept path runs after it (the conversation, JSON mode, strict schemas): one call
# into jsonschema_rs instead of a Python call a check (the benchmark's request: 49.6k -> 38.9k
# instructions). The rules may turn away more than the checks do (any reasoning_effort;
# reasoning models are never tried): such a body, like any the rules or those three turn away,
# goes through every check in order, which words the first problem or accepts it.


def _given(name: str) -> dict[str, Any]:
    """The parameter is sent, and not as null."""
    return {"required": [name], "properties": {name: {"not": {"type": "null"}}}}


def _is(name: str, value: Any) -> dict[str, Any]:
    return {"required": [name], "properties": {name: {"const": value}}}


# Each rule with the parameters it names: it holds for a body that sends none of them, and such
# a body needs the schema alone.
_RULES: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (("reasoning_effort",), {"not": _given("reasoning_effort")}),  # _unknown_parameters: only reasoning models know it
    (
        ("tool_choice", "parallel_tool_calls"),  # _tools_required
        {"if": {"not": _given("tools")}, "then": {"not": {"anyOf": [_given("tool_choice"), _given("parallel_tool_calls")]}}},
    ),
    (("stream_options",), {"if": _given("stream_options"), "then": _is("stream", True)}),  # _switches_required
    (("top_logprobs",), {"if": _given("top_logprobs"), "then": _is("logprobs", True)}),
    (
        ("modalities",),  # _audio_output_needs_audio
        {
            "if": {"required": ["modalities"], "properties": {"modalities": {"type": "array", "contains": {"const": "audio"}}}},
            "then": _given("audio"),
        },
    ),
)
_ACCEPTED_AT_ONCE = request_schema.fast_validator(*(rule for _, rule in _RULES))
_RULED = frozenset(name for names, _ in _RULES for name in names)
_SCHEMA_ONLY = request_schema.fast_validator()


def _accepted_at_once(body: dict[str, Any]) -> bool:
    """Whether every check would accept `body`, found out at once; False when unsure."""
    validator = _SCHEMA_ONLY if _RULED.isdisjoint(body) else _ACCEPTED_AT_ONCE
    try:
        if _reasoning(body.get("model")) or not validator.is_valid(body):
            return False
    except ValueError:  # a lone surrogate as a key, which only the precise validator takes
        return False
    return _conversation(body) is None and _json_mode_mentions_json(body) is None and _strict_schemas(body) is None


_CHECKS: tuple[Callable[[dict[str, Any]], OpenAIError | None], ...] = (
    _missing_model_or_messages,
    _unknown_parameters,
    _unsupported_by_model,
    request_schema.schema_problem,
    _tools_required,
    _switches_required,
    _audio_output_needs_audio,
    _conversation,
    _json_mode_mentions_json,
    _strict_schemas,
)
