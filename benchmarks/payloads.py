"""The requests the benchmark sends, and the fixed answers the baseline gives."""

from __future__ import annotations

import json
from typing import Any

MODEL = "gpt-4o-mini"
STREAM_CHUNKS = 50

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Current weather",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string"},
                "unit": {"enum": ["c", "f"]},
            },
            "required": ["location"],
        },
    },
}


def chat_request(*, stream: bool = False, **extra: Any) -> dict[str, Any]:
    """A realistic ~600-byte request: 4 messages (a tool round trip) and 1 tool."""
    body: dict[str, Any] = {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Boston weather today? Umbrella?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_abc123",
                        "type": "function",
                        "function": {"name": "get_current_weather", "arguments": "{\"location\": \"Boston\"}"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_abc123", "content": "{\"temp\": 18, \"rain\": 0.7}"},
        ],
        "tools": [WEATHER_TOOL],
    }
    if stream:
        body["stream"] = True
    body.update(extra)
    return body


def new_conversations(count: int) -> list[dict[str, Any]]:
    """`count` chat requests, each a conversation of its own: the tool call's id differs (and is
    as long as the usual one), so no two bodies, nor their messages, are the same."""
    conversations = []
    for i in range(count):
        body = chat_request()
        call_id = f"call_{i:06d}"
        body["messages"][2]["tool_calls"][0]["id"] = call_id
        body["messages"][3]["tool_call_id"] = call_id
        conversations.append(body)
    return conversations


# Structured output long enough (~50 tokens) that a 48-token limit always cuts it.
_FORECAST_FIELDS = ("summary", "advice", "city", "country", "conditions")
FORECAST_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "forecast",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                **{name: {"type": "string"} for name in _FORECAST_FIELDS},
                "temperature": {"type": "number"},
            },
            "required": [*_FORECAST_FIELDS, "temperature"],
            "additionalProperties": False,
        },
    },
}


def stream_request(seed: int) -> dict[str, Any]:
    """A streamed structured-output request cut at 48 tokens: role chunk, 48 token chunks, finish chunk."""
    limit = STREAM_CHUNKS - 2
    return chat_request(stream=True, seed=seed, max_completion_tokens=limit, response_format=FORECAST_FORMAT)


def encode(body: dict[str, Any]) -> bytes:
    """The compact JSON bytes a client (httpx, the openai SDK) sends."""
    return json.dumps(body, separators=(",", ":")).encode()


# The fixed answers of the baseline app: the shapes the emulator sends, built once.
COMPLETION: bytes = json.dumps(
    {
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "It is 18 degrees in Boston with a 70% chance of rain, so take an umbrella.",
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 112,
            "completion_tokens": 19,
            "total_tokens": 131,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306",
    },
    indent=2,
).encode()

def _chunk(delta: dict[str, Any], finish: str | None) -> bytes:
    body = {
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion.chunk",
        "created": 1741569952,
        "model": "gpt-4o-mini-2024-07-18",
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        "obfuscation": "aB3dE",
    }
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


# Role chunk, 48 one-token content chunks, finish chunk: 50 chunks, then [DONE].
STREAM: tuple[bytes, ...] = (
    _chunk({"role": "assistant", "content": "", "refusal": None}, None),
    *(_chunk({"content": " word"}, None) for _ in range(STREAM_CHUNKS - 2)),
    _chunk({}, "stop"),
    b"data: [DONE]\n\n",
)
