"""Shared test fixtures: one live emulator per session, clients that talk to it."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any, Required, TypedDict

import httpx
import jsonschema
import openai
import pytest
from openai.types.chat import (
    ChatCompletionMessageParam,
    ChatCompletionToolChoiceOptionParam,
    ChatCompletionToolParam,
)

from emulator.app import Emulator
from emulator.server import BackgroundServer

pytest_plugins = ["pytester"]

API_KEY = "sk-test-emulator-0000000000000000"


class ChatRequest(TypedDict, total=False):
    """A request body that tests send both raw (`http.post(json=body)`) and through the SDK
    (`client.chat.completions.create(**body)`), typed as the SDK takes it.

    It holds only the keys such bodies set: a key also given at the call (`stream=True`)
    must not be one of them, or it could be given twice.
    """

    model: Required[str]
    messages: Required[list[ChatCompletionMessageParam]]
    tools: list[ChatCompletionToolParam]
    tool_choice: ChatCompletionToolChoiceOptionParam
    max_tokens: int
    seed: int


@pytest.fixture(scope="session")
def server(emulator_server: BackgroundServer) -> BackgroundServer:
    """The live emulator of the session: the pytest plugin's own server."""
    return emulator_server


@pytest.fixture
def emulator(server: BackgroundServer) -> Iterator[Emulator]:
    """The live emulator's state, reset after each test (in-tree tests script it directly;
    users get the plugin's handle under this name)."""
    state: Emulator = server.app.state.emulator
    yield state
    state.reset()


@pytest.fixture
def client(server: BackgroundServer, emulator: Emulator) -> Iterator[openai.OpenAI]:
    """The official Python SDK pointed at the emulator, retries off."""
    with openai.OpenAI(base_url=server.base_url, api_key=API_KEY, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
async def async_client(server: BackgroundServer, emulator: Emulator) -> Any:
    """The official async SDK pointed at the emulator, retries off."""
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key=API_KEY, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
def http(server: BackgroundServer, emulator: Emulator) -> Iterator[httpx.Client]:
    """A raw HTTP client for wire-level assertions, authorised by default."""
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {API_KEY}"}) as raw:
        yield raw


def spec_schema(name: str) -> dict[str, Any]:
    """A schema from schemas/ (built from the official OpenAPI spec)."""
    schema: dict[str, Any] = json.loads(resources.files("emulator._schemas").joinpath(name).read_text())
    return schema


def assert_valid(instance: Any, schema_file: str) -> None:
    """Fail with the spec's complaint when `instance` does not fit the schema."""
    jsonschema.Draft202012Validator(spec_schema(schema_file)).validate(instance)


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (through anyio's pytest plugin)."""
    return "asyncio"


@pytest.fixture
def server_errors(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[str]]]:
    """The ERROR records the live server has logged so far (uvicorn's loggers do not propagate)."""
    watched = [logging.getLogger(name) for name in ("uvicorn.error", "emulator")]
    for logger in watched:
        logger.addHandler(caplog.handler)
    yield lambda: [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    for logger in watched:
        logger.removeHandler(caplog.handler)
