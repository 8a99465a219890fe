"""validation.py's accept path: a body it accepts at once is one every check accepts, the
usual request is accepted at once rather than check by check, and bytes accepted lately are
accepted again without a check."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator import validation
from tests.seed_examples import SEED_BASIC, SEED_STREAM, SEED_TOOLS, WEATHER_TOOL

CALL = {"id": "call_1", "type": "function", "function": {"name": "get_current_weather", "arguments": "{}"}}
STRICT_TOOL = {"type": "function", "function": {"name": "lookup", "strict": True, "parameters": {
    "type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"], "additionalProperties": False}}}
UNFIT_STRICT_TOOL = {**WEATHER_TOOL, "function": {**WEATHER_TOOL["function"], "strict": True}}  # no additionalProperties
STRICT_FORMAT = {"type": "json_schema", "json_schema": {"name": "f", "strict": True, "schema": {
    "type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": False}}}

# Each parameter's values, among them those that break a rule the schema cannot see at a glance.
OPTIONAL: dict[str, list[Any]] = {
    "tools": [None, [WEATHER_TOOL], [STRICT_TOOL], [UNFIT_STRICT_TOOL]],
    "tool_choice": [None, "auto", "none", "required", {"type": "function", "function": {"name": "get_current_weather"}}],
    "parallel_tool_calls": [None, True, False],
    "stream": [None, True, False],
    "stream_options": [None, {"include_usage": True}],
    "logprobs": [None, True, False],
    "top_logprobs": [None, 0, 3],
    "modalities": [None, ["text"], ["text", "audio"]],
    "audio": [None, {"voice": "alloy", "format": "wav"}],
    "response_format": [None, {"type": "text"}, {"type": "json_object"}, STRICT_FORMAT],
    "reasoning_effort": [None, "low"],
    "max_tokens": [None, 5],
    "temperature": [None, 1, 0.5],
}
MESSAGES: list[list[dict[str, Any]]] = [
    [{"role": "user", "content": "Say json."}],
    [{"role": "user", "content": None}],
    [{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": None, "tool_calls": [CALL]},
     {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}],
    [{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": None, "tool_calls": [CALL]}],
    [{"role": "user", "content": "Weather?"}, {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}],
    [{"role": "assistant", "content": None, "tool_calls": [CALL]}, {"role": "tool", "tool_call_id": "call_2", "content": "x"}],
    [{"role": "assistant", "content": None}],
]


def _every_check_accepts(body: dict[str, Any]) -> bool:
    return all(check(body) is None for check in validation._CHECKS)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    model=st.sampled_from(["gpt-4o-mini", "gpt-4o", "o3-mini", "gpt-5"]),
    messages=st.sampled_from(MESSAGES),
    chosen=st.fixed_dictionaries({}, optional={name: st.sampled_from(values) for name, values in OPTIONAL.items()}),
)
def test_a_body_accepted_at_once_is_accepted_by_every_check(
    model: str, messages: list[dict[str, Any]], chosen: dict[str, Any]
) -> None:
    body = {"model": model, "messages": messages, **chosen}
    if validation._accepted_at_once(body):
        assert _every_check_accepts(body), body


def test_the_usual_requests_are_accepted_at_once() -> None:
    for body in (SEED_BASIC, SEED_STREAM, SEED_TOOLS, {"model": "gpt-4o-mini", "messages": MESSAGES[2], "tools": [WEATHER_TOOL]}):
        assert validation._accepted_at_once(dict(body)), body


def test_json_mode_and_strict_schemas_are_accepted_at_once() -> None:
    for extra in ({"response_format": {"type": "json_object"}}, {"response_format": STRICT_FORMAT},
                  {"tools": [STRICT_TOOL]}):
        assert validation._accepted_at_once({"model": "gpt-4o", "messages": MESSAGES[0], **extra}), extra


def test_a_body_turned_away_at_once_is_still_judged_check_by_check() -> None:
    # A reasoning model is never tried at once; the checks accept its reasoning_effort.
    body = {"model": "o3-mini", "messages": MESSAGES[0], "reasoning_effort": "low"}
    assert not validation._accepted_at_once(body)
    validation.validate_request(body)


# Each sends one parameter in a way a check turns away, and nothing else the checks would mind.
RULE_BREAKERS = {
    "reasoning_effort on a model that has no reasoning": {"reasoning_effort": "low"},
    "tool_choice without tools": {"tool_choice": "auto"},
    "parallel_tool_calls without tools": {"parallel_tool_calls": True},
    "stream_options without stream": {"stream_options": {"include_usage": True}},
    "top_logprobs without logprobs": {"top_logprobs": 3},
    "audio output without audio": {"modalities": ["text", "audio"]},
}


@pytest.mark.parametrize("extra", RULE_BREAKERS.values(), ids=RULE_BREAKERS.keys())
def test_a_body_that_breaks_a_rule_is_judged_check_by_check(extra: dict[str, Any]) -> None:
    body = {"model": "gpt-4o-mini", "messages": MESSAGES[0], **extra}
    assert not _every_check_accepts(body)
    assert not validation._accepted_at_once(body)


# -- bytes accepted lately --------------------------------------------------------------------


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """How many bodies validation has checked since the test began."""
    checked = []
    first_check = validation._accepted_at_once

    def counted(body: dict[str, Any]) -> bool:
        checked.append(body)
        return first_check(body)

    monkeypatch.setattr(validation, "_accepted_at_once", counted)
    return lambda: len(checked)


def _new_body(size: int = 0) -> dict[str, Any]:
    """A body no test sent before, its message padded to about `size` characters."""
    text = f"Say hi. {uuid.uuid4()}".ljust(size, ".")
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}


def _raw(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def test_a_body_sent_again_is_accepted_without_a_check(client: openai.OpenAI, checks: Callable[[], int]) -> None:
    body = _new_body()
    first = client.chat.completions.create(**body)
    again = client.chat.completions.create(**body)
    assert first.choices[0].message.content and again.choices[0].message.content  # both answered
    assert checks() == 1
    client.chat.completions.create(**_new_body())
    assert checks() == 2


def test_a_body_sent_again_after_a_rejection_is_rejected_again(client: openai.OpenAI) -> None:
    body = {**_new_body(), "tool_choice": "auto"}  # tool_choice without tools
    messages = []
    for _ in range(2):
        with pytest.raises(openai.BadRequestError) as rejected:
            client.chat.completions.create(**body)
        messages.append(rejected.value.message)
    assert messages[0] == messages[1]
    assert "tool_choice" in messages[0]


def test_only_the_bodies_accepted_lately_are_kept(checks: Callable[[], int]) -> None:
    first = _new_body()
    validation.validate_request(first, _raw(first))
    for _ in range(validation._KEPT):
        body = _new_body()
        validation.validate_request(body, _raw(body))
    checked = checks()
    validation.validate_request(first, _raw(first))
    assert checks() == checked + 1


def test_a_body_past_the_kept_size_is_checked_each_time(checks: Callable[[], int]) -> None:
    body = _new_body(validation._KEEPABLE + 1)
    for _ in range(2):
        validation.validate_request(body, _raw(body))
    assert checks() == 2
