"""A small app under test: a weather agent and a streaming summariser on the openai SDK.

Nothing here knows about the emulator: `OpenAI()` reads OPENAI_BASE_URL and OPENAI_API_KEY,
and the tests point those at a local emulator.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from openai import OpenAI
from openai.types.chat import ChatCompletionToolParam

TOOLS: list[ChatCompletionToolParam] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "City name"}},
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    }
]


def get_weather(city: str) -> dict[str, Any]:
    """Stands in for a real weather service."""
    return {"city": city, "temperature_c": 21, "sky": "clear"}


def answer(question: str, client: OpenAI | None = None, model: str = "gpt-4o", max_turns: int = 5) -> str:
    """Ask the model, run the tools it calls, and return its final text."""
    client = client or OpenAI()
    # Any: the loop sends the SDK's own message objects back, which its parameter types leave out.
    messages: list[Any] = [
        {"role": "system", "content": "You answer weather questions. Use get_weather."},
        {"role": "user", "content": question},
    ]
    for _ in range(max_turns):
        completion = client.chat.completions.create(model=model, messages=messages, tools=TOOLS)
        message = completion.choices[0].message
        if not message.tool_calls:
            return message.content or ""
        messages.append(message)
        for call in message.tool_calls:
            if call.type != "function":  # only function tools are offered
                raise RuntimeError(f"the model made a {call.type} tool call")
            arguments = json.loads(call.function.arguments)
            result = get_weather(**arguments)
            messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
    raise RuntimeError(f"no answer after {max_turns} turns")


def summarise(text: str, client: OpenAI | None = None, model: str = "gpt-4o-mini") -> Iterator[str]:
    """Stream a one-paragraph summary of `text`, piece by piece."""
    client = client or OpenAI()
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": "Summarise in one paragraph."}, {"role": "user", "content": text}],
        stream=True,
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content
