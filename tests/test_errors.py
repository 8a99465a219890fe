"""Rejections on the wire: the real API's status, envelope, wording, param and code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.server import BackgroundServer
from emulator.settings import Settings
from tests.conftest import assert_valid

HELLO: dict[str, Any] = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
WEATHER_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}

# (id, request body, status, type, param, code, message) — rows of the protocol's §8 catalogue.
CATALOGUE: list[tuple[str, dict[str, Any], int, str, str | None, str | None, str]] = [
    ("model-missing", {"messages": HELLO["messages"]}, 400, "invalid_request_error", None, None,
     "you must provide a model parameter"),
    ("messages-missing", {"model": "gpt-4o"}, 400, "invalid_request_error", "messages", "missing_required_parameter",
     "Missing required parameter: 'messages'."),
    ("messages-empty", {"model": "gpt-4o", "messages": []}, 400, "invalid_request_error", "messages", "empty_array",
     "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead."),
    ("wrong-type", {**HELLO, "max_tokens": 1.5}, 400, "invalid_request_error", "max_tokens", "invalid_type",
     "Invalid type for 'max_tokens': expected an integer, but got a decimal number instead."),
    ("temperature-above", {**HELLO, "temperature": 2.1}, 400, "invalid_request_error", "temperature",
     "decimal_above_max_value",
     "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 2.1 instead."),
    ("temperature-below", {**HELLO, "temperature": -2.5}, 400, "invalid_request_error", "temperature",
     "decimal_below_min_value",
     "Invalid 'temperature': decimal below minimum value. Expected a value >= 0, but got -2.5 instead."),
    ("n-above", {**HELLO, "n": 130}, 400, "invalid_request_error", "n", "integer_above_max_value",
     "Invalid 'n': integer above maximum value. Expected a value <= 128, but got 130 instead."),
    ("n-below", {**HELLO, "n": 0}, 400, "invalid_request_error", "n", "integer_below_min_value",
     "Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead."),
    ("stop-too-long", {**HELLO, "stop": list("abcdefghi")}, 400, "invalid_request_error", "stop",
     "array_above_max_length",
     "Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length 9 instead."),
    ("tools-too-long", {**HELLO, "tools": [
        {"type": "function", "function": {"name": f"f{i}"}} for i in range(150)]}, 400, "invalid_request_error",
     "tools", "array_above_max_length",
     ("Invalid 'tools': array too long. Expected an array with maximum length 128, but got an array with length 150 "
      "instead.")),
    ("tool-name-pattern", {**HELLO, "tools": [{"type": "function", "function": {"name": "get weather"}}]}, 400,
     "invalid_request_error", "tools[0].function.name", "invalid_value",
     ("Invalid 'tools[0].function.name': string does not match pattern. Expected a string that matches the pattern "
      "'^[a-zA-Z0-9_-]+$'.")),
    ("unknown-top-level", {**HELLO, "foo": 1}, 400, "invalid_request_error", None, None,
     "Unrecognized request argument supplied: foo"),
    ("unknown-top-level-reasoning", {**HELLO, "model": "o4-mini", "reasoning": {}}, 400, "invalid_request_error",
     "reasoning", "unknown_parameter", "Unknown parameter: 'reasoning'."),
    ("unknown-nested", {"model": "gpt-4o", "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "index": 0,
                                              "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"}]}, 400, "invalid_request_error",
     "messages[1].tool_calls[0].index", "unknown_parameter", "Unknown parameter: 'messages[1].tool_calls[0].index'."),
    ("max-tokens-on-reasoning", {**HELLO, "model": "gpt-5-nano", "max_tokens": 10}, 400, "invalid_request_error",
     "max_tokens", "unsupported_parameter",
     "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."),
    ("stream-options-without-stream", {**HELLO, "stream_options": {"include_usage": True}}, 400,
     "invalid_request_error", "stream_options", None,
     "The 'stream_options' parameter is only allowed when 'stream' is enabled."),
    ("tool-choice-without-tools", {**HELLO, "tool_choice": "auto"}, 400, "invalid_request_error", "tool_choice", None,
     "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified."),
    ("parallel-tool-calls-without-tools", {**HELLO, "parallel_tool_calls": False}, 400, "invalid_request_error",
     "parallel_tool_calls", None,
     "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' are specified."),
    ("tool-without-tool-call", {"model": "gpt-4o", "messages": [
        {"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "c9", "content": "x"}]}, 400,
     "invalid_request_error", "messages.[1].role", None,
     "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'."),
    ("strict-response-format", {**HELLO, "response_format": {"type": "json_schema", "json_schema": {
        "name": "default", "strict": True, "schema": {"type": "object", "properties": {}}}}}, 400,
     "invalid_request_error", "response_format", "invalid_json_schema",
     ("Invalid schema for response_format 'default': In context=(), 'additionalProperties' is required to be "
      "supplied and to be false.")),
    ("strict-function", {**HELLO, "tools": [{"type": "function", "function": {
        "name": "f", "strict": True, "parameters": {"type": "object", "properties": {"a": {"type": "string"}},
                                                    "additionalProperties": False}}}]}, 400,
     "invalid_request_error", "tools[0].function.parameters", "invalid_function_parameters",
     ("Invalid schema for function 'f': In context=(), 'required' is required to be supplied and to be an array "
      "including every key in properties. Missing 'a'.")),
    ("json-object-without-json", {**HELLO, "response_format": {"type": "json_object"}}, 400, "invalid_request_error",
     "messages", None,
     "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'."),
]


def _ids(rows: list[Any]) -> list[str]:
    return [row[0] for row in rows]


@pytest.mark.parametrize(("name", "body", "status", "type_", "param", "code", "message"), CATALOGUE, ids=_ids(CATALOGUE))
def test_catalogue_row_on_the_wire(
    http: httpx.Client, name: str, body: dict[str, Any], status: int, type_: str, param: str | None,
    code: str | None, message: str,
) -> None:
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == status
    assert response.json() == {"error": {"message": message, "type": type_, "param": param, "code": code}}
    assert response.headers["x-request-id"].startswith("req_")


@pytest.mark.parametrize(("name", "body", "status", "type_", "param", "code", "message"), CATALOGUE, ids=_ids(CATALOGUE))
def test_catalogue_row_through_the_sdk(
    client: openai.OpenAI, name: str, body: dict[str, Any], status: int, type_: str, param: str | None,
    code: str | None, message: str,
) -> None:
    # extra_body carries whatever the typed signature would not let through.
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=body.get("model", openai.omit), messages=body.get("messages", openai.omit),
                                       extra_body={k: v for k, v in body.items() if k not in ("model", "messages")})
    error = caught.value
    assert (error.status_code, error.type, error.param, error.code) == (status, type_, param, code)
    assert isinstance(error.body, dict) and error.body["message"] == message
    assert error.request_id is not None and error.request_id.startswith("req_")


@pytest.mark.anyio
async def test_async_sdk_raises_the_same_error(async_client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await async_client.chat.completions.create(model="gpt-4o", messages=[], temperature=3)
    assert caught.value.code == "empty_array" and caught.value.param == "messages"


def test_malformed_json_gets_the_real_parse_error(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions", content=b'{"model": "gpt-4o", "messages": [', headers={
        "Content-Type": "application/json"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"].startswith("We could not parse the JSON body of your request.")
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", None, None)


def test_body_that_is_not_utf8_is_a_clear_400(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions", content=b'{"model": "\xff\xfe"}', headers={
        "Content-Type": "application/json"})
    assert response.status_code == 400
    assert_valid(response.json(), "error.json")


def test_wrong_content_type_is_a_clear_4xx(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions", content=json.dumps(HELLO), headers={"Content-Type": "text/plain"})
    assert 400 <= response.status_code < 500
    assert_valid(response.json(), "error.json")


@pytest.fixture(scope="module")
def small_limit() -> Iterator[BackgroundServer]:
    with BackgroundServer(Settings(port=0, max_body_bytes=1024)) as running:
        yield running


def test_oversized_body_is_413(small_limit: BackgroundServer) -> None:
    big = {**HELLO, "messages": [{"role": "user", "content": "x" * 5000}]}
    response = httpx.post(small_limit.base_url + "/chat/completions", json=big, headers={"Authorization": "Bearer k"})
    assert response.status_code == 413
    assert_valid(response.json(), "error.json")
    assert "1024" in response.json()["error"]["message"]


def test_oversized_chunked_body_is_413(small_limit: BackgroundServer) -> None:
    def parts() -> Iterator[bytes]:
        yield b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "'
        yield b"x" * 5000
        yield b'"}]}'
    response = httpx.post(small_limit.base_url + "/chat/completions", content=parts(),
                          headers={"Authorization": "Bearer k", "Content-Type": "application/json"})
    assert response.status_code == 413


def test_unknown_path_is_404_invalid_url(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completion", json=HELLO)
    assert response.status_code == 404
    assert response.json() == {"error": {"message": "Invalid URL (POST /v1/chat/completion)",
                                         "type": "invalid_request_error", "param": None, "code": None}}


def test_wrong_method_is_404_invalid_url(http: httpx.Client) -> None:
    response = http.delete("/v1/chat/completions")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Invalid URL (DELETE /v1/chat/completions)"


def test_listing_stored_completions_is_a_real_route(http: httpx.Client) -> None:
    response = http.get("/v1/chat/completions")
    assert response.status_code == 200
    assert response.json()["object"] == "list"


def test_unlisted_model_is_404_when_only_listed_models_are_served() -> None:
    with (
        BackgroundServer(Settings(port=0, accept_any_model=False, models=("gpt-4o",))) as only,
        openai.OpenAI(base_url=only.base_url, api_key="k", max_retries=0) as sdk,
    ):
        with pytest.raises(openai.NotFoundError) as caught:
            sdk.chat.completions.create(model="gpt-4.1-nano-wrong", messages=[{"role": "user", "content": "hi"}])
        assert caught.value.code == "model_not_found"
        assert sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}]).choices


# Values a careless client might put anywhere.
JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
VALID = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ],
    "tools": [WEATHER_TOOL],
    "temperature": 0.5,
    "n": 2,
    "stop": ["\n\n"],
    "max_completion_tokens": 50,
}


@st.composite
def mutated_requests(draw: st.DrawFn) -> Any:
    """A valid request with one to three random paths replaced, dropped or added."""
    body = json.loads(json.dumps(VALID))
    for _ in range(draw(st.integers(1, 3))):
        target: Any = body
        path = []
        while isinstance(target, (dict, list)) and target and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(target) if isinstance(target, dict) else range(len(target))))
            path.append(key)
            if not isinstance(target[key], (dict, list)):
                break
            target = target[key]
        action = draw(st.sampled_from(["replace", "drop", "add"]))
        if isinstance(target, dict):
            key = draw(st.sampled_from(sorted(target))) if target and action != "add" else draw(st.text(max_size=8))
            if action == "drop":
                target.pop(key, None)
            else:
                target[key] = draw(JUNK)
        elif isinstance(target, list) and target:
            index = draw(st.integers(0, len(target) - 1))
            if action == "drop":
                target.pop(index)
            else:
                target[index] = draw(JUNK)
    return draw(st.one_of(st.just(body), JUNK)) if draw(st.integers(0, 20)) == 0 else body


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=mutated_requests())
def test_mutated_requests_never_get_a_5xx_and_rejections_are_valid_envelopes(http: httpx.Client, body: Any) -> None:
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code < 500, response.text
    if response.status_code != 200:
        assert_valid(response.json(), "error.json")
        error = response.json()["error"]
        assert error["message"] and "Traceback" not in error["message"]
        assert error["param"] is None or isinstance(error["param"], str)
