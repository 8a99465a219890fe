"""Streamed chat completions: the wire format, real clients (Python and Node), and delivery.

The live tests talk to the session's emulator; the delivery tests (pacing, faults) build a
Reply with a Delivery and render it in-process, or hand it to the live app's reply step.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import AsyncGeneratorType
from typing import Any

import httpx
import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessageToolCallUnion,
    ChatCompletionToolParam,
)

from emulator import render, tokens
from emulator import reply as replies
from emulator.app import Emulator
from emulator.server import BackgroundServer
from emulator.types import Delivery, Draft, DraftToolCall, Latency, Reply, Script, StreamFault
from tests.conftest import API_KEY, ChatRequest, assert_valid

NODE_DIR = Path(__file__).parent / "node"
UNPACED = Delivery()  # no latency, no fault, a token a chunk

STORY: ChatRequest = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Tell me about the sea."}], "seed": 7}
WEATHER: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city"],
        },
    },
}
LOCAL_TIME: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Local time in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
SEARCH: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "search_flights",
        "description": "Flights between two airports",
        "parameters": {
            "type": "object",
            "properties": {
                "route": {
                    "type": "object",
                    "properties": {"from": {"type": "string"}, "to": {"type": "string"}},
                    "required": ["from", "to"],
                },
                "passengers": {"type": "integer", "minimum": 1, "maximum": 9},
            },
            "required": ["route"],
        },
    },
}
# The generator's auto rule calls the best-matching tool and every other tool the user names.
TWO_CALLS: ChatRequest = {
    "model": "gpt-4o",
    "messages": [{"role": "user", "content": "Use get_weather and get_time for Paris."}],
    "tools": [WEATHER, LOCAL_TIME],
    "seed": 3,
}


# --- helpers ------------------------------------------------------------------------------


def raw_stream(http: httpx.Client, body: Mapping[str, Any]) -> tuple[httpx.Response, bytes]:
    """POST `body` with `stream: true` and read the raw response bytes."""
    with http.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as response:
        return response, response.read()


def sse_chunks(raw: bytes) -> list[dict[str, Any]]:
    """The chunks of an SSE body, failing unless each is `data: <compact JSON>` + blank line, then [DONE]."""
    assert raw.endswith(b"data: [DONE]\n\n")
    events = raw[: -len(b"data: [DONE]\n\n")].split(b"\n\n")
    assert events.pop() == b""  # the last chunk's blank line
    out = []
    for event in events:
        assert event.startswith(b"data: ") and b"\n" not in event and b"\r" not in event
        text = event[len(b"data: ") :].decode()
        chunk = json.loads(text)
        assert json.dumps(chunk, separators=(",", ":"), ensure_ascii=False) == text  # compact
        out.append(chunk)
    return out


def stream_chunks(http: httpx.Client, body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The chunks the live emulator streams for `body`."""
    response, raw = raw_stream(http, body)
    assert response.status_code == 200
    return sse_chunks(raw)


def deltas(chunks: list[dict[str, Any]], index: int = 0) -> list[dict[str, Any]]:
    """The choice entries of choice `index`, in stream order."""
    return [c for chunk in chunks for c in chunk["choices"] if c["index"] == index]


def said(completion: ChatCompletion) -> dict[str, Any]:
    """What a completion says, with the parts that differ between two calls (ids, created) aside."""
    return {
        "model": completion.model,
        "system_fingerprint": completion.system_fingerprint,
        "choices": [
            {
                "index": c.index,
                "finish_reason": c.finish_reason,
                "content": c.message.content,
                "refusal": c.message.refusal,
                "tool_calls": [_function_call(t) for t in c.message.tool_calls or ()],
                "logprobs": c.logprobs.model_dump() if c.logprobs else None,
            }
            for c in completion.choices
        ],
        "usage": completion.usage.model_dump() if completion.usage else None,
    }


def _function_call(call: ChatCompletionMessageToolCallUnion) -> tuple[str, str]:
    assert call.type == "function"
    return call.function.name, call.function.arguments


def folded(chunks: Iterable[ChatCompletionChunk]) -> ChatCompletion:
    """The completion the Python SDK's own accumulator rebuilds from `chunks`."""
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for chunk in chunks:
        state.handle_chunk(chunk)
    return state.current_completion_snapshot


def scripted_reply(request: Mapping[str, Any], *drafts: Draft, delivery: Delivery = UNPACED) -> Reply:
    """The Reply the emulator builds for `request` when a fixture says `drafts`."""
    return replies.build_reply(dict(request), Script(drafts=drafts, source="test", delivery=delivery), seed=11)


async def collect(stream: AsyncIterator[bytes]) -> list[bytes]:
    """Everything an async byte stream yields."""
    return [data async for data in stream]


def sse_bytes(reply: Reply, **options: Any) -> list[bytes]:
    """Every byte string render.sse yields for `reply`."""
    return asyncio.run(collect(render.sse(reply, **options)))


def streamed_chunks(reply: Reply, *, include_usage: bool = False) -> list[dict[str, Any]]:
    """The chunks render.sse sends for `reply`, unpadded, as a client decodes them."""
    return sse_chunks(b"".join(sse_bytes(reply, include_usage=include_usage, obfuscate=False)))


@pytest.fixture
def delivery(emulator: Emulator) -> Callable[[dict[str, Any]], None]:
    """Script how every reply travels (pacing, fault) with a fixture; the generator says the rest."""

    def use(how: dict[str, Any]) -> None:
        emulator.fixtures.clear_runtime()
        if how:
            emulator.add_fixture({"name": "delivery", "match": {}, "reply": {"generate": True, **how}})

    return use


def server_tasks(server: BackgroundServer) -> int:
    """Tasks alive on the live server's event loop, the probe itself aside."""
    loop = server._server.servers[0].get_loop()  # uvicorn's loop, reached through its listening socket

    async def probe() -> int:
        return len(asyncio.all_tasks() - {asyncio.current_task()})

    return asyncio.run_coroutine_threadsafe(probe(), loop).result(timeout=5)


# --- the wire -----------------------------------------------------------------------------


def test_stream_is_an_event_stream_of_compact_data_events_ending_in_done(http: httpx.Client) -> None:
    response, raw = raw_stream(http, STORY)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert "content-length" not in response.headers  # chunked, as the real API streams
    assert response.headers["x-request-id"].startswith("req_")
    assert len(sse_chunks(raw)) > 3  # role, content..., finish


def test_every_chunk_shares_one_id_created_model_and_fingerprint(http: httpx.Client) -> None:
    chunks = stream_chunks(http, STORY)
    for field in ("id", "created", "model", "system_fingerprint", "service_tier"):
        assert len({chunk[field] for chunk in chunks}) == 1, field
    assert re.fullmatch(r"chatcmpl-[A-Za-z0-9]{29}", chunks[0]["id"])
    assert chunks[0]["model"] == "gpt-4o-2024-08-06"
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    order = ["id", "object", "created", "model", "service_tier", "system_fingerprint", "choices", "obfuscation"]
    assert all(list(chunk) == order for chunk in chunks)
    assert all(list(choice) == ["index", "delta", "logprobs", "finish_reason"] for choice in deltas(chunks))


def test_role_comes_once_then_content_then_an_empty_finish_delta(http: httpx.Client) -> None:
    first, *middle, last = deltas(stream_chunks(http, STORY))
    assert first["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert middle and all(list(c["delta"]) == ["content"] for c in middle)
    assert all(c["finish_reason"] is None and c["logprobs"] is None for c in [first, *middle])
    assert last == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}


def test_content_deltas_are_the_token_pieces_of_the_reply(http: httpx.Client, client: openai.OpenAI) -> None:
    text = client.chat.completions.create(**STORY).choices[0].message.content or ""
    pieces = [c["delta"]["content"] for c in deltas(stream_chunks(http, STORY))[1:-1]]
    assert pieces == list(tokens.pieces(text, "gpt-4o"))


def test_tokens_per_chunk_groups_that_many_pieces_into_each_delta(client: openai.OpenAI, emulator: Emulator) -> None:
    text = "The quick brown fox jumps over the lazy dog, twice: the quick brown fox jumps again."
    emulator.add_fixture({"name": "grouped", "match": {}, "reply": {"content": text, "chunking": {"tokens_per_chunk": 3}}})
    sent = [c.choices[0].delta.content for c in client.chat.completions.create(**STORY, stream=True) if c.choices]
    pieces = tokens.pieces(text, "gpt-4o")
    assert [s for s in sent if s] == ["".join(pieces[i : i + 3]) for i in range(0, len(pieces), 3)]


@pytest.mark.parametrize(
    "body",
    [
        STORY,
        {**TWO_CALLS, "stream_options": {"include_usage": True}},
        {**STORY, "n": 3, "logprobs": True, "top_logprobs": 2, "stream_options": {"include_usage": True}},
        {**STORY, "model": "gpt-4.1-mini", "stream_options": {"include_obfuscation": False}},
    ],
    ids=["text", "tools+usage", "n3+logprobs+usage", "no-obfuscation"],
)
def test_every_chunk_fits_the_spec_chunk_schema(http: httpx.Client, body: dict[str, Any]) -> None:
    for chunk in stream_chunks(http, body):
        assert_valid(chunk, "chat-completions.chunk.json")


def test_without_include_usage_no_chunk_has_a_usage_key(http: httpx.Client) -> None:
    assert not any("usage" in chunk for chunk in stream_chunks(http, STORY))


def test_include_usage_adds_null_usage_everywhere_and_a_final_usage_chunk(http: httpx.Client) -> None:
    *chunks, last = stream_chunks(http, {**STORY, "stream_options": {"include_usage": True}})
    assert all(chunk["usage"] is None and chunk["choices"] for chunk in chunks)
    assert list(last) == ["id", "object", "created", "model", "service_tier", "system_fingerprint",
                          "choices", "usage", "obfuscation"]
    assert last["choices"] == []
    assert last["usage"] == http.post("/v1/chat/completions", json=STORY).json()["usage"]


def test_obfuscation_pads_every_chunk_unless_turned_off(http: httpx.Client) -> None:
    usage = {"include_usage": True}
    padded = stream_chunks(http, {**STORY, "stream_options": usage})
    assert all(re.fullmatch(r"[A-Za-z0-9]{0,15}", chunk["obfuscation"]) for chunk in padded)
    assert len({chunk["obfuscation"] for chunk in padded}) > 1
    bare = stream_chunks(http, {**STORY, "stream_options": {**usage, "include_obfuscation": False}})
    assert not any("obfuscation" in chunk for chunk in bare)


def test_tool_call_fragments_name_each_call_once_then_carry_only_arguments(http: httpx.Client) -> None:
    first, *middle, last = deltas(stream_chunks(http, TWO_CALLS))
    opening = first["delta"].pop("tool_calls")
    assert first["delta"] == {"role": "assistant", "content": None, "refusal": None}
    fragments = opening + [f for c in middle for f in c["delta"].pop("tool_calls")]
    assert all(c["delta"] == {} for c in middle)  # tool-call chunks carry nothing else
    assert [f["index"] for f in fragments] == sorted(f["index"] for f in fragments)  # calls in turn
    assert {f["index"] for f in fragments} == {0, 1}
    for index in (0, 1):
        head, *rest = [f for f in fragments if f["index"] == index]
        assert list(head) == ["index", "id", "type", "function"] and head["type"] == "function"
        assert re.fullmatch(r"call_[A-Za-z0-9]{24}", head["id"])
        assert head["function"]["arguments"] == "" and head["function"]["name"]
        assert rest and all(list(f) == ["index", "function"] and list(f["function"]) == ["arguments"] for f in rest)
        assert isinstance(json.loads("".join(f["function"]["arguments"] for f in rest)), dict)
    assert last["delta"] == {} and last["finish_reason"] == "tool_calls"


def test_a_named_tool_choice_streams_its_call_with_finish_reason_stop(http: httpx.Client) -> None:
    named = {**TWO_CALLS, "tool_choice": {"type": "function", "function": {"name": "get_time"}}}
    choices = deltas(stream_chunks(http, named))
    assert choices[0]["delta"]["tool_calls"][0]["function"]["name"] == "get_time"
    assert choices[-1]["finish_reason"] == "stop"


def test_n_choices_take_turns_each_with_its_own_role_and_finish(http: httpx.Client) -> None:
    chunks = stream_chunks(http, {**STORY, "n": 3, "stream_options": {"include_usage": True}})
    assert all(len(chunk["choices"]) == 1 for chunk in chunks[:-1])
    assert [chunk["choices"][0]["index"] for chunk in chunks[:3]] == [0, 1, 2]  # interleaved from the start
    for index in range(3):
        entries = deltas(chunks, index)
        assert ["role" in e["delta"] for e in entries].count(True) == 1 and "role" in entries[0]["delta"]
        assert [e["finish_reason"] is not None for e in entries] == [False] * (len(entries) - 1) + [True]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] is not None  # usage after every finish


def test_logprobs_ride_on_the_content_chunks(http: httpx.Client) -> None:
    first, *middle, last = deltas(stream_chunks(http, {**STORY, "logprobs": True, "top_logprobs": 2}))
    assert first["logprobs"] == {"content": [], "refusal": None}
    for entry in middle:
        scored = entry["logprobs"]["content"]
        assert "".join(t["token"] for t in scored) == entry["delta"]["content"]
        assert all(len(t["top_logprobs"]) == 2 and t["bytes"] == list(t["token"].encode()) for t in scored)
    assert last["logprobs"] is None


def test_refusal_streams_as_refusal_deltas_scored_under_refusal() -> None:
    refusal = "I'm sorry, but I can't help with that."
    reply = scripted_reply({**STORY, "logprobs": True}, Draft(refusal=refusal))
    first, *middle, last = deltas(streamed_chunks(reply))
    assert first["delta"] == {"role": "assistant", "content": None, "refusal": ""}
    assert first["logprobs"] == {"content": None, "refusal": []}
    assert all(list(c["delta"]) == ["refusal"] and c["logprobs"]["content"] is None for c in middle)
    assert "".join(c["delta"]["refusal"] for c in middle) == refusal
    assert [t["token"] for c in middle for t in c["logprobs"]["refusal"]] == list(tokens.pieces(refusal, "gpt-4o"))
    assert last["finish_reason"] == "stop" and last["logprobs"] is None


@pytest.mark.parametrize(
    ("request_extra", "drafts", "per_chunk"),
    [
        ({"logprobs": True}, (Draft(refusal="I can't help with that."),), 1),
        ({}, (Draft(content="Let me look.", tool_calls=(DraftToolCall("get_time", '{"city": "Oslo"}'),)),), 1),
        ({"n": 3, "logprobs": True, "top_logprobs": 3}, (Draft(content="Über 9000 € — naïve café ✓"),), 2),
        ({"n": 2}, (Draft(content="Yes."), Draft(refusal="No.")), 5),
        ({"max_completion_tokens": 7}, (Draft(tool_calls=(DraftToolCall("a", '{"x": "yz"}'),) * 2),), 1),
    ],
    ids=["refusal+logprobs", "content+call", "n3+unicode+logprobs", "text-and-refusal", "calls-cut-by-length"],
)
def test_a_scripted_reply_streams_what_it_says_unstreamed(
    request_extra: dict[str, Any], drafts: tuple[Draft, ...], per_chunk: int
) -> None:
    reply = scripted_reply({**STORY, **request_extra}, *drafts, delivery=Delivery(tokens_per_chunk=per_chunk))
    unstreamed = ChatCompletion.model_validate(render.completion_body(reply))
    streamed = folded(ChatCompletionChunk.model_validate(c) for c in streamed_chunks(reply, include_usage=True))
    assert said(streamed) == said(unstreamed)


def test_errors_found_before_the_stream_are_plain_json(http: httpx.Client, client: openai.OpenAI) -> None:
    response, raw = raw_stream(http, {**STORY, "n": 0})
    assert response.status_code == 400 and response.headers["content-type"] == "application/json"
    assert json.loads(raw)["error"]["param"] == "n"
    with pytest.raises(openai.BadRequestError, match="'tool_choice' is only allowed when 'tools' are specified"):
        client.chat.completions.create(**STORY | {"tool_choice": "auto"}, stream=True)


# --- the official Python SDK ---------------------------------------------------------------


def test_sdk_plain_iteration_spells_the_unstreamed_reply(client: openai.OpenAI) -> None:
    expected = client.chat.completions.create(**STORY).choices[0]
    text, finish = "", None
    for chunk in client.chat.completions.create(**STORY, stream=True):
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    assert text == expected.message.content and finish == expected.finish_reason == "stop"


def test_sdk_stream_helper_rebuilds_the_text(client: openai.OpenAI) -> None:
    expected = client.chat.completions.create(**STORY).choices[0].message.content
    text = ""
    with client.chat.completions.stream(**STORY) as stream:
        for event in stream:
            if event.type == "content.delta":
                text += event.delta
        final = stream.get_final_completion()
    assert text == final.choices[0].message.content == expected
    assert final.choices[0].message.role == "assistant"  # sent once, not concatenated


def test_sdk_stream_helper_rebuilds_two_parallel_tool_calls(client: openai.OpenAI) -> None:
    expected = client.chat.completions.create(**TWO_CALLS).choices[0]
    with client.chat.completions.stream(**TWO_CALLS) as stream:
        done = [event.name for event in stream if event.type == "tool_calls.function.arguments.done"]
        final = stream.get_final_completion().choices[0]
    calls = final.message.tool_calls or []
    assert [c.function.name for c in calls] == done == ["get_weather", "get_time"]
    assert [(c.function.name, c.function.arguments) for c in calls] == [
        _function_call(c) for c in expected.message.tool_calls or ()
    ]
    assert all(isinstance(json.loads(c.function.arguments)["city"], str) for c in calls)
    assert len({c.id for c in calls}) == 2
    assert final.finish_reason == "tool_calls" and final.message.content is None


@pytest.mark.anyio
async def test_async_sdk_streams_the_unstreamed_reply(async_client: openai.AsyncOpenAI) -> None:
    expected = (await async_client.chat.completions.create(**STORY)).choices[0].message.content
    text = ""
    async for chunk in await async_client.chat.completions.create(**STORY, stream=True):
        text += "".join(choice.delta.content or "" for choice in chunk.choices)
    assert text == expected


@pytest.mark.anyio
async def test_a_hundred_concurrent_async_streams_all_complete(async_client: openai.AsyncOpenAI) -> None:
    async def one(seed: int) -> tuple[str, str | None]:
        text, finish = "", None
        stream = await async_client.chat.completions.create(**STORY | {"seed": seed}, stream=True)
        async for chunk in stream:
            for choice in chunk.choices:
                text += choice.delta.content or ""
                finish = choice.finish_reason or finish
        return text, finish

    results = await asyncio.gather(*(one(seed) for seed in range(100)))
    assert all(text and finish == "stop" for text, finish in results)
    assert len({text for text, _ in results}) > 90  # each stream carried its own reply


# --- one reply, two renderings ---------------------------------------------------------------

PROMPTS = [
    "Tell me about the sea.",
    "Use get_weather and get_time for Paris, then search_flights.",
    "Quel temps fait-il à Paris ?",
    "波士顿今天的天气怎么样?",
]
TOOLS: list[ChatCompletionToolParam] = [WEATHER, LOCAL_TIME, SEARCH]


@st.composite
def chat_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A valid request mixing the fields that shape or cut a reply."""
    prompt = draw(st.sampled_from(PROMPTS))
    body: dict[str, Any] = {
        "model": draw(st.sampled_from(["gpt-4o", "gpt-4.1-mini", "gpt-3.5-turbo", "gpt-4", "o4-mini", "gpt-5-nano"])),
        "messages": [{"role": "user", "content": prompt}],
        "seed": draw(st.integers(0, 2**31)),
        "n": draw(st.integers(1, 3)),
    }
    if draw(st.booleans()):
        body["stop"] = draw(st.sampled_from([".", " the", ["e", "，"], ["\n", "a"], "zzz"]))
    if draw(st.booleans()):
        body["max_completion_tokens"] = draw(st.integers(1, 40))
    if draw(st.booleans()):
        body["logprobs"] = True
        body["top_logprobs"] = draw(st.integers(0, 4))
    kind = draw(st.sampled_from(["text", "tools", "json"]))
    if kind == "tools":
        tools = st.lists(st.sampled_from(TOOLS), min_size=1, max_size=3, unique_by=lambda t: t["function"]["name"])
        body["tools"] = draw(tools)
        named = {"type": "function", "function": {"name": body["tools"][-1]["function"]["name"]}}
        body["tool_choice"] = draw(st.sampled_from(["auto", "required", "none", named]))
        body["parallel_tool_calls"] = draw(st.booleans())
    elif kind == "json":
        body["response_format"] = {"type": "json_object"}
        body["messages"] = [{"role": "user", "content": prompt + " Answer in JSON."}]
    return body


@pytest.fixture(scope="module")
def sdk(server: BackgroundServer) -> Iterator[openai.OpenAI]:
    """One SDK client for the property test (hypothesis runs many examples per test call)."""
    with openai.OpenAI(base_url=server.base_url, api_key=API_KEY, max_retries=0) as client:
        yield client


@settings(max_examples=80, deadline=None)
@given(body=chat_requests())
def test_stream_and_plain_reply_say_the_same_for_any_request(sdk: openai.OpenAI, body: dict[str, Any]) -> None:
    plain = sdk.chat.completions.create(**body)
    streamed = folded(sdk.chat.completions.create(**body, stream=True, stream_options={"include_usage": True}))
    assert said(streamed) == said(plain)
    assert all(call.id.startswith("call_") for c in streamed.choices for call in c.message.tool_calls or ())


# --- the official Node SDK -------------------------------------------------------------------


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The node executable, with the `openai` npm package installed in tests/node (once, from the lock file)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to run the official openai npm package")
    # xdist workers share the parent of their temp dirs; the lock keeps two installs apart.
    with open(tmp_path_factory.getbasetemp().parent / "npm-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (NODE_DIR / "node_modules" / "openai" / "package.json").exists():
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, capture_output=True, timeout=300
            )
    return node


@pytest.fixture(scope="module")
def node_streams(node: str, server: BackgroundServer) -> list[dict[str, Any]]:
    """What the Node stream helper reports for the text request and the two-call request."""
    requests = [STORY, TWO_CALLS]
    payload = json.dumps({"baseURL": server.base_url, "apiKey": API_KEY, "requests": requests})
    done = subprocess.run(
        [node, "stream.mjs"], cwd=NODE_DIR, input=payload, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


def test_node_final_chat_completion_equals_the_streamed_text(
    node_streams: list[dict[str, Any]], client: openai.OpenAI
) -> None:
    story = node_streams[0]
    (choice,) = story["final"]["choices"]
    assert story["deltas"]["content"] == choice["message"]["content"]
    assert choice["message"]["content"] == client.chat.completions.create(**STORY).choices[0].message.content
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "stop"


def test_node_tool_call_deltas_rebuild_into_valid_json_arguments(node_streams: list[dict[str, Any]]) -> None:
    tools = node_streams[1]
    rebuilt = tools["deltas"]["toolCalls"]
    final = tools["final"]["choices"][0]
    assert [c["name"] for c in rebuilt] == ["get_weather", "get_time"]
    assert all(isinstance(json.loads(c["arguments"])["city"], str) for c in rebuilt)
    assert [
        {"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]}
        for c in final["message"]["tool_calls"]
    ] == rebuilt
    assert final["finish_reason"] == "tool_calls"


# --- delivery: pacing, faults, disconnects -----------------------------------------------------


def test_latency_paces_the_first_chunk_and_each_token() -> None:
    text = "One two three four five six seven eight."
    pacing = Delivery(latency=Latency(first_token_ms=80, per_token_ms=10))
    reply = scripted_reply(STORY, Draft(content=text), delivery=pacing)

    async def arrivals() -> list[float]:
        started = time.perf_counter()
        return [time.perf_counter() - started async for _ in render.sse(reply)]

    times = asyncio.run(arrivals())
    assert 0.08 <= times[0] < 0.2
    assert times[-1] >= 0.08 + 0.01 * len(tokens.pieces(text, "gpt-4o"))


def test_cancelling_a_paced_stream_stops_its_generator_at_once() -> None:
    reply = scripted_reply(STORY, Draft(content="word " * 200), delivery=Delivery(latency=Latency(per_token_ms=50)))
    stream = render.sse(reply)
    assert isinstance(stream, AsyncGeneratorType)  # so that ag_frame tells below whether it finished

    async def read_three_then_cancel() -> float:
        # What Starlette does when the client goes away: cancel the task that is iterating.
        received = 0

        async def consume() -> None:
            nonlocal received
            async for _ in stream:
                received += 1

        task = asyncio.create_task(consume())
        while received < 3:
            await asyncio.sleep(0.005)
        started = time.perf_counter()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.perf_counter() - started

    assert asyncio.run(read_three_then_cancel()) < 0.05
    assert stream.ag_frame is None  # finished: nothing left to resume or clean up


def test_an_error_fault_replaces_the_rest_of_the_stream_with_an_error_event() -> None:
    fault = StreamFault(kind="error", after_chunks=2, message="Boom mid-stream.", code="server_error")
    sent = sse_bytes(scripted_reply(STORY, Draft(content="Hello there, friend."), delivery=Delivery(fault=fault)))
    assert len(sent) == 3 and all(data.startswith(b'data: {"id":"chatcmpl-') for data in sent[:2])
    assert sent[2] == (
        b'data: {"error":{"message":"Boom mid-stream.","type":"server_error","param":null,"code":"server_error"}}\n\n'
    )


def test_a_fault_after_the_last_chunk_comes_instead_of_done() -> None:
    late = Delivery(fault=StreamFault(kind="error", after_chunks=99))
    reply = scripted_reply(STORY, Draft(content="Hi."), delivery=late)
    sent = sse_bytes(reply, include_usage=True)
    whole = streamed_chunks(scripted_reply(STORY, Draft(content="Hi.")), include_usage=True)  # the same, unfaulted
    assert len(sent) == len(whole) + 1
    assert b'"error"' in sent[-1] and render.DONE not in sent


def test_a_disconnect_fault_raises_after_its_chunks() -> None:
    reply = scripted_reply(STORY, Draft(content="Hello there."), delivery=Delivery(fault=StreamFault("disconnect", 2)))

    async def read() -> list[bytes]:
        sent: list[bytes] = []
        with pytest.raises(render.StreamDisconnect):
            async for data in render.sse(reply):
                sent.append(data)
        return sent

    assert len(asyncio.run(read())) == 2


def test_sdk_raises_api_error_on_a_mid_stream_error_event(
    client: openai.OpenAI, delivery: Callable[[dict[str, Any]], None]
) -> None:
    delivery({"fault": {"kind": "error", "after_chunks": 3, "message": "The engine stalled."}})
    received: list[ChatCompletionChunk] = []
    with pytest.raises(openai.APIError, match="The engine stalled."):
        received.extend(client.chat.completions.create(**STORY, stream=True))
    assert len(received) == 3


def test_sdk_fails_on_a_malformed_chunk(
    client: openai.OpenAI, delivery: Callable[[dict[str, Any]], None]
) -> None:
    delivery({"fault": {"kind": "malformed", "after_chunks": 1}})
    with pytest.raises(json.JSONDecodeError):
        list(client.chat.completions.create(**STORY, stream=True))


@pytest.mark.parametrize(
    ("body", "pacing"),
    [
        # 128 interleaved choices at 1 ms a token: thousands of chunks, seconds of stream.
        ({**STORY, "n": 128}, {"latency": {"per_token_ms": 1}}),
        (STORY, {"latency": {"per_token_ms": 100}}),
    ],
    ids=["long-n128", "slow"],
)
def test_a_client_leaving_mid_stream_stops_it_quietly_and_the_server_keeps_serving(
    server: BackgroundServer,
    http: httpx.Client,
    delivery: Callable[[dict[str, Any]], None],
    server_errors: Callable[[], list[str]],
    body: dict[str, Any],
    pacing: dict[str, Any],
) -> None:
    delivery(pacing)
    idle = server_tasks(server)
    with http.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as response:
        events = (line for line in response.iter_lines() if line)
        assert all(next(events).startswith("data: {") for _ in range(3))
        assert server_tasks(server) > idle  # the stream is still being served as the client leaves
    # Leaving the block closed the connection mid-body; the stream's task must go at once.
    deadline = time.monotonic() + 1  # either stream would run on for seconds
    while server_tasks(server) > idle and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server_tasks(server) == idle
    delivery({})  # the next request answers at once
    assert http.post("/v1/chat/completions", json=STORY).status_code == 200
    assert server_errors() == []
