"""Fixtures seen from the official SDK: agent loops, retries, broken streams, strict mode, latency."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator

import httpx
import openai
import pytest
from openai.types.chat import (
    ChatCompletionMessage,
    ChatCompletionMessageParam,
    ChatCompletionMessageToolCallParam,
    ChatCompletionToolParam,
)

from emulator.app import Emulator, EmulatorApp, create_app
from emulator.server import BackgroundServer
from emulator.settings import Settings
from tests.conftest import API_KEY

WEATHER_TOOL: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}

# The whole agent loop, scripted: a tool call while there is no tool result, then an answer
# built from the result. Posted as YAML, as a test or a curl user would.
AGENT_LOOP = """
fixtures:
  - name: final-answer
    match:
      model: gpt-4o
      has_tool_result: true
    reply:
      content: "In Paris it is {{ tool_result }}."
  - name: call-weather
    match:
      model: gpt-4o
      tools: [get_weather]
      last_user: {contains: weather}
    reply:
      tool_calls:
        - name: get_weather
          arguments: {city: Paris}
"""


def weather(city: str) -> str:
    """The agent's local tool."""
    return f"18°C and sunny ({city})"


def run_agent(client: openai.OpenAI, *, stream: bool) -> tuple[str, list[str]]:
    """A minimal agent: call the model, run the tools it asks for, until it answers."""
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "What's the weather in Paris?"}]
    called: list[str] = []
    for _ in range(5):
        message: ChatCompletionMessage
        if stream:
            with client.chat.completions.stream(model="gpt-4o", messages=messages, tools=[WEATHER_TOOL]) as events:
                message = events.get_final_completion().choices[0].message
        else:
            message = client.chat.completions.create(
                model="gpt-4o", messages=messages, tools=[WEATHER_TOOL]
            ).choices[0].message
        if not message.tool_calls:
            return message.content or "", called
        calls: list[ChatCompletionMessageToolCallParam] = [
            {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
            for c in message.tool_calls
            if c.type == "function"
        ]
        # Built field by field: the stream helper's tool calls carry an `index` the API refuses.
        messages.append({"role": "assistant", "content": message.content, "tool_calls": calls})
        for call in message.tool_calls:
            assert call.type == "function"
            called.append(call.function.name)
            result = weather(**json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    raise AssertionError("the agent never answered")


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_an_agent_loop_runs_on_a_fixture_alone(
    client: openai.OpenAI, http: httpx.Client, emulator: Emulator, stream: bool
) -> None:
    added = http.post("/_emulator/fixtures", content=AGENT_LOOP, headers={"content-type": "application/yaml"})
    assert added.status_code == 201, added.text
    answer, called = run_agent(client, stream=stream)
    assert called == ["get_weather"]
    assert answer == "In Paris it is 18°C and sunny (Paris)."
    assert [e.fixture for e in emulator.journal] == ["call-weather", "final-answer"]


def test_the_sdk_retries_a_scripted_429_and_the_journal_shows_both_attempts(
    server: BackgroundServer, emulator: Emulator
) -> None:
    emulator.add_fixture({"name": "flaky", "match": {}, "reply": {"content": "made it", "fault": {
        "status": 429, "headers": {"retry-after": "0.01"}, "fail_times": 1}}})
    with openai.OpenAI(base_url=server.base_url, api_key=API_KEY) as sdk:  # default retries
        completion = sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert completion.choices[0].message.content == "made it"
    entries = emulator.journal.entries()
    assert [(e.status, e.fixture) for e in entries] == [(429, "flaky"), (200, "flaky")]
    assert [e.headers["x-stainless-retry-count"] for e in entries] == ["0", "1"]
    assert entries[0].reply == {"error": {
        "message": "Rate limit reached for gpt-4o in organization org-emulator on requests per min (RPM): Limit 60, "
                   "Used 60, Requested 1. Please try again in 0.01s. Visit "
                   "https://platform.openai.com/account/rate-limits to learn more.",
        "type": "requests", "param": None, "code": "rate_limit_exceeded"}}


def test_a_scripted_error_reaches_the_sdk_as_its_exception(client: openai.OpenAI, emulator: Emulator) -> None:
    emulator.add_fixture({"name": "down", "match": {}, "reply": {"fault": {
        "status": 503, "headers": {"x-should-retry": False}}}})
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 503
    assert caught.value.body == {"message": "The engine is currently overloaded, please try again later",
                                 "type": "server_error", "param": None, "code": None}
    assert caught.value.response.headers["x-should-retry"] == "false"


def test_x_should_retry_false_stops_the_sdks_retries(server: BackgroundServer, emulator: Emulator) -> None:
    emulator.add_fixture({"name": "down", "match": {}, "reply": {"fault": {
        "status": 500, "headers": {"x-should-retry": False}}}})
    with openai.OpenAI(base_url=server.base_url, api_key=API_KEY) as sdk, pytest.raises(openai.InternalServerError):
        sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert len(emulator.journal) == 1


def _stream_text(client: openai.OpenAI) -> str:
    text = ""
    stream = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
    return text


def test_a_mid_stream_error_event_is_the_sdks_api_error(client: openai.OpenAI, emulator: Emulator) -> None:
    emulator.add_fixture({"name": "cut", "match": {}, "reply": {
        "content": "one two three four five six", "fault": {"kind": "error", "after_chunks": 3, "message": "boom"}}})
    with pytest.raises(openai.APIError) as caught:
        _stream_text(client)
    assert caught.value.message == "boom"
    assert not isinstance(caught.value, openai.APIStatusError)  # it came after the 200


def _dropped_connection_errors() -> tuple[type[BaseException], ...]:
    """What the SDK's HTTP stack raises when a body is cut short (openai 3.x rides on httpx2)."""
    errors: list[type[BaseException]] = [openai.APIConnectionError, httpx.TransportError]
    for module, name in (("httpx2", "TransportError"), ("httpcore2", "ProtocolError")):
        try:
            errors.append(getattr(importlib.import_module(module), name))
        except ImportError:
            pass
    return tuple(errors)


DROPPED_CONNECTION = _dropped_connection_errors()


def test_a_mid_stream_disconnect_is_a_connection_error(
    client: openai.OpenAI, emulator: Emulator, server_errors: Callable[[], list[str]]
) -> None:
    emulator.add_fixture({"name": "drop", "match": {}, "reply": {
        "content": "one two three four five six", "fault": {"kind": "disconnect", "after_chunks": 2}}})
    with pytest.raises(DROPPED_CONNECTION):
        _stream_text(client)
    assert server_errors() == []  # asked for, so not logged as a crash
    assert emulator.crashes == []


def test_a_stream_fault_with_fail_times_breaks_once_then_streams_whole(
    client: openai.OpenAI, emulator: Emulator
) -> None:
    emulator.add_fixture({"name": "once", "match": {}, "reply": {
        "content": "all of it", "fault": {"kind": "malformed", "after_chunks": 1, "fail_times": 1}}})
    with pytest.raises(json.JSONDecodeError):
        _stream_text(client)
    assert _stream_text(client) == "all of it"


def test_a_sequence_answers_successive_sdk_calls_in_order(client: openai.OpenAI, emulator: Emulator) -> None:
    emulator.add_fixture({"name": "steps", "match": {}, "sequence": [{"content": "first"}, {"content": "then"}]})
    said = [
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        .choices[0].message.content
        for _ in range(3)
    ]
    assert said == ["first", "then", "then"]


def test_a_fixture_reply_is_spelled_the_same_streamed_and_not(client: openai.OpenAI, emulator: Emulator) -> None:
    emulator.add_fixture({"name": "same", "match": {}, "reply": {
        "content": "Bonjour {{ last_user }}", "chunking": {"tokens_per_chunk": 2}}})
    plain = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert plain.choices[0].message.content == _stream_text(client) == "Bonjour hi"


def test_refusal_finish_reason_and_usage_come_through(client: openai.OpenAI, emulator: Emulator) -> None:
    emulator.add_fixture({"name": "no", "match": {}, "reply": {
        "refusal": "I can't help with that.", "finish_reason": "content_filter",
        "usage": {"prompt_tokens": 1000, "cached_tokens": 400}}})
    completion = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    choice = completion.choices[0]
    assert (choice.message.content, choice.message.refusal, choice.finish_reason) == (
        None, "I can't help with that.", "content_filter")
    assert completion.usage is not None
    assert completion.usage.prompt_tokens_details is not None
    assert (completion.usage.prompt_tokens, completion.usage.prompt_tokens_details.cached_tokens) == (1000, 400)
    assert completion.usage.total_tokens == 1000 + completion.usage.completion_tokens


def in_process_sdk(app: EmulatorApp) -> openai.AsyncOpenAI:
    """The async SDK, default retries, talking to `app` in this process (no socket)."""
    http_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    # openai 3.x takes an httpx client as well as one of its own httpx2, but annotates only httpx2.
    return openai.AsyncOpenAI(base_url="http://emulator/v1", api_key=API_KEY, http_client=http_client)  # type: ignore[arg-type]


@pytest.fixture
def strict_app() -> Iterator[EmulatorApp]:
    app = create_app(Settings(strict=True))
    app.state.emulator.add_fixture({"name": "weather", "match": {"last_user": {"contains": "weather"}},
                                    "reply": {"content": "sunny"}})
    yield app


@pytest.mark.anyio
async def test_strict_mode_answers_a_miss_with_a_diagnosis_the_sdk_does_not_retry(strict_app: EmulatorApp) -> None:
    async with in_process_sdk(strict_app) as sdk:  # default retries: the 400 and x-should-retry: false stop them
        with pytest.raises(openai.BadRequestError) as caught:
            await sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hello"}])
        hit = await sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "weather?"}])
    assert caught.value.body == {
        "message": "No fixture matches this request (strict mode). Closest fixtures:\n"
                   "- 'weather' (runtime): last_user: wanted containing 'weather', got 'Hello'",
        "type": "invalid_request_error", "param": None, "code": "fixture_not_found"}
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert hit.choices[0].message.content == "sunny"
    assert [e.status for e in strict_app.state.emulator.journal] == [400, 200]


@pytest.mark.anyio
async def test_a_non_streamed_reply_waits_as_long_as_its_stream_would(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr("emulator.app.sleep", sleep)  # the app's own: uvicorn's loop sleeps too
    app = create_app(Settings())
    app.state.emulator.add_fixture({"name": "slow", "match": {}, "reply": {
        "content": "one two three", "latency": {"first_token_ms": 200, "per_token_ms": 50}}})
    async with in_process_sdk(app) as sdk:
        completion = await sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert completion.usage is not None and completion.usage.completion_tokens == 3
    assert slept == [pytest.approx((200 + 3 * 50) / 1000)]
