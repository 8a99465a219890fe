"""A journal entry reads as the request and reply it records, though it keeps the body's bytes
and the reply itself, and works out the parsed body and the reply's summary when first read."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai

from emulator.app import Emulator

QUESTION = "Summarise me."


def test_an_entry_reads_as_the_summary_of_its_reply(client: openai.OpenAI, emulator: Emulator) -> None:
    emulator.add_fixture({"name": "brief", "match": {"last_user": QUESTION}, "reply": {"content": "Done."}})
    sent = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}], n=2)
    assert sent.usage is not None
    entry = emulator.journal.entries()[-1]
    assert entry.reply == {
        "source": "fixture:brief",
        "finish_reasons": ["stop", "stop"],
        "content": ["Done.", "Done."],
        "tool_calls": [[], []],
        "usage": {"prompt_tokens": sent.usage.prompt_tokens, "completion_tokens": sent.usage.completion_tokens},
    }


def test_an_entry_as_listed_holds_the_summary_as_a_plain_dict(client: openai.OpenAI, emulator: Emulator) -> None:
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}], seed=1)
    listed = emulator.journal.entries()[-1].as_dict()
    assert type(listed["reply"]) is dict
    assert json.loads(json.dumps(listed["reply"]))["source"] == "generated"


def test_an_entry_reads_the_body_as_parsed_when_it_came(client: openai.OpenAI, emulator: Emulator) -> None:
    # An integer past 64 bits, which the request parser reads exactly (orjson alone would not).
    tool: Any = {"type": "function", "function": {"name": "count", "parameters": {
        "type": "object", "properties": {"n": {"type": "integer", "maximum": 123456789012345678901}}}}}
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}], tools=[tool])
    entry = emulator.journal.entries()[-1]
    assert entry.body == {"model": "gpt-4o", "messages": [{"role": "user", "content": QUESTION}], "tools": [tool]}
    assert entry.body is entry.body  # parsed once: what a test changes in it stays changed


def test_an_entry_of_a_body_that_is_no_json_object_has_none(http: httpx.Client, emulator: Emulator) -> None:
    for sent in (b"{not json", b"[1, 2]"):
        response = http.post("/v1/chat/completions", content=sent, headers={"content-type": "application/json"})
        assert response.status_code == 400
        entry = emulator.journal.entries()[-1]
        assert (entry.raw_body, entry.body, entry.status) == (None, None, 400)


def test_an_entry_of_a_body_rejected_by_validation_keeps_it(http: httpx.Client, emulator: Emulator) -> None:
    sent = {"model": "gpt-4o", "messages": [{"role": "user", "content": QUESTION}], "n": "two"}
    assert http.post("/v1/chat/completions", json=sent).status_code == 400
    assert emulator.journal.entries()[-1].body == sent


def test_an_entry_reads_the_headers_as_received(http: httpx.Client, emulator: Emulator) -> None:
    """Names in lower case, the first of a repeated name, an empty value kept, a key redacted."""
    sent = {"model": "gpt-4o", "messages": [{"role": "user", "content": QUESTION}]}
    headers = [("X-Trace", "first"), ("x-trace", "second"), ("X-Empty", ""), ("Authorization", "Bearer sk-test")]
    assert http.post("/v1/chat/completions", json=sent, headers=httpx.Headers(headers)).status_code == 200
    received = emulator.journal.entries()[-1].headers
    assert (received["x-trace"], received["x-empty"], received["authorization"]) == ("first", "", "[redacted]")
