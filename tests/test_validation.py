"""emulator/validation.py and request_schema.py: a request is parsed and judged as the live API judges it.

Wordings, params and codes are those of protocol §2-§4 and the §8 error catalogue.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from collections.abc import Iterable, Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletionMessage

from emulator import request_schema
from emulator.errors import OpenAIError
from emulator.validation import MALFORMED_JSON, parse_body, validate_request
from tests.seed_examples import SEED_BASIC, SEED_IMAGE, SEED_STREAM, SEED_TOOLS, WEATHER_TOOL

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT.parent / "shared" / "reference" / "openai-openapi.yaml"
SCHEMA_FILES = ("chat-completions.request.json", "chat-completions.response.json",
                "chat-completions.chunk.json", "error.json", "models.list.json", "model.json")

CALL: dict[str, Any] = {"id": "call_4XzlGBLtUe9dy3GVNV4jhq7h", "type": "function",
        "function": {"name": "get_current_weather", "arguments": '{"location":"Boston"}'}}

EVERY_FIELD = {
    "model": "gpt-4o",
    "messages": [
        {"role": "developer", "content": "Answer as a weather service.", "name": "ops"},
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [
            {"type": "text", "text": "What is in this picture, and the weather?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=",
                                                "detail": "low"}},
            {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
            {"type": "file", "file": {"filename": "a.pdf",
                                      "file_data": "data:application/pdf;base64,JVBE"}},
        ]},
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": CALL["id"], "content": "Sunny, 22 C"},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "I can't say."}]},
        {"role": "function", "name": "legacy", "content": None},
        {"role": "user", "content": "Thanks", "name": "pat"},
    ],
    "stream": True,
    "stream_options": {"include_usage": True, "include_obfuscation": False},
    "temperature": 0.7,
    "top_p": 0.9,
    "n": 2,
    "max_tokens": 300,
    "max_completion_tokens": 300,
    "stop": ["\n\n", "END"],
    "presence_penalty": 0.5,
    "frequency_penalty": -0.5,
    "tools": [WEATHER_TOOL],
    "tool_choice": {"type": "function", "function": {"name": "get_current_weather"}},
    "parallel_tool_calls": False,
    "response_format": {"type": "json_schema", "json_schema": {
        "name": "weather", "strict": True,
        "schema": {"type": "object", "properties": {"sky": {"type": "string"}},
                   "required": ["sky"], "additionalProperties": False}}},
    "seed": 42,
    "logprobs": True,
    "top_logprobs": 5,
    "logit_bias": {"50256": -100},
    "user": "user-1234",
    "safety_identifier": "hash-1234",
    "prompt_cache_key": "weather-v1",
    "metadata": {"team": "qa"},
    "store": False,
    "service_tier": "auto",
    "modalities": ["text", "audio"],
    "audio": {"voice": "alloy", "format": "wav"},
    "prediction": {"type": "content", "content": "Sunny"},
    "verbosity": "medium",
}
REASONING = {
    "model": "o3-mini",
    "messages": [{"role": "developer", "content": "Think first."},
                 {"role": "user", "content": "Plan a trip."}],
    "reasoning_effort": "low",
    "max_completion_tokens": 500,
    "temperature": 1,
}


def request(**fields: Any) -> dict[str, Any]:
    """A minimal valid request with `fields` set; a field set to `...` is left out."""
    body: dict[str, Any] = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}]}
    body.update(fields)
    return {key: value for key, value in body.items() if value is not ...}


def conversation(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A request whose messages start with a user turn and go on with `messages`."""
    first = {"role": "user", "content": "Weather in Boston?"}
    return request(messages=[first, *messages], **fields)


def rejection(body: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """The (message, param, code) of the 400 `body` gets."""
    with pytest.raises(OpenAIError) as caught:
        validate_request(body)
    assert caught.value.status == 400
    assert caught.value.type == "invalid_request_error"
    return caught.value.message, caught.value.param, caught.value.code


def parse_rejection(raw: bytes, content_type: str | None = "application/json") -> str:
    """The message of the 400 `parse_body` gives `raw`."""
    with pytest.raises(OpenAIError) as caught:
        parse_body(raw, content_type)
    assert caught.value.status == 400
    return caught.value.message


# -- parse_body ----------------------------------------------------------------------------


def test_parse_body_returns_the_json_object() -> None:
    assert parse_body(b'{"model": "gpt-4o"}', "application/json") == {"model": "gpt-4o"}


def test_malformed_json_gets_the_live_apis_message() -> None:
    assert parse_rejection(b'{"model": "gpt-4o",') == MALFORMED_JSON
    assert MALFORMED_JSON.startswith("We could not parse the JSON body of your request. (HINT:")


def test_empty_body_is_malformed_json() -> None:
    assert parse_rejection(b"") == MALFORMED_JSON


def test_nan_is_not_json() -> None:
    assert parse_rejection(b'{"temperature": NaN}') == MALFORMED_JSON


def test_deeply_nested_body_is_malformed_json_not_a_crash() -> None:
    assert parse_rejection(b"[" * 200_000) == MALFORMED_JSON


def test_body_that_is_not_utf8_is_rejected() -> None:
    assert "not valid UTF-8" in parse_rejection(b'{"model": "caf\xe9"}')


def test_json_array_body_is_rejected_as_not_an_object() -> None:
    assert parse_rejection(b"[]") == (
        "Invalid type for the request body: expected an object, but got an array instead."
    )


def test_form_encoded_body_is_rejected_for_its_content_type() -> None:
    message = parse_rejection(b"model=gpt-4o", "application/x-www-form-urlencoded")
    assert "application/x-www-form-urlencoded" in message and "application/json" in message


def test_json_content_type_with_charset_is_accepted() -> None:
    assert parse_body(b"{}", "application/json; charset=utf-8") == {}


def test_body_without_content_type_is_read_as_json() -> None:
    assert parse_body(b"{}", None) == {}


# -- required fields -----------------------------------------------------------------------


def test_missing_model_says_you_must_provide_a_model_parameter() -> None:
    assert rejection(request(model=...)) == ("you must provide a model parameter", None, None)


def test_null_model_counts_as_missing() -> None:
    assert rejection(request(model=None))[0] == "you must provide a model parameter"


def test_missing_messages_is_missing_required_parameter() -> None:
    assert rejection(request(messages=...)) == (
        "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
    )


def test_missing_model_is_reported_before_an_unknown_parameter() -> None:
    assert rejection(request(model=..., foo=1))[0] == "you must provide a model parameter"


def test_empty_messages_is_empty_array() -> None:
    assert rejection(request(messages=[])) == (
        ("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an"
         " empty array instead."),
        "messages",
        "empty_array",
    )


# -- types ---------------------------------------------------------------------------------


def test_decimal_max_tokens_is_invalid_type() -> None:
    assert rejection(request(max_tokens=1.5)) == (
        "Invalid type for 'max_tokens': expected an integer, but got a decimal number instead.",
        "max_tokens",
        "invalid_type",
    )


def test_string_temperature_expects_a_decimal() -> None:
    assert rejection(request(temperature="hot"))[0] == (
        "Invalid type for 'temperature': expected a decimal, but got a string instead."
    )


def test_boolean_n_is_not_an_integer() -> None:
    assert rejection(request(n=True))[0] == (
        "Invalid type for 'n': expected an integer, but got a boolean instead."
    )


def test_null_for_a_field_that_takes_no_null_says_got_null() -> None:
    assert rejection(request(user=None))[0] == (
        "Invalid type for 'user': expected a string, but got null instead."
    )


def test_string_messages_expects_an_array_of_objects() -> None:
    assert rejection(request(messages="Hello"))[0] == (
        "Invalid type for 'messages': expected an array of objects, but got a string instead."
    )


def test_string_message_expects_an_object() -> None:
    assert rejection(request(messages=["Hello"]))[:2] == (
        "Invalid type for 'messages[0]': expected an object, but got a string instead.",
        "messages[0]",
    )


def test_integer_content_expects_a_string_or_array_of_objects() -> None:
    assert rejection(request(messages=[{"role": "user", "content": 7}])) == (
        ("Invalid type for 'messages[0].content': expected one of a string or array of objects,"
         " but got an integer instead."),
        "messages[0].content",
        "invalid_type",
    )


def test_wrong_type_for_a_union_of_enum_and_objects_names_both() -> None:
    assert rejection(request(tools=[WEATHER_TOOL], tool_choice=7))[0] == (
        "Invalid type for 'tool_choice': expected one of one of 'none', 'auto', or 'required' or"
        " object, but got an integer instead."
    )


def test_wrong_type_for_a_nullable_enum_lists_the_values() -> None:
    assert rejection(request(service_tier={"tier": "fast"}))[0] == (
        "Invalid type for 'service_tier': expected one of 'auto', 'default', 'flex', 'scale',"
        " 'priority', or 'fast', but got an object instead."
    )


# -- ranges --------------------------------------------------------------------------------


def test_temperature_above_two_is_decimal_above_max_value() -> None:
    assert rejection(request(temperature=2.1)) == (
        ("Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 2.1"
         " instead."),
        "temperature",
        "decimal_above_max_value",
    )


def test_temperature_below_zero_is_decimal_below_min_value() -> None:
    assert rejection(request(temperature=-0.5)) == (
        ("Invalid 'temperature': decimal below minimum value. Expected a value >= 0, but got -0.5"
         " instead."),
        "temperature",
        "decimal_below_min_value",
    )


def test_top_p_above_one_is_decimal_above_max_value() -> None:
    assert rejection(request(top_p=1.5))[1:] == ("top_p", "decimal_above_max_value")


def test_penalty_below_minus_two_is_decimal_below_min_value() -> None:
    assert rejection(request(presence_penalty=-2.5))[:2] == (
        ("Invalid 'presence_penalty': decimal below minimum value. Expected a value >= -2, but got"
         " -2.5 instead."),
        "presence_penalty",
    )


def test_n_above_128_is_integer_above_max_value() -> None:
    assert rejection(request(n=130)) == (
        "Invalid 'n': integer above maximum value. Expected a value <= 128, but got 130 instead.",
        "n",
        "integer_above_max_value",
    )


def test_n_zero_is_integer_below_min_value() -> None:
    assert rejection(request(n=0)) == (
        "Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead.",
        "n",
        "integer_below_min_value",
    )


def test_top_logprobs_above_twenty_is_integer_above_max_value() -> None:
    assert rejection(request(logprobs=True, top_logprobs=21))[1:] == (
        "top_logprobs", "integer_above_max_value"
    )


def test_explicit_null_top_logprobs_is_accepted() -> None:
    validate_request(request(top_logprobs=None))


# -- array and string sizes ------------------------------------------------------------------


def test_nine_stop_sequences_is_array_above_max_length() -> None:
    assert rejection(request(stop=["x"] * 9)) == (
        ("Invalid 'stop': array too long. Expected an array with maximum length 4, but got an"
         " array with length 9 instead."),
        "stop",
        "array_above_max_length",
    )


def test_a_single_stop_string_is_accepted() -> None:
    validate_request(request(stop="END"))


def test_150_tools_is_array_above_max_length() -> None:
    assert rejection(request(tools=[WEATHER_TOOL] * 150)) == (
        ("Invalid 'tools': array too long. Expected an array with maximum length 128, but got an"
         " array with length 150 instead."),
        "tools",
        "array_above_max_length",
    )


def test_empty_tools_is_empty_array() -> None:
    assert rejection(request(tools=[]))[1:] == ("tools", "empty_array")


def test_seventeen_metadata_pairs_is_object_above_max_properties() -> None:
    metadata = {f"k{i}": "v" for i in range(17)}
    assert rejection(request(metadata=metadata)) == (
        ("Invalid 'metadata': too many properties. Expected an object with at most 16 properties,"
         " but got an object with 17 properties instead."),
        "metadata",
        "object_above_max_properties",
    )


def test_metadata_value_over_512_characters_is_string_above_max_length() -> None:
    assert rejection(request(metadata={"k": "x" * 600})) == (
        ("Invalid 'metadata.k': string too long. Expected a string with maximum length 512, but"
         " got a string with length 600 instead."),
        "metadata.k",
        "string_above_max_length",
    )


def test_metadata_key_over_64_characters_is_property_name_above_max_length() -> None:
    key = "k" * 70
    assert rejection(request(metadata={key: "v"})) == (
        ("Invalid property name in 'metadata': 'kkk...kkk' is too long. Expected a string with"
         " maximum length 64, but got a string with length 70 instead."),
        f"metadata.{key}",
        "property_name_above_max_length",
    )


# -- enums and patterns ------------------------------------------------------------------------


def test_unknown_service_tier_is_invalid_value() -> None:
    assert rejection(request(service_tier="bogus")) == (
        ("Invalid value: 'bogus'. Supported values are: 'auto', 'default', 'flex', 'scale',"
         " 'priority', and 'fast'."),
        "service_tier",
        "invalid_value",
    )


def test_unknown_role_lists_roles_in_the_live_apis_order() -> None:
    assert rejection(request(messages=[{"role": "bot", "content": "Hi"}])) == (
        ("Invalid value: 'bot'. Supported values are: 'system', 'assistant', 'user', 'function',"
         " 'tool', and 'developer'."),
        "messages[0].role",
        "invalid_value",
    )


def test_long_value_is_echoed_cut_in_the_middle() -> None:
    assert rejection(request(messages=[{"role": "administrator", "content": "Hi"}]))[0].startswith(
        "Invalid value: 'adm...tor'."
    )


def test_unknown_response_format_type_is_invalid_value_of_its_type() -> None:
    assert rejection(request(response_format={"type": "yaml"}))[1:] == (
        "response_format.type", "invalid_value"
    )


def test_unknown_image_detail_is_invalid_value() -> None:
    part = {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg", "detail": "max"}}
    assert rejection(request(messages=[{"role": "user", "content": [part]}]))[:2] == (
        "Invalid value: 'max'. Supported values are: 'auto', 'low', and 'high'.",
        "messages[0].content[0].image_url.detail",
    )


def test_tool_name_with_a_space_does_not_match_pattern() -> None:
    tool = {"type": "function", "function": {"name": "get weather"}}
    assert rejection(request(tools=[tool])) == (
        ("Invalid 'tools[0].function.name': string does not match pattern. Expected a string that"
         " matches the pattern '^[a-zA-Z0-9_-]+$'."),
        "tools[0].function.name",
        "invalid_value",
    )


def test_tool_name_over_64_characters_is_string_above_max_length() -> None:
    tool = {"type": "function", "function": {"name": "f" * 65}}
    assert rejection(request(tools=[tool]))[1:] == (
        "tools[0].function.name", "string_above_max_length"
    )


def test_assistant_tool_call_name_must_match_the_pattern_too() -> None:
    call = {**CALL, "function": {"name": "get weather", "arguments": "{}"}}
    body = conversation({"role": "assistant", "tool_calls": [call]},
                        {"role": "tool", "tool_call_id": CALL["id"], "content": "Sunny"})
    assert rejection(body)[1:] == ("messages[1].tool_calls[0].function.name", "invalid_value")


def test_json_schema_name_must_match_its_pattern() -> None:
    response_format = {"type": "json_schema", "json_schema": {"name": "my schema"}}
    assert rejection(request(response_format=response_format))[:2] == (
        ("Invalid 'response_format.json_schema.name': string does not match pattern. Expected a"
         " string that matches the pattern '^[a-zA-Z0-9_-]{1,64}$'."),
        "response_format.json_schema.name",
    )


# -- unknown parameters ------------------------------------------------------------------------


def test_unknown_parameter_on_gpt_4o_is_an_unrecognized_request_argument() -> None:
    assert rejection(request(foo=1)) == ("Unrecognized request argument supplied: foo", None, None)


def test_several_unknown_parameters_are_listed_together() -> None:
    assert rejection(request(thinking=True, enable_thinking=True))[0] == (
        "Unrecognized request arguments supplied: enable_thinking, thinking"
    )


def test_unknown_parameter_on_a_reasoning_model_is_unknown_parameter() -> None:
    assert rejection(request(model="o4-mini", reasoning={"effort": "low"})) == (
        "Unknown parameter: 'reasoning'.", "reasoning", "unknown_parameter"
    )


def test_unknown_parameter_is_reported_before_a_bad_type() -> None:
    assert rejection(request(foo=1, n="two"))[0] == "Unrecognized request argument supplied: foo"


def test_tool_call_index_sent_back_is_an_unknown_nested_parameter() -> None:
    body = conversation({"role": "assistant", "tool_calls": [{"index": 0, **CALL}]},
                        {"role": "tool", "tool_call_id": CALL["id"], "content": "Sunny"})
    assert rejection(body) == (
        "Unknown parameter: 'messages[1].tool_calls[0].index'.",
        "messages[1].tool_calls[0].index",
        "unknown_parameter",
    )


def test_unknown_content_part_key_is_an_unknown_nested_parameter() -> None:
    part = {"type": "text", "text": "Hi", "cache_control": {"type": "ephemeral"}}
    assert rejection(request(messages=[{"role": "user", "content": [part]}]))[1:] == (
        "messages[0].content[0].cache_control", "unknown_parameter"
    )


def test_unknown_message_key_is_an_unknown_nested_parameter() -> None:
    message = {"role": "user", "content": "Hi", "reasoning": "none"}
    assert rejection(request(messages=[message]))[0] == (
        "Unknown parameter: 'messages[0].reasoning'."
    )


# -- unions: the branch the input meant --------------------------------------------------------


def test_message_without_role_is_missing_its_role() -> None:
    assert rejection(request(messages=[{"content": "Hi"}])) == (
        "Missing required parameter: 'messages[0].role'.",
        "messages[0].role",
        "missing_required_parameter",
    )


def test_text_part_without_text_is_missing_its_text() -> None:
    assert rejection(request(messages=[{"role": "user", "content": [{"type": "text"}]}]))[0] == (
        "Missing required parameter: 'messages[0].content[0].text'."
    )


def test_image_part_in_a_system_message_is_invalid_value() -> None:
    part = {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}}
    assert rejection(request(messages=[{"role": "system", "content": [part]}])) == (
        "Invalid value: 'image_url'. Supported values are: 'text'.",
        "messages[0].content[0].type",
        "invalid_value",
    )


def test_image_part_in_an_assistant_message_is_invalid_value() -> None:
    part = {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}}
    body = conversation({"role": "assistant", "content": [part]})
    assert rejection(body)[0] == (
        "Invalid value: 'image_url'. Supported values are: 'text' and 'refusal'."
    )


def test_tool_without_function_is_missing_its_function() -> None:
    assert rejection(request(tools=[{"type": "function"}]))[:2] == (
        "Missing required parameter: 'tools[0].function'.", "tools[0].function"
    )


def test_response_format_without_type_is_missing_its_type() -> None:
    assert rejection(request(response_format={}))[1:] == (
        "response_format.type", "missing_required_parameter"
    )


def test_named_tool_choice_without_name_is_missing_its_name() -> None:
    tool_choice = {"type": "function", "function": {}}
    assert rejection(request(tools=[WEATHER_TOOL], tool_choice=tool_choice))[1] == (
        "tool_choice.function.name"
    )


# -- model-dependent rules ---------------------------------------------------------------------


def test_max_tokens_on_a_reasoning_model_is_unsupported_parameter() -> None:
    assert rejection(request(model="gpt-5-nano", max_tokens=100)) == (
        ("Unsupported parameter: 'max_tokens' is not supported with this model. Use"
         " 'max_completion_tokens' instead."),
        "max_tokens",
        "unsupported_parameter",
    )


def test_unsupported_parameter_is_reported_before_schema_problems() -> None:
    body = request(model="gpt-5-nano", max_tokens=0, temperature=-0.5,
                   messages=[{"role": "user", "content": None}])
    assert rejection(body)[1] == "max_tokens"


def test_non_default_temperature_on_a_reasoning_model_is_unsupported_value() -> None:
    assert rejection(request(model="gpt-5", temperature=0.01)) == (
        ("Unsupported value: 'temperature' does not support 0.01 with this model. Only the default"
         " (1) value is supported."),
        "temperature",
        "unsupported_value",
    )


def test_non_default_top_p_on_a_reasoning_model_is_unsupported_value() -> None:
    assert rejection(request(model="o3", top_p=0.5))[1:] == ("top_p", "unsupported_value")


def test_default_temperature_on_a_reasoning_model_is_accepted() -> None:
    validate_request(request(model="o1", temperature=1.0, top_p=1))


def test_reasoning_effort_on_gpt_4o_is_an_unrecognized_request_argument() -> None:
    assert rejection(request(model="gpt-4o-mini", reasoning_effort="low")) == (
        "Unrecognized request argument supplied: reasoning_effort", None, None
    )


def test_reasoning_effort_on_a_reasoning_model_is_accepted() -> None:
    validate_request(request(model="o4-mini-2025-04-16", reasoning_effort="high"))


# -- rules a schema cannot say -----------------------------------------------------------------


def test_tool_choice_without_tools_is_rejected() -> None:
    assert rejection(request(tool_choice="auto")) == (
        ("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are"
         " specified."),
        "tool_choice",
        None,
    )


def test_parallel_tool_calls_without_tools_is_rejected() -> None:
    assert rejection(request(parallel_tool_calls=False)) == (
        ("Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when"
         " 'tools' are specified."),
        "parallel_tool_calls",
        None,
    )


def test_stream_options_without_stream_is_rejected() -> None:
    assert rejection(request(stream_options={"include_usage": True}, stream=False)) == (
        "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        "stream_options",
        None,
    )


def test_top_logprobs_without_logprobs_is_rejected() -> None:
    assert rejection(request(top_logprobs=3)) == (
        "The 'top_logprobs' parameter is only allowed when 'logprobs' is enabled.",
        "top_logprobs",
        None,
    )


def test_audio_modality_without_audio_is_missing_audio() -> None:
    assert rejection(request(modalities=["text", "audio"])) == (
        "Missing required parameter: 'audio'.", "audio", "missing_required_parameter"
    )


def test_tool_message_without_preceding_tool_calls_is_rejected() -> None:
    body = conversation({"role": "tool", "tool_call_id": CALL["id"], "content": "Sunny"})
    assert rejection(body) == (
        ("Invalid parameter: messages with role 'tool' must be a response to a preceeding message"
         " with 'tool_calls'."),
        "messages.[1].role",
        None,
    )


def test_tool_message_after_a_later_user_turn_is_rejected() -> None:
    body = conversation({"role": "assistant", "tool_calls": [CALL]},
                        {"role": "tool", "tool_call_id": CALL["id"], "content": "Sunny"},
                        {"role": "user", "content": "And tomorrow?"},
                        {"role": "tool", "tool_call_id": CALL["id"], "content": "Rain"})
    assert rejection(body)[1] == "messages.[4].role"


def test_tool_message_answering_an_unknown_call_is_rejected() -> None:
    body = conversation({"role": "assistant", "tool_calls": [CALL]},
                        {"role": "tool", "tool_call_id": "call_other", "content": "Sunny"})
    assert rejection(body) == (
        ("Invalid parameter: 'tool_call_id' of 'call_other' not found in 'tool_calls' of previous"
         " message."),
        "messages.[2].tool_call_id",
        None,
    )


def test_tool_message_without_tool_call_id_is_missing_parameter() -> None:
    body = conversation({"role": "assistant", "tool_calls": [CALL]},
                        {"role": "tool", "content": "Sunny"})
    assert rejection(body) == (
        "Missing parameter 'tool_call_id': messages with role 'tool' must have a 'tool_call_id'.",
        "messages.[2].tool_call_id",
        None,
    )


def test_unanswered_tool_call_is_rejected_with_its_id() -> None:
    second = {**CALL, "id": "call_jJATmoUduQWxi4tRwcQjsodM"}
    body = conversation({"role": "assistant", "tool_calls": [CALL, second]},
                        {"role": "tool", "tool_call_id": CALL["id"], "content": "Sunny"},
                        {"role": "user", "content": "And?"})
    assert rejection(body)[0] == (
        "An assistant message with 'tool_calls' must be followed by tool messages responding to"
        " each 'tool_call_id'. The following tool_call_ids did not have response messages:"
        " call_jJATmoUduQWxi4tRwcQjsodM"
    )


def test_tool_calls_as_the_last_message_are_unanswered() -> None:
    body = conversation({"role": "assistant", "tool_calls": [CALL]})
    assert "did not have response messages: " + CALL["id"] in rejection(body)[0]


def test_answered_tool_calls_are_accepted() -> None:
    validate_request(conversation({"role": "assistant", "content": None, "tool_calls": [CALL]},
                                  {"role": "tool", "tool_call_id": CALL["id"], "content": "Sunny"},
                                  tools=[WEATHER_TOOL]))


def test_null_user_content_gets_the_message_level_wording() -> None:
    assert rejection(request(messages=[{"role": "user", "content": None}])) == (
        "Invalid value for 'content': expected a string, got null.", "messages.[0].content", None
    )


def test_assistant_message_with_neither_content_nor_tool_calls_is_rejected() -> None:
    assert rejection(conversation({"role": "assistant"}))[1] == "messages.[1].content"


def test_json_object_format_without_the_word_json_is_rejected() -> None:
    assert rejection(request(response_format={"type": "json_object"})) == (
        ("'messages' must contain the word 'json' in some form, to use 'response_format' of type"
         " 'json_object'."),
        "messages",
        None,
    )


def test_json_object_format_finds_json_in_any_case_and_in_text_parts() -> None:
    part = {"type": "text", "text": "Reply as Json."}
    validate_request(request(response_format={"type": "json_object"},
                             messages=[{"role": "user", "content": [part]}]))


# -- accepted requests ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [SEED_BASIC, SEED_IMAGE, SEED_STREAM, SEED_TOOLS],
    ids=["basic-chinese", "image-max-tokens-300", "stream", "tools-tool-choice-auto"],
)
def test_the_seed_documents_requests_are_accepted(body: dict[str, Any]) -> None:
    validate_request(copy.deepcopy(body))


def test_request_with_every_documented_optional_field_is_accepted() -> None:
    validate_request(copy.deepcopy(EVERY_FIELD))


def test_reasoning_request_with_its_own_fields_is_accepted() -> None:
    validate_request(copy.deepcopy(REASONING))


def test_assistant_message_sent_back_as_the_sdk_returned_it_is_accepted() -> None:
    returned = ChatCompletionMessage.model_validate(
        {"role": "assistant", "content": None, "refusal": None, "annotations": [],
         "tool_calls": [CALL]}
    )
    sent_back = returned.model_dump(exclude_none=False)
    assert {"refusal", "annotations", "audio", "function_call", "tool_calls"} <= set(sent_back)
    validate_request(conversation(sent_back,
                                  {"role": "tool", "tool_call_id": CALL["id"], "content": "Sunny"},
                                  tools=[WEATHER_TOOL]))


def test_text_reply_sent_back_as_the_sdk_dumps_it_is_accepted() -> None:
    returned = ChatCompletionMessage.model_validate(
        {"role": "assistant", "content": "Sunny.", "refusal": None, "annotations": []}
    )
    validate_request(conversation(returned.model_dump(exclude_none=False),
                                  {"role": "user", "content": "Thanks"}))


def test_lone_surrogate_in_a_key_does_not_crash_validation() -> None:
    body = parse_body(b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}],'
                      b' "metadata": {"\\ud800": "x"}}', "application/json")
    validate_request(body)


# -- any mutation of a valid request gets a clean answer -----------------------------------

VALID = [SEED_BASIC, SEED_IMAGE, SEED_TOOLS, EVERY_FIELD, REASONING,
         conversation({"role": "assistant", "tool_calls": [CALL]},
                      {"role": "tool", "tool_call_id": CALL["id"], "content": "Sunny"})]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
EDGE_NUMBERS = st.sampled_from([-10**20, -3, -2.5, -1, 0, 0.5, 1.5, 2, 2.1, 21, 129, 2**63, 10**30])
JUNK_ROLES = st.sampled_from(["bot", "", "System", "model", "administrator"]) | st.text(max_size=12)


def places(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every value inside `value`."""
    if isinstance(value, dict):
        items: Iterable[tuple[Any, Any]] = value.items()
    else:
        items = enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        yield (*path, key)
        yield from places(inner, (*path, key))


def containers(value: Any) -> Iterator[Any]:
    """`value` and every object or array inside it."""
    if isinstance(value, (dict, list)):
        yield value
        for inner in value.values() if isinstance(value, dict) else value:
            yield from containers(inner)


@st.composite
def mutated_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A valid request with one to three things broken."""
    body: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["drop", "swap", "number", "unknown", "role"]))
        if kind == "unknown":
            target = draw(st.sampled_from([c for c in containers(body) if isinstance(c, dict)]))
            target[draw(st.text(min_size=1, max_size=8))] = draw(JSON_VALUES)
            continue
        if kind == "role" and isinstance(body.get("messages"), list) and body["messages"]:
            message = draw(st.sampled_from(body["messages"]))
            if isinstance(message, dict):
                message["role"] = draw(JUNK_ROLES)
            continue
        where = list(places(body))
        if not where:
            continue
        *parent_path, key = draw(st.sampled_from(where))
        parent: Any = body
        for step in parent_path:
            parent = parent[step]
        if kind == "drop":
            del parent[key]
        else:
            parent[key] = draw(EDGE_NUMBERS if kind == "number" else JSON_VALUES)
    return body


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_requests())
def test_mutated_requests_pass_or_get_a_clean_400(body: dict[str, Any]) -> None:
    try:
        validate_request(body)
    except OpenAIError as error:
        assert error.status == 400
        assert error.type == "invalid_request_error"
        assert isinstance(error.message, str) and error.message.strip()
        noise = ("Traceback", "Error(", "object at 0x", "is not valid under",
                 "is a required property", "Additional properties", "None instead")
        assert not any(word in error.message for word in noise), error.message
        assert error.param is None or isinstance(error.param, str)
        assert error.code is None or isinstance(error.code, str)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_requests())
def test_what_the_fast_validator_accepts_the_precise_one_accepts(body: dict[str, Any]) -> None:
    if request_schema._FAST.is_valid(body):
        assert request_schema._precise().is_valid(body)


# -- the schema files ----------------------------------------------------------------------


def schema(name: str) -> dict[str, Any]:
    """A packaged schema, loaded as the package loads it."""
    document: dict[str, Any] = json.loads(
        files("emulator._schemas").joinpath(name).read_text("utf-8")
    )
    return document


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_packaged_schemas_are_valid_draft_2020_12(name: str) -> None:
    document = schema(name)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(document)


def test_request_schema_rejects_unknown_top_level_keys() -> None:
    assert schema("chat-completions.request.json")["additionalProperties"] is False


def test_request_schema_uses_only_keywords_the_reporter_words() -> None:
    worded = {"anyOf", "required", "additionalProperties", "type", "enum", "propertyNames",
              "minimum", "maximum", "minItems", "maxItems", "maxLength", "maxProperties", "pattern"}
    silent = {"$schema", "$comment", "$defs", "$ref", "properties", "items", "default",
              "deprecated", "format"}

    def keywords(node: Any) -> Iterator[str]:
        """Every keyword used in `node`, however deep (property names are not keywords)."""
        if isinstance(node, list):
            for item in node:
                yield from keywords(item)
        elif isinstance(node, dict):
            for key, value in node.items():
                yield key
                if key in ("properties", "$defs"):
                    yield from keywords(list(value.values()))
                elif key in ("items", "additionalProperties", "propertyNames", "anyOf"):
                    yield from keywords(value)

    assert set(keywords(schema("chat-completions.request.json"))) <= worded | silent


@pytest.mark.skipif(not SPEC.exists(), reason="the OpenAPI document is not beside the repository")
def test_committed_schemas_are_what_the_build_script_writes() -> None:
    script = ROOT / "tools" / "build_schemas.py"
    loader = importlib.util.spec_from_file_location("build_schemas", script)
    assert loader is not None and loader.loader is not None
    build_schemas = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(build_schemas)
    spec = yaml.load(SPEC.read_text("utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    for name, document in build_schemas.build(spec).items():
        assert document == schema(name), name
