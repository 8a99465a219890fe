"""Non-streamed bodies are laid out as the real API lays them out, whichever encoder writes them."""

from __future__ import annotations

import json

import pytest

from emulator import render
from emulator import reply as replies
from emulator.types import Draft, Script

REQUEST = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}


@pytest.mark.parametrize("logprobs", [False, True])
def test_a_body_is_two_space_indented_raw_utf8(logprobs: bool) -> None:
    script = Script(drafts=(Draft(content="Grüße, 世界 \u2028 \"quoted\" \t ☂"),), source="generated")
    reply = replies.build_reply({**REQUEST, "logprobs": logprobs, "top_logprobs": 3 * logprobs}, script, seed=7)
    body = render.completion_body(reply)
    assert render.completion_json(reply) == json.dumps(body, indent=2, ensure_ascii=False).encode()


def test_tiny_logprobs_keep_the_two_digit_exponent() -> None:
    """1e-07 as the real API writes it (orjson alone would write 1e-7)."""
    body = {"choices": [{"logprobs": {"content": [{"logprob": -7.1e-07}]}}]}
    assert render.event(body, scored=True) == b'data: {"choices":[{"logprobs":{"content":[{"logprob":-7.1e-07}]}}]}\n\n'
