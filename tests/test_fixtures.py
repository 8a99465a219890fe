"""Fixture entries: what each `match` key holds for, which fixture answers, what it says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from emulator.app import Emulator
from emulator.errors import FixtureError, FixtureFault, OpenAIError
from emulator.located import Problems
from emulator.matching import RequestView, compile_match
from emulator.settings import Settings
from emulator.types import Script

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": False}}}
SEARCH = {"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}
CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}


def body(text: str = "Hello", model: str = "gpt-4o", **fields: Any) -> dict[str, Any]:
    """A valid request whose last user message says `text`."""
    return {"model": model, "messages": [{"role": "user", "content": text}], **fields}


def answer(emulator: Emulator, request: dict[str, Any], headers: dict[str, str] | None = None) -> Script:
    script, _ = emulator.answer(request, headers or {}, "req_test")
    return script


def source(emulator: Emulator, request: dict[str, Any], headers: dict[str, str] | None = None) -> str:
    """`fixture:<name>` for the fixture that answers, `generated` when none does."""
    return answer(emulator, request, headers).source


def holds(match: dict[str, Any], request: dict[str, Any], headers: dict[str, str] | None = None) -> bool:
    problems = Problems("test")
    compiled = compile_match(problems, (), match)
    assert compiled is not None, problems.items
    return compiled.holds(RequestView(request, headers))


TOOL_TURN = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": None, "tool_calls": [CALL]},
    {"role": "tool", "tool_call_id": "call_1", "content": "18°C, sunny"},
]

# (match, request, headers, holds): one row per key and way it is written, each both ways.
MATCHES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, str] | None, bool]] = [
    ("empty-match-holds-for-anything", {}, body(), None, True),
    ("model-exact", {"model": "gpt-4o"}, body(model="gpt-4o"), None, True),
    ("model-exact-is-not-a-prefix", {"model": "gpt-4o"}, body(model="gpt-4o-mini"), None, False),
    ("model-regex", {"model": {"regex": "^gpt-4o"}}, body(model="gpt-4o-mini"), None, True),
    ("model-regex-miss", {"model": {"regex": "^gpt-4o"}}, body(model="o3"), None, False),
    ("last-user-equals", {"last_user": {"equals": "Hello"}}, body("Hello"), None, True),
    ("last-user-plain-string-is-exact", {"last_user": "Hello"}, body("Hello there"), None, False),
    ("last-user-contains", {"last_user": {"contains": "lo th"}}, body("Hello there"), None, True),
    ("last-user-contains-is-case-sensitive", {"last_user": {"contains": "hello"}}, body("Hello"), None, False),
    ("last-user-regex-searches", {"last_user": {"regex": "(?i)weather"}}, body("The WEATHER?"), None, True),
    ("last-user-reads-text-parts", {"last_user": "a b"},
     {"model": "gpt-4o", "messages": [{"role": "user", "content": [
         {"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]}, None, True),
    ("last-user-is-the-last-one", {"last_user": "first"},
     {"model": "gpt-4o", "messages": [{"role": "user", "content": "first"}, {"role": "assistant", "content": "x"},
                                      {"role": "user", "content": "second"}]}, None, False),
    ("system", {"system": {"contains": "terse"}}, {"model": "gpt-4o", "messages": TOOL_TURN}, None, True),
    ("system-includes-developer", {"system": "Be kind"},
     {"model": "gpt-4o", "messages": [{"role": "developer", "content": "Be kind"},
                                      {"role": "user", "content": "hi"}]}, None, True),
    ("system-miss", {"system": {"contains": "pirate"}}, {"model": "gpt-4o", "messages": TOOL_TURN}, None, False),
    ("any-message", {"any_message": {"contains": "sunny"}}, {"model": "gpt-4o", "messages": TOOL_TURN}, None, True),
    ("any-message-miss", {"any_message": {"contains": "rain"}}, {"model": "gpt-4o", "messages": TOOL_TURN}, None,
     False),
    ("tools-offered", {"tools": ["get_weather"]}, body(tools=[WEATHER, SEARCH]), None, True),
    ("tools-all-must-be-offered", {"tools": ["get_weather", "book"]}, body(tools=[WEATHER, SEARCH]), None, False),
    ("tools-none-offered", {"tools": "get_weather"}, body(), None, False),
    ("tool-choice-default-auto-with-tools", {"tool_choice": "auto"}, body(tools=[WEATHER]), None, True),
    ("tool-choice-default-none-without", {"tool_choice": "none"}, body(), None, True),
    ("tool-choice-required", {"tool_choice": "required"}, body(tools=[WEATHER], tool_choice="required"), None, True),
    ("tool-choice-named", {"tool_choice": {"name": "get_weather"}},
     body(tools=[WEATHER], tool_choice={"type": "function", "function": {"name": "get_weather"}}), None, True),
    ("tool-choice-named-other", {"tool_choice": {"name": "search"}},
     body(tools=[WEATHER], tool_choice={"type": "function", "function": {"name": "get_weather"}}), None, False),
    ("has-tool-result", {"has_tool_result": True}, {"model": "gpt-4o", "messages": TOOL_TURN}, None, True),
    ("has-tool-result-false", {"has_tool_result": False}, {"model": "gpt-4o", "messages": TOOL_TURN}, None, False),
    ("tool-result-of-an-earlier-turn-is-not-this-turn's", {"has_tool_result": True},
     {"model": "gpt-4o", "messages": [*TOOL_TURN, {"role": "user", "content": "thanks"}]}, None, False),
    ("tool-result-content", {"tool_result": {"contains": "sunny"}}, {"model": "gpt-4o", "messages": TOOL_TURN}, None,
     True),
    ("tool-result-content-miss", {"tool_result": {"contains": "rain"}}, {"model": "gpt-4o", "messages": TOOL_TURN},
     None, False),
    ("response-format", {"response_format": "json_object"}, body("json please", response_format={
        "type": "json_object"}), None, True),
    ("response-format-default-text", {"response_format": "text"}, body(), None, True),
    ("response-format-miss", {"response_format": "json_schema"}, body(), None, False),
    ("stream-true", {"stream": True}, body(stream=True), None, True),
    ("stream-absent-is-false", {"stream": False}, body(), None, True),
    ("stream-miss", {"stream": True}, body(stream=False), None, False),
    ("headers-any-case", {"headers": {"X-Team": "search"}}, body(), {"x-team": "search"}, True),
    ("headers-predicate", {"headers": {"user-agent": {"regex": "^OpenAI/Python"}}}, body(),
     {"User-Agent": "OpenAI/Python 3.57.0"}, True),
    ("headers-number-means-its-text", {"headers": {"x-stainless-retry-count": 1}}, body(),
     {"x-stainless-retry-count": "1"}, True),
    ("headers-missing", {"headers": {"x-team": "search"}}, body(), {}, False),
    ("metadata", {"metadata": {"tenant": "acme"}}, body(metadata={"tenant": "acme", "run": "7"}), None, True),
    ("metadata-miss", {"metadata": {"tenant": "acme"}}, body(metadata={"tenant": "other"}), None, False),
    ("every-key-must-hold", {"model": "gpt-4o", "last_user": "Hello", "stream": True}, body("Hello"), None, False),
]


@pytest.mark.parametrize(("match", "request_body", "headers", "expected"), [row[1:] for row in MATCHES],
                         ids=[row[0] for row in MATCHES])
def test_match_key_holds_only_for_requests_that_fit(
    match: dict[str, Any], request_body: dict[str, Any], headers: dict[str, str] | None, expected: bool
) -> None:
    assert holds(match, request_body, headers) is expected


def test_higher_priority_wins_then_the_first_written() -> None:
    emulator = Emulator(Settings())
    emulator.add_fixture({"name": "first", "match": {}, "reply": {"content": "1"}})
    emulator.add_fixture({"name": "second", "match": {"last_user": "Hello"}, "reply": {"content": "2"}})
    assert source(emulator, body("Hello")) == "fixture:first"
    emulator.add_fixture({"name": "urgent", "match": {"model": "gpt-4o"}, "priority": 5, "reply": {"content": "3"}})
    assert source(emulator, body("Hello")) == "fixture:urgent"
    assert source(emulator, body("Hello", model="o3")) == "fixture:first"


def test_runtime_fixtures_are_tried_before_file_fixtures(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("fixtures:\n  - {name: from-file, match: {}, priority: 100, reply: {content: file}}\n")
    emulator = Emulator(Settings(fixtures=(path,)))
    assert source(emulator, body()) == "fixture:from-file"
    emulator.add_fixture({"name": "at-runtime", "match": {}, "reply": {"content": "runtime"}})
    assert source(emulator, body()) == "fixture:at-runtime"


def test_times_limits_how_often_an_entry_answers() -> None:
    emulator = Emulator(Settings())
    once = emulator.add_fixture({"name": "once", "match": {}, "times": 1, "reply": {"content": "x"}})
    assert [source(emulator, body()) for _ in range(3)] == ["fixture:once", "generated", "generated"]
    assert once.call_count == 1 and once.called


def test_a_sequence_answers_in_order_then_repeats_its_last_reply() -> None:
    emulator = Emulator(Settings())
    emulator.add_fixture({"name": "count", "match": {}, "sequence": [{"content": "one"}, {"content": "two"}]})
    assert [answer(emulator, body()).drafts[0].content for _ in range(4)] == ["one", "two", "two", "two"]


def test_scenario_states_steer_a_multi_turn_flow() -> None:
    emulator = Emulator(Settings())
    emulator.add_fixture({"name": "ask", "match": {}, "scenario": "login", "when_state": "Started",
                          "new_state": "asked", "reply": {"content": "Password?"}})
    emulator.add_fixture({"name": "check", "match": {"last_user": "swordfish"}, "scenario": "login",
                          "required_state": "asked", "new_state": "in", "reply": {"content": "Welcome"}})
    emulator.add_fixture({"name": "done", "match": {}, "scenario": "login", "when_state": "in",
                          "reply": {"content": "Logged in already"}})
    turns = [body("hi"), body("guess"), body("swordfish"), body("hi")]
    assert [source(emulator, t) for t in turns] == [
        "fixture:ask", "generated", "fixture:check", "fixture:done"]
    assert emulator.fixtures.scenarios() == {"login": "in"}
    emulator.reset()
    assert emulator.fixtures.scenarios() == {}


def test_templates_put_request_values_into_the_text() -> None:
    emulator = Emulator(Settings())
    emulator.add_fixture({"name": "echo", "match": {}, "reply": {
        "content": "{{ model }} heard {{last_user}}; system: {{ system }}; tool: {{ tool_result }}; "
                   "tenant: {{ metadata.tenant }}",
        "refusal": "No, {{ last_user }}"}})
    request = {"model": "gpt-4o", "messages": TOOL_TURN[:1] + [{"role": "user", "content": "hi"}],
               "metadata": {"tenant": "acme"}}
    draft = answer(emulator, request).drafts[0]
    assert draft.content == "gpt-4o heard hi; system: You are terse.; tool: ; tenant: acme"
    assert draft.refusal == "No, hi"


def test_a_list_of_content_gives_one_text_per_choice() -> None:
    emulator = Emulator(Settings())
    emulator.add_fixture({"name": "n", "match": {}, "reply": {"content": ["a", "b"], "finish_reason": "length"}})
    drafts = answer(emulator, body(n=2)).drafts
    assert [(d.content, d.finish_reason) for d in drafts] == [("a", "length"), ("b", "length")]


def test_tool_call_arguments_are_an_object_or_the_exact_string_to_send() -> None:
    emulator = Emulator(Settings())
    emulator.add_fixture({"name": "calls", "match": {}, "reply": {"tool_calls": [
        {"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call_fixed"},
        {"name": "search", "arguments": "{not json"},
        {"name": "search"},
    ]}})
    draft = answer(emulator, body(tools=[WEATHER, SEARCH])).drafts[0]
    assert draft.content is None
    assert [(c.name, c.arguments, c.id) for c in draft.tool_calls] == [
        ("get_weather", '{"city": "Paris"}', "call_fixed"), ("search", "{not json", None), ("search", "{}", None)]


def test_generate_fills_the_arguments_a_tool_call_leaves_out() -> None:
    emulator = Emulator(Settings(seed=3))
    emulator.add_fixture({"name": "call", "match": {}, "reply": {"generate": True, "tool_calls": [
        {"name": "get_weather"}]}})
    (call,) = answer(emulator, body(tools=[WEATHER])).drafts[0].tool_calls
    arguments = json.loads(call.arguments)
    assert set(arguments) == {"city"} and isinstance(arguments["city"], str)


def test_generate_fills_a_reply_that_says_nothing_and_keeps_what_it_sets() -> None:
    emulator = Emulator(Settings(seed=3))
    emulator.add_fixture({"name": "gen", "match": {}, "reply": {
        "generate": True, "finish_reason": "length", "usage": {"prompt_tokens": 7}}})
    script = answer(emulator, body("Bonjour, comment allez-vous ?", n=2))
    assert len(script.drafts) == 2 and all(d.content for d in script.drafts)
    assert {d.finish_reason for d in script.drafts} == {"length"}
    assert script.usage == {"prompt_tokens": 7}


def test_without_generate_a_reply_that_says_nothing_is_empty_text() -> None:
    emulator = Emulator(Settings())
    emulator.add_fixture({"name": "empty", "match": {}, "reply": {"finish_reason": "content_filter"}})
    assert answer(emulator, body()).drafts[0].content == ""


def test_latency_and_chunking_become_the_scripts_delivery() -> None:
    emulator = Emulator(Settings())
    emulator.add_fixture({"name": "slow", "match": {}, "reply": {
        "content": "x", "latency": {"first_token_ms": 300, "tokens_per_second": 50, "jitter_ms": 5},
        "chunking": {"tokens_per_chunk": 3}}})
    delivery = answer(emulator, body()).delivery
    assert (delivery.latency.first_token_ms, delivery.latency.per_token_ms, delivery.latency.jitter_ms) == (
        300, 20, 5)
    assert delivery.tokens_per_chunk == 3


def test_a_status_fault_fails_fail_times_requests_then_gives_the_reply() -> None:
    emulator = Emulator(Settings())
    emulator.add_fixture({"name": "flaky", "match": {}, "reply": {"content": "ok", "fault": {
        "status": 429, "fail_times": 2, "headers": {"retry-after": 2, "x-should-retry": True}}}})
    for _ in range(2):
        with pytest.raises(FixtureFault) as caught:
            answer(emulator, body(model="gpt-4o-mini"))
        error = caught.value
        assert (error.status, error.type, error.code, error.fixture) == (
            429, "requests", "rate_limit_exceeded", "flaky")
        assert error.headers == {"retry-after": "2", "x-should-retry": "true"}
        assert error.message.startswith("Rate limit reached for gpt-4o-mini in organization")
        assert "Please try again in 2s." in error.message
    assert [answer(emulator, body()).drafts[0].content for _ in range(2)] == ["ok", "ok"]


@pytest.mark.parametrize(("status", "wording", "type_"), [
    (500, ("The server had an error processing your request. Sorry about that! You can retry your request, or "
          "contact us through our help center at help.openai.com if you keep seeing this error. (Please include "
          "the request ID req_test in your email.)"), "server_error"),
    (503, "The engine is currently overloaded, please try again later", "server_error"),
])
def test_status_faults_default_to_the_catalogue_wording(status: int, wording: str, type_: str) -> None:
    emulator = Emulator(Settings())
    emulator.add_fixture({"name": "down", "match": {}, "reply": {"fault": {"status": status}}})
    for _ in range(2):  # without fail_times, every request fails
        with pytest.raises(FixtureFault) as caught:
            answer(emulator, body())
        assert (caught.value.message, caught.value.type, caught.value.code) == (wording, type_, None)


def test_a_fault_can_say_its_own_message() -> None:
    emulator = Emulator(Settings())
    emulator.add_fixture({"name": "teapot", "match": {}, "reply": {"fault": {
        "status": 418, "message": "I'm a teapot {not a template}", "code": "teapot"}}})
    with pytest.raises(FixtureFault) as caught:
        answer(emulator, body())
    assert (caught.value.message, caught.value.type, caught.value.code) == (
        "I'm a teapot {not a template}", "invalid_request_error", "teapot")


def test_a_sequence_can_fail_first_and_answer_next() -> None:
    emulator = Emulator(Settings())
    emulator.add_fixture({"name": "steps", "match": {}, "sequence": [
        {"fault": {"status": 500}}, {"content": "recovered"}]})
    with pytest.raises(FixtureFault):
        answer(emulator, body())
    assert answer(emulator, body()).drafts[0].content == "recovered"


def test_a_stream_fault_breaks_streams_only_and_counts_only_streams() -> None:
    emulator = Emulator(Settings())
    emulator.add_fixture({"name": "cut", "match": {}, "reply": {"content": "x", "fault": {
        "kind": "error", "after_chunks": 2, "message": "boom", "fail_times": 1}}})
    assert answer(emulator, body()).delivery.fault is None  # nothing to break without a stream
    fault = answer(emulator, body(stream=True)).delivery.fault
    assert fault is not None and (fault.kind, fault.after_chunks, fault.message) == ("error", 2, "boom")
    assert answer(emulator, body(stream=True)).delivery.fault is None  # fail_times used up


def test_a_failing_retry_does_not_move_the_scenario_on() -> None:
    emulator = Emulator(Settings())
    emulator.add_fixture({"name": "pay", "match": {}, "scenario": "checkout", "new_state": "paid", "reply": {
        "content": "paid", "fault": {"status": 503, "fail_times": 1}}})
    with pytest.raises(FixtureFault):
        answer(emulator, body())
    assert emulator.fixtures.scenarios() == {"checkout": "Started"}
    answer(emulator, body())
    assert emulator.fixtures.scenarios() == {"checkout": "paid"}


def test_strict_mode_names_the_closest_fixtures_and_what_differs() -> None:
    emulator = Emulator(Settings(strict=True))
    emulator.add_fixture({"name": "weather", "match": {"model": "gpt-4o", "last_user": {"contains": "weather"}},
                          "reply": {"content": "x"}})
    emulator.add_fixture({"name": "far", "match": {"model": "o3", "stream": True, "tools": ["x"]},
                          "reply": {"content": "x"}})
    emulator.add_fixture({"name": "used", "match": {"model": "gpt-4o-mini"}, "times": 1, "reply": {"content": "x"}})
    source(emulator, body(model="gpt-4o-mini"))
    with pytest.raises(OpenAIError) as caught:
        source(emulator, body("Hello", model="gpt-4o-mini"))
    error = caught.value
    assert (error.status, error.code, error.headers) == (400, "fixture_not_found", {"x-should-retry": "false"})
    assert error.message.splitlines() == [
        "No fixture matches this request (strict mode). Closest fixtures:",
        "- 'used' (runtime): times: used up (answered 1 of 1)",
        ("- 'weather' (runtime): model: wanted equal to 'gpt-4o', got 'gpt-4o-mini'; "
        "last_user: wanted containing 'weather', got 'Hello'"),
        ("- 'far' (runtime): model: wanted equal to 'o3', got 'gpt-4o-mini'; stream: wanted true, got false; "
        "tools: wanted tools offered including x, got no tools"),
    ]


def test_strict_mode_without_fixtures_says_how_to_load_them() -> None:
    with pytest.raises(OpenAIError) as caught:
        source(Emulator(Settings(strict=True)), body())
    assert "No fixtures are loaded" in str(caught.value)


def test_the_index_keeps_priority_and_order_among_thousands_of_fixtures() -> None:
    emulator = Emulator(Settings())
    for i in range(2_000):
        emulator.add_fixture({"name": f"q{i}", "match": {"last_user": f"question {i}"}, "reply": {"content": str(i)}})
    emulator.add_fixture({"name": "by-model", "match": {"model": "o3"}, "reply": {"content": "model"}})
    emulator.add_fixture({"name": "urgent", "match": {"last_user": {"contains": "urgent"}}, "priority": 1,
                          "reply": {"content": "urgent"}})
    emulator.add_fixture({"name": "q-late", "match": {"last_user": "question 7"}, "reply": {"content": "late"}})
    assert source(emulator, body("question 7")) == "fixture:q7"
    assert source(emulator, body("question 1999", model="o3")) == "fixture:q1999"
    assert source(emulator, body("question x", model="o3")) == "fixture:by-model"
    assert source(emulator, body("question 2000")) == "generated"
    emulator.add_fixture({"name": "question 3 urgent", "match": {"last_user": "urgent"}, "reply": {"content": "u"}})
    assert source(emulator, body("urgent")) == "fixture:urgent"


def test_file_fixtures_reload_when_a_file_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("emulator.registry.RELOAD_INTERVAL", 0)
    path = tmp_path / "f.yaml"
    path.write_text("fixtures:\n  - {name: old, match: {}, reply: {content: old}}\n")
    emulator = Emulator(Settings(fixtures=(tmp_path,)))
    assert source(emulator, body()) == "fixture:old"
    path.write_text("fixtures:\n  - {name: new, match: {}, reply: {content: new}}\n")
    assert source(emulator, body()) == "fixture:new"
    (tmp_path / "more.yaml").write_text("fixtures:\n  - {name: added, match: {}, priority: 1, reply: {content: x}}\n")
    assert source(emulator, body(model="o3")) == "fixture:added"


def test_a_broken_reload_keeps_the_previous_fixtures_and_reports(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("emulator.registry.RELOAD_INTERVAL", 0)
    path = tmp_path / "f.yaml"
    path.write_text("fixtures:\n  - {name: good, match: {}, reply: {content: good}}\n")
    emulator = Emulator(Settings(fixtures=(path,)))
    path.write_text("fixtures:\n  - {name: good, match: {}, reply: {content: good}, oops: 1}\n")
    assert source(emulator, body()) == "fixture:good"
    assert emulator.fixtures.reload_problems == [(f"{path}:2: fixtures[0]: unknown key 'oops'; known keys: "
                                                 "name, match, reply, sequence, priority, times, scenario, "
                                                 "when_state, required_state, new_state")]


def test_files_are_looked_at_no_more_than_once_a_second(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("fixtures:\n  - {name: old, match: {}, reply: {content: old}}\n")
    emulator = Emulator(Settings(fixtures=(path,)))
    path.write_text("fixtures:\n  - {name: new, match: {}, reply: {content: new}}\n")
    assert source(emulator, body()) == "fixture:old"


def test_a_broken_file_stops_the_emulator_with_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("fixtures:\n  - {name: a, match: {model: 1}, reply: {}}\n  - {name: a, match: {}, reply: {}}\n")
    with pytest.raises(FixtureError) as caught:
        Emulator(Settings(fixtures=(path,)))
    assert caught.value.problems == [
        (f"{path}:2: fixtures[0].match.model: expected a string or one of {{equals|contains|regex: ...}}, "
        "got an integer (1)"),
    ]


def test_names_must_be_unique_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("fixtures:\n  - {name: same, match: {}, reply: {}}\n")
    (tmp_path / "b.yaml").write_text("fixtures:\n\n  - {name: same, match: {}, reply: {}}\n")
    with pytest.raises(FixtureError) as caught:
        Emulator(Settings(fixtures=(tmp_path,)))
    assert caught.value.problems == [(f"{tmp_path / 'b.yaml'}:3: name 'same' is already used at "
                                     f"{tmp_path / 'a.yaml'}:2")]


def test_runtime_fixtures_without_a_name_get_one() -> None:
    emulator = Emulator(Settings())
    first = emulator.add_fixture({"match": {}, "reply": {}})
    second = emulator.add_fixture({"match": {}, "reply": {}})
    assert (first.name, second.name) == ("runtime-1", "runtime-2")
    with pytest.raises(FixtureError) as caught:
        emulator.add_fixture({"name": "runtime-1", "match": {}, "reply": {}})
    assert caught.value.problems == ["runtime: name 'runtime-1' is already used at runtime"]
