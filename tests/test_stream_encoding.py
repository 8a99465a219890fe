"""A stream's bytes are exactly those of the encoder it replaced, which built every chunk as a whole
object and encoded it (the reference below); the stream now encodes a chunk's constant parts once
per reply and only its text per chunk."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator import render
from emulator import reply as replies
from emulator.types import Choice, Delivery, Draft, DraftToolCall, Reply, Script, ToolCall

# Any text but lone surrogates, which no JSON encoder writes.
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
DRAFTS = st.builds(
    Draft,
    content=st.none() | TEXT,
    refusal=st.none() | TEXT,
    tool_calls=st.lists(st.builds(DraftToolCall, name=st.sampled_from(["get_weather", "lookup"]), arguments=TEXT),
                        max_size=2).map(tuple),
)
REQUESTS = st.fixed_dictionaries(
    {"model": st.sampled_from(["gpt-4o", "gpt-5-mini", "gpt-3.5-turbo", "mo\"del\u00e9"]),
     "messages": st.just([{"role": "user", "content": "Hi"}])},
    optional={
        "n": st.integers(1, 3),
        "logprobs": st.booleans(),
        "top_logprobs": st.integers(0, 3),
        "max_completion_tokens": st.integers(0, 12),
        "service_tier": st.sampled_from(["flex", "auto"]),
    },
)


def streamed(reply: Reply, **options: bool) -> list[bytes]:
    """The chunk events render.sse yields for `reply`, [DONE] left off."""

    async def collect() -> list[bytes]:
        return [data async for data in render.sse(reply, **options)]

    *events, done = asyncio.run(collect())
    assert done == render.DONE
    return events


@settings(max_examples=300, deadline=None)
@given(
    request=REQUESTS,
    drafts=st.lists(DRAFTS, min_size=1, max_size=2),
    per_chunk=st.integers(1, 3),
    include_usage=st.booleans(),
    obfuscate=st.booleans(),
)
def test_every_event_is_what_the_whole_chunk_encoder_wrote(
    request: dict[str, object], drafts: list[Draft], per_chunk: int, include_usage: bool, obfuscate: bool
) -> None:
    script = Script(drafts=tuple(drafts), source="test", delivery=Delivery(tokens_per_chunk=per_chunk))
    reply = replies.build_reply(request, script, seed=3)
    scored = bool(request.get("logprobs"))
    events = streamed(reply, include_usage=include_usage, obfuscate=obfuscate)
    expected = []
    for body, sent in zip(reference_chunks(reply, include_usage), events, strict=True):
        if obfuscate:  # random padding: the reference takes the value the stream chose
            body["obfuscation"] = json.loads(sent.removeprefix(b"data: "))["obfuscation"]
        expected.append(reference_event(body, scored))
    assert events == expected


# --- the reference: every chunk built as a whole object, then encoded ------------------------


def reference_chunks(reply: Reply, include_usage: bool) -> Iterator[dict[str, Any]]:
    """Every chunk of the reply as an object: choices take turns, one chunk each, each ends with
    its `delta: {}` finish chunk; the usage chunk, when asked for, comes last."""
    head = {"id": reply.id, "object": "chat.completion.chunk", "created": reply.created, "model": reply.model,
            "service_tier": reply.service_tier, "system_fingerprint": reply.system_fingerprint}

    def chunk(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> dict[str, Any]:
        body = {**head, "choices": choices}
        if include_usage:
            body["usage"] = usage
        return body

    running = [(choice, reference_steps(choice, reply.delivery.tokens_per_chunk)) for choice in reply.choices]
    while running:
        still_running = []
        for choice, steps in running:
            step = next(steps, None)
            if step is None:
                finish = {"index": choice.index, "delta": {}, "logprobs": None, "finish_reason": choice.finish_reason}
                yield chunk([finish])
                continue
            delta, logprobs = step
            yield chunk([{"index": choice.index, "delta": delta, "logprobs": logprobs, "finish_reason": None}])
            still_running.append((choice, steps))
        running = still_running
    if include_usage:
        yield chunk([], render.usage_body(reply.usage))


def reference_steps(choice: Choice, per_chunk: int) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
    """The delta and logprobs of every chunk of one choice but its finish chunk."""
    scored = choice.logprobs
    refusal_scored = choice.content_pieces is None and choice.refusal_pieces is not None

    def logprobs(entries: Sequence[Any]) -> dict[str, Any]:
        tokens = [{"token": e.token, "logprob": e.logprob, "bytes": e.bytes,
                   "top_logprobs": [{"token": t.token, "logprob": t.logprob, "bytes": t.bytes} for t in e.top_logprobs]}
                  for e in entries]
        return {"content": None, "refusal": tokens} if refusal_scored else {"content": tokens, "refusal": None}

    def fragment(index: int, call: ToolCall) -> dict[str, Any]:
        return {"index": index, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}

    def groups(pieces: Sequence[str]) -> Iterator[Sequence[str]]:
        for start in range(0, len(pieces), max(1, per_chunk)):
            yield pieces[start : start + max(1, per_chunk)]

    first: dict[str, Any] = {"role": "assistant", "content": None if choice.content_pieces is None else ""}
    calls_only = choice.content_pieces is None and choice.refusal_pieces is None and bool(choice.tool_calls)
    if calls_only:
        first["tool_calls"] = [fragment(0, choice.tool_calls[0])]
    first["refusal"] = None if choice.refusal_pieces is None else ""
    yield first, None if scored is None else logprobs(())
    for field, pieces in (("content", choice.content_pieces), ("refusal", choice.refusal_pieces)):
        position = 0
        for group in groups(pieces or ()):
            scores = None
            if scored is not None and field == ("refusal" if refusal_scored else "content"):
                scores = logprobs(scored[position : position + len(group)])
            position += len(group)
            yield {field: "".join(group)}, scores
    for index, call in enumerate(choice.tool_calls):
        if index > 0 or not calls_only:
            yield {"tool_calls": [fragment(index, call)]}, None
        for group in groups(call.argument_pieces):
            yield {"tool_calls": [{"index": index, "function": {"arguments": "".join(group)}}]}, None


def reference_event(body: dict[str, Any], scored: bool) -> bytes:
    """orjson, or the stdlib when logprobs put floats in the body (orjson writes 1e-7, not 1e-07)."""
    encoded = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode() if scored else orjson.dumps(body)
    return b"data: " + encoded + b"\n\n"
