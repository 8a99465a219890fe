"""The weather agent's tests, written with the chat-emulator pytest plugin (no conftest needed)."""

from __future__ import annotations

import json

from agent import answer, summarise

from emulator.pytest_plugin import EmulatorHandle


def test_agent_calls_the_tool_then_answers_from_its_result(emulator_env: EmulatorHandle) -> None:
    emulator_env.add(
        name="ask-for-weather",
        match={"tools": ["get_weather"], "has_tool_result": False},
        reply={"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]},
    )
    emulator_env.add(
        name="answer-from-result",
        match={"has_tool_result": True, "tool_result": {"contains": '"temperature_c": 21'}},
        reply={"content": "It is 21 °C and clear in Oslo."},
    )

    assert answer("What's the weather in Oslo?") == "It is 21 °C and clear in Oslo."
    emulator_env.assert_all_fixtures_used()
    tool_message = emulator_env.requests.last.messages[-1]
    assert tool_message["role"] == "tool"
    assert json.loads(tool_message["content"]) == {"city": "Oslo", "temperature_c": 21, "sky": "clear"}


def test_agent_loop_ends_on_generated_replies_too(emulator_env: EmulatorHandle) -> None:
    # No fixture: the emulator calls the tool the user asks about, then answers in text.
    assert answer("Use get_weather for Paris")
    assert emulator_env.requests.call_count == 2


def test_agent_survives_one_rate_limit(emulator_env: EmulatorHandle) -> None:
    emulator_env.add(
        match={},
        reply={"content": "Sunny.", "fault": {"status": 429, "fail_times": 1, "headers": {"retry-after": "0"}}},
    )
    assert answer("Weather?") == "Sunny."
    assert [entry.status for entry in emulator_env.requests] == [429, 200]


def test_summariser_yields_the_scripted_text_in_pieces(emulator_env: EmulatorHandle) -> None:
    emulator_env.add(
        match={"stream": True},
        reply={"content": "Rain tomorrow, sun on Sunday.", "chunking": {"tokens_per_chunk": 2}},
    )
    pieces = list(summarise("A long forecast ..."))
    assert "".join(pieces) == "Rain tomorrow, sun on Sunday."
    assert len(pieces) > 1
    emulator_env.assert_called(model="gpt-4o-mini", stream=True)
