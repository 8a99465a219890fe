"""GET /v1/models and /v1/models/{id}."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.conftest import assert_valid


def test_models_list_validates_against_the_spec(http: httpx.Client) -> None:
    response = http.get("/v1/models")
    assert response.status_code == 200
    assert_valid(response.json(), "models.list.json")


def test_sdk_lists_the_configured_models(client: openai.OpenAI) -> None:
    ids = [model.id for model in client.models.list()]
    assert "gpt-4o" in ids and "gpt-4.1" in ids
    assert all(model.object == "model" and model.owned_by for model in client.models.list())


def test_sdk_retrieves_one_model(client: openai.OpenAI) -> None:
    model = client.models.retrieve("gpt-4o-mini")
    assert model.id == "gpt-4o-mini" and model.created > 0


def test_unknown_model_is_404_model_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("gpt-4.1-nano-wrong")
    assert caught.value.code == "model_not_found"
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["message"] == "The model `gpt-4.1-nano-wrong` does not exist or you do not have access to it."


def test_model_not_found_body_is_laid_out_like_the_real_404(http: httpx.Client) -> None:
    response = http.get("/v1/models/nope")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.text.startswith('{\n    "error": {') and response.text.endswith("}\n")
    assert_valid(response.json(), "error.json")
