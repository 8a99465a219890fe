"""Bearer key checks, with the real API's 401 wording."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from emulator.auth import MISSING_KEY, mask_key
from emulator.server import BackgroundServer
from emulator.settings import Settings
from tests.conftest import ChatRequest

HELLO: ChatRequest = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def locked() -> Iterator[BackgroundServer]:
    """An emulator that accepts one key only."""
    with BackgroundServer(Settings(port=0, api_keys=("sk-the-only-good-key-000000000000",))) as running:
        yield running


def test_missing_key_is_401_with_the_real_wording(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions", json=HELLO, headers={"Authorization": ""})
    assert response.status_code == 401
    assert response.json() == {
        "error": {"message": MISSING_KEY, "type": "invalid_request_error", "param": None, "code": None}
    }


def test_non_bearer_authorization_counts_as_missing(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions", json=HELLO, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert response.status_code == 401
    assert response.json()["error"]["message"] == MISSING_KEY


def test_any_key_is_accepted_when_none_are_configured(server: BackgroundServer) -> None:
    with openai.OpenAI(base_url=server.base_url, api_key="whatever", max_retries=0) as sdk:
        assert sdk.chat.completions.create(**HELLO).choices


def test_a_key_outside_the_configured_list_is_401_invalid_api_key(locked: BackgroundServer) -> None:
    wrong = "sk-proj-abcdefghijklmnopqrstuvwxyzMxYA"
    with (
        openai.OpenAI(base_url=locked.base_url, api_key=wrong, max_retries=0) as sdk,
        pytest.raises(openai.AuthenticationError) as caught,
    ):
        sdk.chat.completions.create(**HELLO)
    error = caught.value
    assert error.status_code == 401
    assert error.code == "invalid_api_key"
    assert error.type == "invalid_request_error" and error.param is None
    assert isinstance(error.body, dict)
    assert error.body["message"] == (
        f"Incorrect API key provided: {mask_key(wrong)}. "
        "You can find your API key at https://platform.openai.com/account/api-keys."
    )
    assert wrong not in str(error)


def test_the_configured_key_is_accepted(locked: BackgroundServer) -> None:
    with openai.OpenAI(base_url=locked.base_url, api_key="sk-the-only-good-key-000000000000", max_retries=0) as sdk:
        assert sdk.chat.completions.create(**HELLO).choices


def test_models_need_a_key_too(http: httpx.Client) -> None:
    assert http.get("/v1/models", headers={"Authorization": ""}).status_code == 401


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("sk-VKMIs" + "x" * 39 + "wjh3", "sk-VKMIs" + "*" * 39 + "wjh3"),
        ("YOUR_OPENAI_KEY", "YOUR_OPE***_KEY"),
        ("DEADBEEF", "DEADBEEF"),
        ("kk", "kk"),
    ],
)
def test_keys_are_masked_as_the_real_api_masks_them(key: str, shown: str) -> None:
    assert mask_key(key) == shown
