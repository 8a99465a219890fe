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

import orjson

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


def _scores_refusal(choice: Choice) -> bool:
    """Whether the choice's logprobs score its refusal (a refusal without content) or its content."""
    return choice.content_pieces is None and choice.refusal_pieces is not None


def _logprobs_body(choice: Choice, entries: Sequence[TokenLogprob]) -> dict[str, Any]:
    """`logprobs` of a choice: scored tokens under `content`, or under `refusal` for a refusal."""
    scored = _token_logprobs(entries)
    if _scores_refusal(choice):
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
    return _dumps(completion_body(reply), indent=True, scored=_scored(reply))


def _scored(reply: Reply) -> bool:
    """Whether the reply carries logprobs (asked for, so every choice has them)."""
    return reply.choices[0].logprobs is not None if reply.choices else False


def _dumps(body: dict[str, Any], *, indent: bool, scored: bool) -> bytes:
    """`body` as JSON: orjson, or the stdlib when logprobs put floats in it.

    orjson lays JSON out as json.dumps(ensure_ascii=False) does and is far faster (the stdlib's
    json is pure Python once `indent` is set: ~50 us a body against ~1 us; 5 us a chunk against
    0.5 us), but writes tiny floats as 1e-7 where the real API and json write 1e-07.
    """
    if scored:
        if indent:
            return json.dumps(body, indent=2, ensure_ascii=False).encode()
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return orjson.dumps(body, option=orjson.OPT_INDENT_2 if indent else 0)


def completion_delay(reply: Reply) -> float:
    """Seconds a non-streamed reply takes, as its stream would: first token, then every token."""
    latency = reply.delivery.latency
    delay = latency.first_token_ms + latency.per_token_ms * reply.usage.completion_tokens
    if delay and latency.jitter_ms:
        delay = max(0.0, delay + random.uniform(-latency.jitter_ms, latency.jitter_ms))
    return delay / 1000


# --- streaming ---------------------------------------------------------------------------

_Step = tuple[dict[str, Any], dict[str, Any] | None, int]  # delta, logprobs, tokens carried


def _groups(pieces: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """`pieces` in runs of `size` (at least one), the last run possibly shorter."""
    size = max(1, size)
    for start in range(0, len(pieces), size):
        yield pieces[start : start + size]


def _first_fragment(index: int, call: ToolCall) -> dict[str, Any]:
    """The fragment that opens a tool call: the only one with its id, type and name."""
    return {"index": index, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}


def _choice_steps(choice: Choice, per_chunk: int) -> Iterator[_Step]:
    """Every chunk of one choice but its finish chunk: the role delta, then what it says."""
    scored = choice.logprobs
    first: dict[str, Any] = {"role": "assistant", "content": None if choice.content_pieces is None else ""}
    calls_only = choice.content_pieces is None and choice.refusal_pieces is None and bool(choice.tool_calls)
    if calls_only:
        # The first tool fragment rides in the role chunk, as the real API sends it (protocol §6.3).
        first["tool_calls"] = [_first_fragment(0, choice.tool_calls[0])]
    first["refusal"] = None if choice.refusal_pieces is None else ""
    yield first, None if scored is None else _logprobs_body(choice, ()), 0

    scored_field = "refusal" if _scores_refusal(choice) else "content"
    for field, pieces in (("content", choice.content_pieces), ("refusal", choice.refusal_pieces)):
        position = 0
        for group in _groups(pieces or (), per_chunk):
            logprobs = None
            if scored is not None and field == scored_field:
                logprobs = _logprobs_body(choice, scored[position : position + len(group)])
            position += len(group)
            yield {field: "".join(group)}, logprobs, len(group)

    for index, call in enumerate(choice.tool_calls):
        if index > 0 or not calls_only:
            yield {"tool_calls": [_first_fragment(index, call)]}, None, 0
        for group in _groups(call.argument_pieces, per_chunk):
            yield {"tool_calls": [{"index": index, "function": {"arguments": "".join(group)}}]}, None, len(group)


def chunks(reply: Reply, *, include_usage: bool = False) -> Iterator[tuple[dict[str, Any], int]]:
    """Every `chat.completion.chunk` of the reply, with the tokens each carries.

    Choices take turns, one chunk each (as the real API interleaves n > 1), and each ends
    with its own `delta: {}` finish chunk; the usage chunk, when asked for, comes last.
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
    running = [(choice, _choice_steps(choice, per_chunk)) for choice in reply.choices]
    while running:
        still_running = []
        for choice, steps in running:
            step = next(steps, None)
            if step is None:
                yield chunk([_choice_chunk(choice.index, {}, None, choice.finish_reason)]), 0
                continue
            delta, logprobs, carried = step
            yield chunk([_choice_chunk(choice.index, delta, logprobs, None)]), carried
            still_running.append((choice, steps))
        running = still_running
    if include_usage:
        yield chunk([], usage_body(reply.usage)), 0


def _choice_chunk(
    index: int, delta: dict[str, Any], logprobs: dict[str, Any] | None, finish_reason: str | None
) -> dict[str, Any]:
    return {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}


def event(body: dict[str, Any], *, scored: bool = False) -> bytes:
    """One SSE event: `data: <compact JSON>` and a blank line (`scored`: the body has logprobs)."""
    return b"data: " + _dumps(body, indent=False, scored=scored) + b"\n\n"


class StreamDisconnect(Exception):
    """A fixture asked for the connection to drop mid-stream."""


async def sse(reply: Reply, *, include_usage: bool = False, obfuscate: bool = True) -> AsyncIterator[bytes]:
    """The reply as SSE bytes, paced by its delivery, ending in `data: [DONE]`.

    Pacing (completion_delay is the same rule for a non-streamed reply): `first_token_ms` before the first chunk, then `per_token_ms` for every token a
    chunk carries, each delay moved by up to `jitter_ms`. A delivery fault replaces the
    chunks from `after_chunks` on, and `[DONE]`, with what the fault puts on the wire.
    """
    latency = reply.delivery.latency
    fault = reply.delivery.fault
    rng = random.Random(secrets.randbits(32))
    # Obfuscation pads every chunk with 0-15 random letters and digits (protocol §6.3): slices
    # of one random string per stream, as random to a reader and far cheaper per chunk.
    padding = "".join(rng.choices(_OBFUSCATION_ALPHABET, k=80))
    scored = _scored(reply)
    for sent, (body, carried) in enumerate(chunks(reply, include_usage=include_usage)):
        if fault is not None and sent == fault.after_chunks:
            break
        delay = latency.first_token_ms if sent == 0 else latency.per_token_ms * carried
        if delay and latency.jitter_ms:
            delay = max(0.0, delay + rng.uniform(-latency.jitter_ms, latency.jitter_ms))
        if delay:
            await asyncio.sleep(delay / 1000)
        if obfuscate:
            start, length = divmod(rng.getrandbits(10), 16)
            body["obfuscation"] = padding[start : start + length]
        yield event(body, scored=scored)
    if fault is None:
        yield DONE
    else:
        yield _fault(fault)


def _fault(fault: StreamFault) -> bytes:
    """What a mid-stream fault puts on the wire (protocol §6.5); a disconnect raises instead."""
    if fault.kind == "error":
        return event({"error": {"message": fault.message, "type": fault.type, "param": None, "code": fault.code}})
    if fault.kind == "malformed":
        return b'data: {"id": "chatcmpl-\n\n'
    raise StreamDisconnect()
