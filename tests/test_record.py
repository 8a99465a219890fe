"""Record mode: a real upstream (here a second emulator) recorded through the SDK, then replayed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletionMessageParam
from starlette.applications import Starlette
from starlette.routing import Mount

from emulator import registry
from emulator.app import Emulator, create_app
from emulator.cli import main
from emulator.exchange import USAGE_FIELDS, Exchange
from emulator.fixtures import fixture_problems, load_files
from emulator.matching import RequestView
from emulator.proxy import Upstream, recorder_app
from emulator.record import Recorder, RecordError
from emulator.scripted import USAGE_KEYS
from emulator.scrub import Scrubber
from emulator.server import BackgroundServer
from emulator.settings import Settings

SUPPORT = Path(__file__).parent / "support"

# The upstream accepts this key only, so every recorded answer proves the key went through.
KEY = "sk-proj-Q7vX2mKp9LrT4wYb8NcZ3dHf6JgS1aEu5iOk0"
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[BackgroundServer]:
    """The "real API": an emulator whose replies each test scripts."""
    with BackgroundServer(Settings(port=0, seed=7, api_keys=(KEY,))) as running:
        yield running


@pytest.fixture
def scripted(upstream: BackgroundServer) -> Iterator[Emulator]:
    """The upstream's state, to script replies and read its journal; reset after each test."""
    state: Emulator = upstream.app.state.emulator
    yield state
    state.reset()


@dataclass
class Recording:
    """A recorder in front of the upstream, and an SDK client that talks to it."""

    path: Path
    client: openai.OpenAI
    server: BackgroundServer


@contextmanager
def recording(upstream: BackgroundServer, path: Path, **options: Any) -> Iterator[Recording]:
    """`record --upstream … --out path`, in this process."""
    recorder = Recorder(path, upstream=upstream.base_url, **options)
    with (
        BackgroundServer(app=recorder_app(Upstream(upstream.base_url, recorder))) as proxy,
        openai.OpenAI(base_url=proxy.base_url, api_key=KEY, max_retries=0) as client,
    ):
        yield Recording(path, client, proxy)


@pytest.fixture
def recorded(upstream: BackgroundServer, scripted: Emulator, tmp_path: Path) -> Iterator[Recording]:
    """A recording into tmp_path/recorded.yaml."""
    with recording(upstream, tmp_path / "recorded.yaml") as running:
        yield running


@contextmanager
def replaying(path: Path, max_retries: int = 0) -> Iterator[openai.OpenAI]:
    """A fresh emulator serving the recorded file alone (strict: nothing is generated), and a client."""
    settings = Settings(port=0, fixtures=(path,), strict=True)
    with (
        BackgroundServer(settings) as server,
        openai.OpenAI(base_url=server.base_url, api_key="sk-replay", max_retries=max_retries) as client,
    ):
        yield client


def ask(client: openai.OpenAI, *, stream: bool, **request: Any) -> dict[str, Any]:
    """What the SDK makes of one completion, streamed or not: the parts a replay must repeat."""
    request = {"model": "gpt-4o", **request}
    if stream:
        with client.chat.completions.stream(**request, stream_options={"include_usage": True}) as events:
            completion: Any = events.get_final_completion()
    else:
        completion = client.chat.completions.create(**request)
    message = completion.choices[0].message
    return {
        "content": message.content,
        "refusal": message.refusal,
        "tool_calls": [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or ()],
        "finish_reason": completion.choices[0].finish_reason,
        "usage": (completion.usage.prompt_tokens, completion.usage.completion_tokens),
    }


def entries(path: Path) -> list[dict[str, Any]]:
    """The fixture entries of a recorded file; the file must pass `check` too."""
    problems, count = fixture_problems([path])
    assert problems == []
    fixtures: list[dict[str, Any]] = yaml.safe_load(path.read_text())["fixtures"]
    assert len(fixtures) == count
    return fixtures


def user(text: str) -> list[ChatCompletionMessageParam]:
    return [{"role": "user", "content": text}]


# --- round trips -----------------------------------------------------------------------------


def test_recorded_text_and_tool_calls_replay_the_same_streamed_and_not(recorded: Recording, scripted: Emulator) -> None:
    scripted.add_fixture({"match": {"last_user": "Hello"}, "reply": {"content": "Hi!\nA second line, and ünïcödé."}})
    scripted.add_fixture({"match": {"has_tool_result": False, "tools": ["get_weather"]}, "reply": {
        "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}})
    scripted.add_fixture({"match": {"has_tool_result": True}, "reply": {"content": "It is {{ tool_result }} there."}})
    story = [{"role": "system", "content": "Be brief."}, *user("Tell me a story")]  # generated upstream
    call = user("Weather in Paris?")
    requests: list[tuple[bool, dict[str, Any]]] = [
        (False, {"messages": user("Hello")}),
        (True, {"messages": story}),
        (True, {"messages": call, "tools": [WEATHER]}),
    ]
    said = [ask(recorded.client, stream=stream, **request) for stream, request in requests]
    (call_id, _, arguments), = said[2]["tool_calls"]
    answer = [*call, {"role": "assistant", "tool_calls": [
        {"id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": arguments}}]},
        {"role": "tool", "tool_call_id": call_id, "content": "18°C"}]
    requests.append((False, {"messages": answer, "tools": [WEATHER]}))
    said.append(ask(recorded.client, stream=False, **requests[-1][1]))
    assert said[3]["content"] == "It is 18°C there."
    assert len(entries(recorded.path)) == 4

    with replaying(recorded.path) as replay:
        for (_, request), recorded_reply in zip(requests, said, strict=True):
            for stream in (False, True):
                assert ask(replay, stream=stream, **request) == recorded_reply


def test_an_upstream_error_is_recorded_as_a_fault_and_replayed(recorded: Recording, scripted: Emulator) -> None:
    scripted.add_fixture({"match": {}, "reply": {"fault": {
        "status": 429, "message": "Slow down.", "code": "rate_limit_exceeded", "headers": {"retry-after": "7"}}}})
    with pytest.raises(openai.RateLimitError) as upstream_error:
        recorded.client.chat.completions.create(model="gpt-4o", messages=user("Hurry"))
    (entry,) = entries(recorded.path)
    assert entry["reply"] == {"fault": {"status": 429, "message": "Slow down.", "type": "requests",
                                        "code": "rate_limit_exceeded", "headers": {"retry-after": "7"}}}

    with replaying(recorded.path) as replay, pytest.raises(openai.RateLimitError) as replayed:
        replay.chat.completions.create(model="gpt-4o", messages=user("Hurry"))
    assert replayed.value.body == upstream_error.value.body
    assert replayed.value.response.headers["retry-after"] == "7"


def test_a_request_the_sdk_retried_replays_its_failure_then_its_answer(
    upstream: BackgroundServer, scripted: Emulator, tmp_path: Path
) -> None:
    scripted.add_fixture({"match": {}, "reply": {"content": "recovered", "fault": {
        "status": 500, "fail_times": 1, "headers": {"retry-after-ms": "1"}}}})
    with recording(upstream, tmp_path / "retry.yaml") as run:
        retrying = run.client.with_options(max_retries=1)
        assert retrying.chat.completions.create(model="gpt-4o", messages=user("Again")).choices[0].message.content == "recovered"
    (entry,) = entries(run.path)
    assert [step.get("fault", {}).get("status") for step in entry["sequence"]] == [500, None]

    with replaying(run.path, max_retries=1) as replay:
        assert replay.chat.completions.create(model="gpt-4o", messages=user("Again")).choices[0].message.content == "recovered"
        # The last step repeats: later calls get the answer at once.
        assert replay.with_options(max_retries=0).chat.completions.create(
            model="gpt-4o", messages=user("Again")).choices[0].message.content == "recovered"


def test_an_error_event_mid_stream_is_recorded_as_a_stream_fault(recorded: Recording, scripted: Emulator) -> None:
    scripted.add_fixture({"match": {}, "reply": {"content": "This will break.", "fault": {
        "kind": "error", "after_chunks": 2, "message": "Stream broke."}}})
    with pytest.raises(openai.APIError, match="Stream broke."):
        ask(recorded.client, stream=True, messages=user("Go"))
    (entry,) = entries(recorded.path)
    assert entry["reply"]["fault"] == {"kind": "error", "after_chunks": 2, "message": "Stream broke.",
                                       "type": "server_error"}

    with replaying(recorded.path) as replay, pytest.raises(openai.APIError, match="Stream broke."):
        ask(replay, stream=True, messages=user("Go"))


def test_volatile_values_are_normalised_so_a_replay_with_fresh_ones_matches(
    upstream: BackgroundServer, scripted: Emulator, tmp_path: Path
) -> None:
    scripted.add_fixture({"match": {}, "reply": {"content": "Done."}})
    said = "Close ticket 3f1e2d4c-aaaa-4bbb-8ccc-00000000abcd of 2024-05-01T10:00:00Z, order #1234."
    with recording(upstream, tmp_path / "fresh.yaml", normalize=[r"#\d+"]) as run:
        ask(run.client, stream=False, messages=user(said))
    (entry,) = entries(run.path)
    assert "regex" in entry["match"]["last_user"]

    fresh = "Close ticket 0b9c8d7e-1111-4222-8333-444455556666 of 2025-12-31T23:59:59Z, order #98."
    with replaying(run.path) as replay:
        assert ask(replay, stream=False, messages=user(fresh))["content"] == "Done."
        with pytest.raises(openai.BadRequestError, match="No fixture matches"):
            ask(replay, stream=False, messages=user(fresh.replace("Close", "Open")))


def test_keep_timing_records_the_pacing_and_chunking_of_the_stream(
    upstream: BackgroundServer, scripted: Emulator, tmp_path: Path
) -> None:
    scripted.add_fixture({"match": {}, "reply": {
        "content": "one two three four five six seven eight nine ten eleven twelve",
        "latency": {"first_token_ms": 150, "per_token_ms": 20}, "chunking": {"tokens_per_chunk": 2}}})
    with recording(upstream, tmp_path / "timed.yaml", keep_timing=True) as run:
        ask(run.client, stream=True, messages=user("Slowly"))
    (entry,) = entries(run.path)
    latency = entry["reply"]["latency"]
    assert 150 <= latency["first_token_ms"] < 600
    assert 18 <= latency["per_token_ms"] < 60
    assert entry["reply"]["chunking"] == {"tokens_per_chunk": 2}


# --- the proxy ---------------------------------------------------------------------------------


def test_the_client_gets_the_upstream_answer_unchanged(recorded: Recording, upstream: BackgroundServer) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    for method, path, body in (("GET", "/v1/models", None), ("POST", "/v1/chat/completions", {"model": "gpt-4o", "messages": []})):
        direct = httpx.request(method, upstream.url + path, headers=headers, json=body)
        proxied = httpx.request(method, recorded.server.url + path, headers=headers, json=body)
        assert (proxied.status_code, proxied.content) == (direct.status_code, direct.content)
        for name in ("content-type", "openai-version", "x-ratelimit-limit-requests"):
            assert proxied.headers[name] == direct.headers[name]
    assert entries(recorded.path) == []  # a request without messages is no fixture


@pytest.mark.parametrize("forwarding", ["record", "record-missing"])
def test_mounted_under_a_prefix_requests_go_upstream_without_it(
    upstream: BackgroundServer, scripted: Emulator, tmp_path: Path, forwarding: str
) -> None:
    scripted.add_fixture({"match": {}, "reply": {"content": "from upstream"}})
    path = tmp_path / "mounted.yaml"
    forwarder = Upstream(upstream.base_url, Recorder(path, upstream=upstream.base_url))
    inner = recorder_app(forwarder) if forwarding == "record" else create_app(Settings(port=0), upstream=forwarder)
    outer = Starlette(routes=[Mount("/emu", app=inner)])
    with (
        BackgroundServer(app=outer) as proxy,
        openai.OpenAI(base_url=proxy.url + "/emu/v1", api_key=KEY, max_retries=0) as client,
    ):
        assert ask(client, stream=False, messages=user("Mounted?"))["content"] == "from upstream"
    assert [entry.path for entry in scripted.journal] == ["/v1/chat/completions"]
    (entry,) = entries(path)
    assert entry["match"]["last_user"] == "Mounted?"


def test_a_stream_is_forwarded_chunk_by_chunk_as_it_arrives(recorded: Recording, scripted: Emulator) -> None:
    scripted.add_fixture({"match": {}, "reply": {"content": "a b c d e f g h", "latency": {"per_token_ms": 60}}})
    arrivals = []
    for chunk in recorded.client.chat.completions.create(model="gpt-4o", messages=user("Pace"), stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.perf_counter())
    assert len(arrivals) == 8
    assert arrivals[-1] - arrivals[0] > 0.3  # seven pauses of 60 ms: nothing was held back to the end


def test_an_upstream_that_does_not_answer_is_a_502_and_nothing_is_recorded(tmp_path: Path) -> None:
    with socket.socket() as unused:  # bound, never listening: connections are refused
        unused.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{unused.getsockname()[1]}/v1"
        path = tmp_path / "down.yaml"
        app = recorder_app(Upstream(down, Recorder(path, upstream=down)))
        with (
            BackgroundServer(app=app) as proxy,
            openai.OpenAI(base_url=proxy.base_url, api_key=KEY, max_retries=0) as client,
            pytest.raises(openai.InternalServerError, match="did not answer") as caught,
        ):
            ask(client, stream=False, messages=user("Anyone there?"))
    assert caught.value.status_code == 502
    assert entries(path) == []


def test_record_missing_answers_matched_requests_here_and_records_the_rest(
    upstream: BackgroundServer, scripted: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "RELOAD_INTERVAL", 0)  # look at the fixture folder on every request
    scripted.add_fixture({"match": {}, "reply": {"content": "from upstream"}})
    path = tmp_path / "missing.yaml"
    recorder = Recorder(path, upstream=upstream.base_url)
    app = create_app(Settings(port=0, fixtures=(tmp_path,)), upstream=Upstream(upstream.base_url, recorder))
    app.state.emulator.add_fixture({"match": {"last_user": "Known?"}, "reply": {"content": "from here"}})
    with BackgroundServer(app=app) as local, openai.OpenAI(base_url=local.base_url, api_key=KEY, max_retries=0) as client:
        assert ask(client, stream=False, messages=user("Known?"))["content"] == "from here"
        assert len(scripted.journal) == 0
        assert ask(client, stream=True, messages=user("Unknown?"))["content"] == "from upstream"
        assert len(scripted.journal) == 1
        # The recorded file sits in the fixture folder: once reloaded, it answers here.
        assert ask(client, stream=False, messages=user("Unknown?"))["content"] == "from upstream"
        assert len(scripted.journal) == 1
    (entry,) = entries(path)
    assert entry["match"]["last_user"] == "Unknown?"
    assert entry["reply"]["content"] == "from upstream"
    assert [e.fixture for e in app.state.emulator.journal] == ["runtime-1", None, "missing-1"]


# --- secrets -----------------------------------------------------------------------------------


def test_no_secret_reaches_the_written_file(recorded: Recording, scripted: Emulator) -> None:
    scripted.add_fixture({"match": {}, "reply": {"content": "You said: {{ last_user }}"}})
    other_key = "sk-ant-api03-" + "x7Kq2Lm9Pz4Rt8Vw1Yb6Nc3Hd5Jf0Gs"
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    said = f"My keys: {KEY}, {other_key}; header Bearer {token}."
    reply = ask(recorded.client, stream=True, messages=user(said))
    assert reply["content"] == f"You said: {said}"  # the client itself gets every byte
    wrong_key = "sk-wrong-" + "Zr8Tq3Wm7Kp2Lx9Vb4Nc"
    with (
        openai.OpenAI(base_url=recorded.server.base_url, api_key=wrong_key, max_retries=0) as bad,
        pytest.raises(openai.AuthenticationError, match=r"sk-wrong"),  # the upstream's 401 echoes it, masked
    ):
        bad.chat.completions.create(model="gpt-4o", messages=user("hi"))

    text = recorded.path.read_text()
    for secret in (KEY, other_key, token, "sk-wrong", "sk-proj", "sk-ant", "Bearer " + token[:8]):
        assert secret not in text
    assert "authorization" not in text.lower()
    assert "You said: My keys: [redacted], [redacted]; header Bearer [redacted]." in text
    assert len(entries(recorded.path)) == 2
    with replaying(recorded.path) as replay:  # the same words, secrets and all, still match
        assert ask(replay, stream=False, messages=user(said))["content"].startswith("You said: My keys: [redacted]")


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("use sk-abcdefgh12345678 here", "use [redacted] here"),
        ("Authorization: Bearer abc.def-ghi_jkl", "Authorization: Bearer [redacted]"),
        ("token Zx8Qw2Er5Ty7Ui9Op1As3Df6Gh4Jk0Lm here", "token [redacted] here"),
        ('{"key": "\\u00e9Zx8Qw2Er5Ty7Ui9Op1As3Df6Gh4Jk0Lm"}', '{"key": "\\u00e9[redacted]"}'),
        ('{"note": "line\\nsk-abcdefgh12345678"}', '{"note": "line\\n[redacted]"}'),
        ("call_4XzlGBLtUe9dy3GVNV4jhq7h and 3f1e2d4c-aaaa-4bbb-8ccc-00000000abcd", None),
        ("supercalifragilisticexpialidocious_and_more_words", None),
        ("sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", None),
    ],
    ids=["sk-key", "bearer", "random-token", "after-unicode-escape", "after-newline-escape", "ids-and-uuids",
         "long-word", "hex-digest"],
)
def test_key_like_strings_are_redacted_and_ordinary_text_is_kept(text: str, kept: str | None) -> None:
    assert Scrubber(()).redact(text) == (text if kept is None else kept)


# --- the file ----------------------------------------------------------------------------------


def test_the_check_command_passes_a_recorded_file_with_every_kind_of_entry(
    upstream: BackgroundServer, scripted: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted.add_fixture({"match": {"last_user": "refuse"}, "reply": {"refusal": "I can't help with that."}})
    scripted.add_fixture({"match": {"last_user": "fail"}, "reply": {"fault": {"status": 503}}})
    scripted.add_fixture({"match": {"last_user": "count"}, "sequence": [{"content": "1"}, {"content": "2"}]})
    with recording(upstream, tmp_path / "all.yaml", keep_timing=True) as run:
        assert ask(run.client, stream=True, messages=user("refuse"))["refusal"] == "I can't help with that."
        with pytest.raises(openai.InternalServerError):
            ask(run.client, stream=False, messages=user("fail"))
        for stream in (False, True):
            ask(run.client, stream=stream, messages=user("count"))
        ask(run.client, stream=True, messages=user("What is two and two?"), tools=[WEATHER], n=2)
    capsys.readouterr()
    assert main(["check", str(run.path)]) == 0
    assert capsys.readouterr().out == "ok: 4 fixtures\n"


def test_an_existing_file_is_not_overwritten_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "kept.yaml"
    path.write_text("precious")
    for argv in (
        ["record", "--upstream", "http://127.0.0.1:9/v1", "--out", str(path)],
        ["serve", "--record-missing", "--upstream", "http://127.0.0.1:9/v1", "--record-out", str(path)],
    ):
        assert main(argv) == 2
        assert "already exists: give --force" in capsys.readouterr().err
        assert path.read_text() == "precious"
    with pytest.raises(RecordError):
        Recorder(path, upstream="http://127.0.0.1:9/v1")
    Recorder(path, upstream="http://127.0.0.1:9/v1", force=True)
    assert entries(path) == []


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["serve", "--upstream", "http://x/v1"], "need --record-missing"),
        (["serve", "--record-missing"], "needs --upstream"),
        (["serve", "--record-missing", "--upstream", "http://x/v1", "--strict"], "not with --strict"),
        (["serve", "--record-missing", "--upstream", "http://x/v1", "--workers", "2"], "not with --strict or --workers"),
        (["record", "--upstream", "api.openai.com"], "expected an http:// or https:// URL"),
        (["record"], "the following arguments are required: --upstream"),
    ],
)
def test_recording_flags_that_do_not_fit_are_usage_errors(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EMULATOR_STRICT", raising=False)
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert complaint in capsys.readouterr().err


def test_strict_mode_from_the_environment_does_not_fit_record_missing_either(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMULATOR_STRICT", "true")
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--record-missing", "--upstream", "http://x/v1"])
    assert exited.value.code == 2
    assert "not with --strict" in capsys.readouterr().err


def test_a_normalize_flag_that_is_no_regex_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "never.yaml"
    assert main(["record", "--upstream", "http://127.0.0.1:9/v1", "--out", str(path), "--normalize", "(unclosed"]) == 2
    assert "--normalize '(unclosed' is not a regex" in capsys.readouterr().err
    assert not path.exists()


@settings(max_examples=60, deadline=None)
@given(st.text(st.characters(exclude_categories=["Cs"]), max_size=200))
def test_any_text_comes_back_from_the_file_as_it_was_said_and_matched(text: str) -> None:
    assume("{{" not in text and Scrubber(()).redact(text) == text)  # templates and secrets aside
    completion = {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}
    exchange = Exchange(
        request={"model": "gpt-4o", "messages": user(text)}, api_key=None, status=200, headers={},
        body=json.dumps(completion).encode(), events=(), elapsed_ms=1.0,
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "text.yaml"
        # add() refuses an entry that would not match its own request: a name means it matches.
        assert Recorder(path, upstream="http://upstream/v1").add(exchange) == "text-1"
        (entry,) = entries(path)
        (fixture,) = load_files([path])
    assert entry["reply"]["content"] == text
    assert fixture.match.holds(RequestView(exchange.request))  # as read back from the file


def test_every_usage_field_of_the_fixture_format_is_recorded() -> None:
    assert set(USAGE_FIELDS) == set(USAGE_KEYS)


def test_the_record_command_writes_each_exchange_and_keeps_them_when_stopped(
    upstream: BackgroundServer, scripted: Emulator, tmp_path: Path
) -> None:
    scripted.add_fixture({"match": {}, "reply": {"content": "recorded by the CLI"}})
    path = tmp_path / "cli.yaml"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The recorder may reach loopback only (tests/support/sitecustomize.py): no real network.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SUPPORT), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "emulator", "record", "--upstream", upstream.base_url,
               "--out", str(path), "--port", str(port)]
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=0) as client:
            deadline = time.monotonic() + 20
            while True:
                try:
                    reply = ask(client, stream=True, messages=user("Via the CLI"))
                    break
                except openai.APIConnectionError:
                    assert time.monotonic() < deadline and child.poll() is None, "the recorder did not start"
                    time.sleep(0.05)
        assert reply["content"] == "recorded by the CLI"
    finally:
        child.send_signal(signal.SIGINT)
        output, _ = child.communicate(timeout=10)
    assert "BLOCKED" not in output and "Traceback" not in output
    (entry,) = entries(path)
    assert entry["reply"]["content"] == "recorded by the CLI"
