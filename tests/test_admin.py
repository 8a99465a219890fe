"""The admin API under /_emulator/: runtime fixtures, the journal, reset, health."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openai
import pytest

from emulator.app import Emulator
from emulator.server import BackgroundServer
from emulator.settings import Settings
from tests.conftest import API_KEY, ChatRequest

HELLO: ChatRequest = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]}


def test_fixtures_posted_as_json_answer_requests(http: httpx.Client, client: openai.OpenAI) -> None:
    entry = {"name": "hello", "match": {"last_user": "hello"}, "reply": {"content": "Hi from JSON"}}
    response = http.post("/_emulator/fixtures", json=entry)
    assert (response.status_code, response.json()) == (201, {"added": ["hello"]})
    completion = client.chat.completions.create(**HELLO)
    assert completion.choices[0].message.content == "Hi from JSON"


def test_fixtures_posted_as_yaml_in_any_of_three_shapes(http: httpx.Client) -> None:
    bodies = [
        "fixtures:\n  - {name: a, match: {}, reply: {content: a}}\n",  # a fixture file
        "- {name: b, match: {}, reply: {content: b}}\n- {match: {}, reply: {content: c}}\n",  # a list
        "match: {model: o3}\nreply: {content: d}\n",  # one entry
    ]
    added = [http.post("/_emulator/fixtures", content=b).json()["added"] for b in bodies]
    assert added == [["a"], ["b", "runtime-1"], ["runtime-2"]]


def test_a_broken_posted_fixture_is_a_400_naming_the_line(http: httpx.Client, emulator: Emulator) -> None:
    body = "name: bad\nmatch:\n  last_user: {regex: '('}\nreply: {content: x}\n"
    response = http.post("/_emulator/fixtures", content=body)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "Invalid fixtures:\nrequest body:3: match.last_user.regex: bad regex '(': missing ), "
                   "unterminated subpattern at position 0",
        "type": "invalid_request_error", "param": None, "code": "invalid_fixture"}
    assert emulator.fixtures.fixtures() == []


def test_a_post_adds_all_its_fixtures_or_none(http: httpx.Client, emulator: Emulator) -> None:
    body = [{"name": "fine", "match": {}, "reply": {}}, {"name": "broken", "match": {"stream": "yes"}, "reply": {}}]
    assert http.post("/_emulator/fixtures", json=body).status_code == 400
    assert emulator.fixtures.fixtures() == []


def test_listing_shows_every_fixture_with_its_calls_and_the_scenarios(
    http: httpx.Client, client: openai.OpenAI
) -> None:
    http.post("/_emulator/fixtures", json={"fixtures": [
        {"name": "ask", "match": {}, "scenario": "flow", "new_state": "asked", "reply": {"content": "?"}},
    ]})
    client.chat.completions.create(**HELLO)
    listing = http.get("/_emulator/fixtures").json()
    assert listing == {
        "fixtures": [{"name": "ask", "source": "request body:1", "runtime": True, "call_count": 1, "spec": {
            "name": "ask", "match": {}, "scenario": "flow", "new_state": "asked", "reply": {"content": "?"}}}],
        "scenarios": {"flow": "asked"},
    }


def test_deleting_fixtures_removes_the_runtime_ones_only(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("fixtures:\n  - {name: from-file, match: {}, reply: {content: file}}\n")
    with BackgroundServer(Settings(port=0, fixtures=(path,))) as server, httpx.Client(base_url=server.url) as http:
        http.post("/_emulator/fixtures", json={"name": "temp", "match": {}, "reply": {}})
        assert http.delete("/_emulator/fixtures").json() == {"deleted": 1}
        names = [f["name"] for f in http.get("/_emulator/fixtures").json()["fixtures"]]
        assert names == ["from-file"]
        assert http.get("/_emulator/health").json() == {
            "status": "ok", "fixtures": 1, "requests": 0, "fixture_problems": []}


def test_the_journal_lists_each_request_without_secrets(
    http: httpx.Client, client: openai.OpenAI, emulator: Emulator
) -> None:
    emulator.add_fixture({"name": "hello", "match": {"last_user": "hello"}, "reply": {"content": "Hi"}})
    client.chat.completions.create(**HELLO)
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "other"}], seed=1)
    (first, second) = http.get("/_emulator/requests").json()["requests"]
    assert (first["path"], first["method"], first["status"], first["fixture"]) == (
        "/v1/chat/completions", "POST", 200, "hello")
    assert first["body"] == HELLO
    assert first["headers"]["authorization"] == "[redacted]"
    assert API_KEY not in json.dumps(first)
    assert first["reply"]["content"] == ["Hi"] and first["reply"]["finish_reasons"] == ["stop"]
    assert (second["fixture"], second["reply"]["source"]) == (None, "generated")
    assert first["time"] <= second["time"]
    only = http.get("/_emulator/requests", params={"fixture": "hello"}).json()["requests"]
    assert [r["body"] for r in only] == [HELLO]


def test_the_journal_is_bounded_by_journal_size() -> None:
    with BackgroundServer(Settings(port=0, journal_size=2)) as server, httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {API_KEY}"}
    ) as http:
        for text in ("one", "two", "three"):
            http.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user", "content": text}]})
        kept = http.get("/_emulator/requests").json()["requests"]
    assert [r["body"]["messages"][0]["content"] for r in kept] == ["two", "three"]


def test_deleting_requests_empties_the_journal(http: httpx.Client, client: openai.OpenAI) -> None:
    client.chat.completions.create(**HELLO)
    assert http.delete("/_emulator/requests").json() == {"deleted": 1}
    assert http.get("/_emulator/requests").json() == {"requests": []}


def test_reset_forgets_runtime_fixtures_counters_scenarios_and_the_journal(
    http: httpx.Client, client: openai.OpenAI, tmp_path: Path
) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("fixtures:\n"
                    "  - {name: once, match: {}, times: 1, scenario: s, new_state: done, reply: {content: once}}\n")
    with BackgroundServer(Settings(port=0, fixtures=(path,))) as server, httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {API_KEY}"}
    ) as raw:
        raw.post("/_emulator/fixtures", json={"name": "temp", "match": {"model": "o3"}, "reply": {}})

        def said() -> str:
            return str(raw.post("/v1/chat/completions", json=HELLO).json()["choices"][0]["message"]["content"])

        assert said() == "once"
        assert said() != "once"  # times: 1 used up
        assert raw.post("/_emulator/reset").json() == {"reset": True}
        assert raw.get("/_emulator/fixtures").json() == {
            "fixtures": [{"name": "once", "source": f"{path}:2", "runtime": False, "call_count": 0, "spec": {
                "name": "once", "match": {}, "times": 1, "scenario": "s", "new_state": "done",
                "reply": {"content": "once"}}}],
            "scenarios": {"s": "Started"},
        }
        assert raw.get("/_emulator/requests").json() == {"requests": []}
        assert said() == "once"


def test_health_reports_counts_and_a_failed_reload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("emulator.registry.RELOAD_INTERVAL", 0)
    path = tmp_path / "f.yaml"
    path.write_text("fixtures:\n  - {name: a, match: {}, reply: {content: a}}\n")
    app_settings = Settings(port=0, fixtures=(path,))
    with BackgroundServer(app_settings) as server, httpx.Client(base_url=server.url) as http:
        path.write_text("fixtures: [oops\n")
        http.post("/v1/chat/completions", json=HELLO, headers={"Authorization": f"Bearer {API_KEY}"})
        health = http.get("/_emulator/health").json()
    assert health == {"status": "ok", "fixtures": 1, "requests": 1, "fixture_problems": [
        f"{path}:2: bad YAML: did not find expected ',' or ']' (while parsing a flow sequence on line 1)"]}
