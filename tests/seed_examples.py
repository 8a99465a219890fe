"""The request bodies of the seed document's curl examples (README, "Try it with curl").

Several test modules send them, raw and through the SDK; they are written once, here.
"""

from __future__ import annotations

from typing import Any

from openai.types.chat import ChatCompletionToolParam

from tests.conftest import ChatRequest

WEATHER_TOOL: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "获取指定位置的当前天气",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string", "description": "城市名称"}},
            "required": ["location"],
        },
    },
}

SEED_BASIC: ChatRequest = {
    "model": "gpt-4.1",
    "messages": [
        {"role": "system", "content": "你是一个有帮助的助手。"},
        {"role": "user", "content": "你好"},
    ],
}
SEED_IMAGE: ChatRequest = {
    "model": "gpt-4.1",
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "这张图片里有什么?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/image.jpg"}},
            ],
        }
    ],
    "max_tokens": 300,
}
SEED_STREAM: dict[str, Any] = {**SEED_BASIC, "stream": True}
SEED_TOOLS: ChatRequest = {
    "model": "gpt-4.1",
    "messages": [{"role": "user", "content": "波士顿今天的天气怎么样?"}],
    "tools": [WEATHER_TOOL],
    "tool_choice": "auto",
}
