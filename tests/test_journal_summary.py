"""A journal entry's account of the reply reads as a plain summary, though it is worked out only
when something reads it."""

from __future__ import annotations

import json

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
