"""Reply -> wire: a chat.completion JSON body, or SSE chunks ending in `data: [DONE]`.

The two renderings read the same Reply and add nothing to what it says; only the layout
differs. Key order follows the real API (protocol §1).
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import string
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from .types import Choice, Reply, StreamFault, TokenLogprob, ToolCall, Usage

DONE = b"data: [DONE]\n\n"
_OBFUSCATION_ALPHABET = string.ascii_letters + string.digits


def usage_body(usage: Usage) -> dict[str, Any]:
    """The `usage` object with both details objects."""
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "audio_tokens": usage.prompt_audio_tokens,
        },
        "completion_tokens_details": {
            "reasoning_tokens": usage.reasoning_tokens,
            "audio_tokens": usage.completion_audio_tokens,
            "accepted_prediction_tokens": usage.accepted_prediction_tokens,
            "rejected_prediction_tokens": usage.rejected_prediction_tokens,
        },
    }


def _token_logprobs(entries: Sequence[TokenLogprob]) -> list[dict[str, Any]]:
    return [
        {
            "token": e.token,
            "logprob": e.logprob,
            "bytes": e.bytes,
            "top_logprobs": [{"token": t.token, "logprob": t.logprob, "bytes": t.bytes} for t in e.top_logprobs],
        }
        for e in entries
    ]


def _logprobs_body(choice: Choice, entries: Sequence[TokenLogprob]) -> dict[str, Any]:
    """`logprobs` of a choice: scored tokens under `content`, or under `refusal` for a refusal."""
    scored = _token_logprobs(entries)
    if choice.content_pieces is None and choice.refusal_pieces is not None:
        return {"content": None, "refusal": scored}
    return {"content": scored, "refusal": None}


def _tool_call_body(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def completion_body(reply: Reply) -> dict[str, Any]:
    """The non-streamed `chat.completion` object."""
    choices = []
    for choice in reply.choices:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": choice.content,
            "refusal": choice.refusal,
            "annotations": [],
        }
        if choice.tool_calls:
            message["tool_calls"] = [_tool_call_body(call) for call in choice.tool_calls]
        choices.append(
            {
                "index": choice.index,
                "message": message,
                "logprobs": None if choice.logprobs is None else _logprobs_body(choice, choice.logprobs),
                "finish_reason": choice.finish_reason,
            }
        )
    return {
        "id": reply.id,
        "object": "chat.completion",
        "created": reply.created,
        "model": reply.model,
        "choices": choices,
        "usage": usage_body(reply.usage),
        "service_tier": reply.service_tier,
        "system_fingerprint": reply.system_fingerprint,
    }


def completion_json(reply: Reply) -> bytes:
    """The body bytes as the real API lays them out: 2-space indent, raw UTF-8, no newline."""
    return json.dumps(completion_body(reply), indent=2, ensure_ascii=False).encode()


# --- streaming ---------------------------------------------------------------------------


def _groups(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), max(1, size)):
        yield items[start : start + max(1, size)]


def _choice_deltas(choice: Choice, per_chunk: int) -> Iterator[tuple[dict[str, Any], list[TokenLogprob] | None, int]]:
    """(delta, logprob entries, tokens carried) for one choice, the finish chunk excluded."""
    scored = list(choice.logprobs) if choice.logprobs is not None else None
    first: dict[str, Any] = {"role": "assistant"}
    if choice.content_pieces is None and choice.refusal_pieces is not None:
        first.update(content=None, refusal="")
    elif choice.content_pieces is None and choice.tool_calls:
        first["content"] = None
    else:
        first.update(content="", refusal=None)
    calls = list(choice.tool_calls)
    if choice.content_pieces is None and choice.refusal_pieces is None and calls:
        # The first tool fragment rides in the role chunk, as the real API sends it.
        first["tool_calls"] = [_first_fragment(0, calls[0])]
        first["refusal"] = None
    yield first, ([] if scored is not None else None), 0

    position = 0
    for field, pieces in (("content", choice.content_pieces), ("refusal", choice.refusal_pieces)):
        for group in _groups(pieces or (), per_chunk):
            entries = scored[position : position + len(group)] if scored is not None else None
            position += len(group)
            yield {field: "".join(group)}, entries, len(group)
    for index, call in enumerate(calls):
        if not (index == 0 and "tool_calls" in first):
            yield {"tool_calls": [_first_fragment(index, call)]}, None, 0
        for group in _groups(call.argument_pieces, per_chunk):
            fragment = {"index": index, "function": {"arguments": "".join(group)}}
            yield {"tool_calls": [fragment]}, None, len(group)


def _first_fragment(index: int, call: ToolCall) -> dict[str, Any]:
    return {"index": index, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}


def chunks(reply: Reply, *, include_usage: bool = False) -> Iterator[tuple[dict[str, Any], int]]:
    """Every `chat.completion.chunk` of the reply, with the tokens each carries.

    Choices are interleaved one chunk at a time (as the real API does for n > 1); the usage
    chunk, when asked for, comes after every finish chunk.
    """
    head = {
        "id": reply.id,
        "object": "chat.completion.chunk",
        "created": reply.created,
        "model": reply.model,
        "service_tier": reply.service_tier,
        "system_fingerprint": reply.system_fingerprint,
    }

    def chunk(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> dict[str, Any]:
        body = {**head, "choices": choices}
        if include_usage:
            body["usage"] = usage
        return body

    per_chunk = reply.delivery.tokens_per_chunk
    streams = [
        (choice, _choice_deltas(choice, per_chunk)) for choice in reply.choices
    ]
    while streams:
        still = []
        for choice, deltas in streams:
            step = next(deltas, None)
            if step is None:
                finish = {"index": choice.index, "delta": {}, "logprobs": None, "finish_reason": choice.finish_reason}
                yield chunk([finish]), 0
                continue
            delta, entries, carried = step
            logprobs = None
            if entries is not None:
                logprobs = _logprobs_body(choice, entries)
            yield chunk([{"index": choice.index, "delta": delta, "logprobs": logprobs, "finish_reason": None}]), carried
            still.append((choice, deltas))
        streams = still
    if include_usage:
        yield chunk([], usage_body(reply.usage)), 0


def _obfuscation(rng: random.Random) -> str:
    return "".join(rng.choice(_OBFUSCATION_ALPHABET) for _ in range(rng.randint(0, 15)))


def event(body: dict[str, Any]) -> bytes:
    """One SSE event: `data: <compact JSON>` and a blank line."""
    return b"data: " + json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"


class StreamDisconnect(Exception):
    """A fixture asked for the connection to drop mid-stream."""


async def sse(reply: Reply, *, include_usage: bool = False, obfuscate: bool = True) -> AsyncIterator[bytes]:
    """The reply as SSE bytes, paced by its delivery, ending in `data: [DONE]`."""
    delivery = reply.delivery
    latency = delivery.latency
    rng = random.Random(secrets.randbits(32))
    fault = delivery.fault
    sent = 0
    for body, carried in chunks(reply, include_usage=include_usage):
        if fault is not None and sent == fault.after_chunks:
            for data in _fault(fault):
                yield data
            return
        delay = latency.first_token_ms if sent == 1 else latency.per_token_ms * carried
        if latency.jitter_ms and delay:
            delay = max(0.0, delay + rng.uniform(-latency.jitter_ms, latency.jitter_ms))
        if delay:
            await asyncio.sleep(delay / 1000)
        if obfuscate:
            body["obfuscation"] = _obfuscation(rng)
        yield event(body)
        sent += 1
    if fault is not None and sent <= fault.after_chunks:
        for data in _fault(fault):
            yield data
        return
    yield DONE


def _fault(fault: StreamFault) -> Iterator[bytes]:
    """What a mid-stream fault puts on the wire (protocol §6.5), or a dropped connection."""
    if fault.kind == "error":
        yield event({"error": {"message": fault.message, "type": fault.type, "param": None, "code": fault.code}})
    elif fault.kind == "malformed":
        yield b'data: {"id": "chatcmpl-\n\n'
    else:
        raise StreamDisconnect()
