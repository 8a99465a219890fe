"""The chat route's own ASGI path: what it keeps of the Starlette route it replaced."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import openai
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import Message

from emulator import render
from emulator.app import Emulator, EmulatorApp, create_app
from emulator.server import BackgroundServer
from emulator.settings import Settings
from tests.conftest import API_KEY

HELLO: dict[str, Any] = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


def test_a_trailing_slash_on_the_chat_path_redirects_to_it(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions/", json=HELLO)
    assert response.status_code == 307
    assert response.headers["location"].endswith("/v1/chat/completions")


def test_a_body_sent_in_pieces_is_read_whole(http: httpx.Client, emulator: Emulator) -> None:
    def pieces() -> Iterator[bytes]:  # chunked transfer encoding, one receive message a piece
        yield b'{"model": "gpt-4o", '
        yield b'"messages": [{"role": "user", '
        yield b'"content": "in pieces"}]}'

    response = http.post("/v1/chat/completions", content=pieces(), headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert emulator.journal.entries()[-1].body["messages"][0]["content"] == "in pieces"


def leave_before_the_body_arrives(app: EmulatorApp) -> list[Message]:
    """Call `app` as a server would for a client that sends part of its body and hangs up; what it sent."""
    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "root_path": "",
             "query_string": b"", "headers": [(b"authorization", f"Bearer {API_KEY}".encode()),
                                              (b"content-type", b"application/json"), (b"content-length", b"100")]}
    arriving: list[Message] = [{"type": "http.request", "body": b'{"model": ', "more_body": True},
                               {"type": "http.disconnect"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return arriving.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_a_client_that_leaves_before_its_body_arrives_gets_nothing_and_is_no_crash() -> None:
    app = create_app(Settings())
    assert leave_before_the_body_arrives(app) == []
    assert app.state.emulator.crashes == []


def test_a_client_that_leaves_before_its_body_arrives_is_logged_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="emulator")
    leave_before_the_body_arrives(create_app(Settings()))
    assert [r.getMessage() for r in caplog.records if r.name == "emulator"] == [
        "POST /v1/chat/completions: the client left before its body arrived"]


def test_mounted_under_a_prefix_the_chat_route_answers_there_and_other_methods_are_invalid_urls() -> None:
    outer = Starlette(routes=[Mount("/emu", app=create_app(Settings(port=0)))])
    with (
        BackgroundServer(app=outer) as server,
        httpx.Client(base_url=server.url + "/emu", headers={"Authorization": f"Bearer {API_KEY}"}) as http,
    ):
        assert http.post("/v1/chat/completions", json=HELLO).json()["object"] == "chat.completion"
        wrong = http.put("/v1/chat/completions", json=HELLO)
    assert wrong.status_code == 404
    assert wrong.json()["error"]["message"] == "Invalid URL (PUT /emu/v1/chat/completions)"


def test_a_bug_mid_stream_drops_the_connection_and_is_kept_for_the_pytest_plugin(
    client: openai.OpenAI, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    bug = RuntimeError("a bug in the emulator, mid-stream")

    async def breaks_after_one_chunk(*args: Any, **kwargs: Any) -> AsyncIterator[bytes]:
        yield b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[]}\n\n'
        raise bug

    monkeypatch.setattr(render, "sse", breaks_after_one_chunk)
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(**HELLO, stream=True))
    assert emulator.crashes == [bug]


def test_a_client_leaving_an_unpaced_stream_is_no_error_and_the_server_keeps_serving(
    http: httpx.Client, emulator: Emulator, server_errors: Callable[[], list[str]]
) -> None:
    emulator.add_fixture({"match": {}, "reply": {"content": "word " * 500}})
    with http.stream("POST", "/v1/chat/completions", json={**HELLO, "n": 16, "stream": True}) as response:
        events = (line for line in response.iter_lines() if line)
        assert all(next(events).startswith("data: {") for _ in range(3))
    emulator.fixtures.clear_runtime()
    assert http.post("/v1/chat/completions", json=HELLO).status_code == 200
    assert server_errors() == []
    assert emulator.crashes == []


def test_a_fault_header_cannot_break_the_framing_of_its_error_response(
    client: openai.OpenAI, emulator: Emulator
) -> None:
    emulator.add_fixture({"match": {}, "reply": {"fault": {"status": 429, "headers": {
        "content-length": "3", "retry-after": "7"}}}})
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(**HELLO)
    assert caught.value.response.headers["retry-after"] == "7"
    assert emulator.crashes == []
