"""Reply -> wire: a chat.completion JSON body, or SSE chunks ending in `data: [DONE]`.

The two renderings read the same Reply and add nothing to what it says; only the layout
differs. Key order follows the real API (protocol §1).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, TypeVar

import orjson

from .ids import random_id
from .types import Choice, Reply, StreamFault, TokenLogprob, ToolCall, Usage

DONE = b"data: [DONE]\n\n"
_T = TypeVar("_T")
# Jitter and padding need to vary, not to be secret: one generator seeded from the OS (again in
# a forked child), not one seeded per stream (8.5 us a stream).
_rng = random.Random()
os.register_at_fork(after_in_child=_rng.seed)


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
    body = completion_body(reply)
    if _scored(reply):  # as _compact: the stdlib writes tiny floats as the real API does
        return json.dumps(body, indent=2, ensure_ascii=False).encode()
    return orjson.dumps(body, option=orjson.OPT_INDENT_2)


def _scored(reply: Reply) -> bool:
    """Whether the reply carries logprobs (asked for, so every choice has them)."""
    return reply.choices[0].logprobs is not None if reply.choices else False


def _compact(scored: bool) -> Callable[[Any], bytes]:
    """The encoder of a reply's compact JSON: orjson, or the stdlib when logprobs put floats in it.

    orjson lays JSON out as json.dumps(ensure_ascii=False) does and is far faster (the stdlib's
    json is pure Python once `indent` is set: ~50 us a body against ~1 us; 5 us a chunk against
    0.5 us), but writes tiny floats as 1e-7 where the real API and json write 1e-07.
    """
    return _stdlib_compact if scored else orjson.dumps


def _stdlib_compact(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def paced(reply: Reply) -> bool:
    """Whether the reply waits before or between its tokens (its fixture scripted a latency)."""
    latency = reply.delivery.latency
    return bool(latency.first_token_ms or latency.per_token_ms)


def completion_delay(reply: Reply) -> float:
    """Seconds a non-streamed reply takes, as its stream would: first token, then every token."""
    latency = reply.delivery.latency
    delay = latency.first_token_ms + latency.per_token_ms * reply.usage.completion_tokens
    if delay and latency.jitter_ms:
        delay = max(0.0, delay + _rng.uniform(-latency.jitter_ms, latency.jitter_ms))
    return delay / 1000


# --- streaming ---------------------------------------------------------------------------

# A chunk's layout: `data: `, the head every chunk of the reply shares, `"choices":[`, the
# choice's part (`{"index":0,"delta":...,"logprobs":...,"finish_reason":...}`), `]`, with
# include_usage `"usage":null`, and the closing brace that sse writes (after `"obfuscation"`
# when it pads). The constant parts are encoded once per reply and only the text per chunk:
# ~0.9 us a chunk against ~2.4 us to build and encode each chunk's whole body.


def _head(reply: Reply) -> dict[str, Any]:
    """What every chunk of the reply opens with."""
    return {
        "id": reply.id,
        "object": "chat.completion.chunk",
        "created": reply.created,
        "model": reply.model,
        "service_tier": reply.service_tier,
        "system_fingerprint": reply.system_fingerprint,
    }


def _runs(pieces: Sequence[str], size: int) -> list[tuple[str, int]]:
    """`pieces` joined in runs of `size` (at least one; the last run possibly shorter), with
    each run's length: the text of each chunk and the tokens it carries."""
    if size <= 1:
        return [(piece, 1) for piece in pieces]
    runs = (pieces[start : start + size] for start in range(0, len(pieces), size))
    return [("".join(run), len(run)) for run in runs]


def _spliced(
    before: bytes, pieces: Sequence[str], after: bytes, per_chunk: int, dump: Callable[[Any], bytes]
) -> Iterator[tuple[bytes, int]]:
    """A chunk for each run of `pieces`, its text encoded between `before` and `after`."""
    for text, carried in _runs(pieces, per_chunk):
        yield before + dump(text) + after, carried


def _first_fragment(index: int, call: ToolCall) -> dict[str, Any]:
    """The fragment that opens a tool call: the only one with its id, type and name."""
    return {"index": index, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}


def _choice_events(
    choice: Choice, per_chunk: int, dump: Callable[[Any], bytes], opening: bytes, closing: bytes
) -> Iterator[tuple[bytes, int]]:
    """Every chunk of one choice, open (see above), with the tokens it carries: the role delta,
    then what it says, then its `delta: {}` finish."""
    opening += b'{"index":%d,"delta":' % choice.index
    unscored = b',"logprobs":null,"finish_reason":null}' + closing
    scored = choice.logprobs

    def event(delta: bytes, logprobs: dict[str, Any] | None = None) -> bytes:
        if logprobs is None:
            return opening + delta + unscored
        return opening + delta + b',"logprobs":' + dump(logprobs) + b',"finish_reason":null}' + closing

    first: dict[str, Any] = {"role": "assistant", "content": None if choice.content_pieces is None else ""}
    calls_only = choice.content_pieces is None and choice.refusal_pieces is None and bool(choice.tool_calls)
    if calls_only:
        # The first tool fragment rides in the role chunk, as the real API sends it (protocol §6.3).
        first["tool_calls"] = [_first_fragment(0, choice.tool_calls[0])]
    first["refusal"] = None if choice.refusal_pieces is None else ""
    yield event(dump(first), None if scored is None else _logprobs_body(choice, ())), 0

    scored_field = "refusal" if _scores_refusal(choice) else "content"
    for field, pieces in (("content", choice.content_pieces), ("refusal", choice.refusal_pieces)):
        if scored is None or field != scored_field:
            yield from _spliced(opening + b'{"%s":' % field.encode(), pieces or (), b"}" + unscored, per_chunk, dump)
            continue
        position = 0
        for text, carried in _runs(pieces or (), per_chunk):
            logprobs = _logprobs_body(choice, scored[position : position + carried])
            position += carried
            yield event(b'{"%s":' % field.encode() + dump(text) + b"}", logprobs), carried

    for index, call in enumerate(choice.tool_calls):
        if index > 0 or not calls_only:
            yield event(dump({"tool_calls": [_first_fragment(index, call)]})), 0
        arguments = opening + b'{"tool_calls":[{"index":%d,"function":{"arguments":' % index
        yield from _spliced(arguments, call.argument_pieces, b"}}]}" + unscored, per_chunk, dump)

    yield opening + b'{},"logprobs":null,"finish_reason":' + dump(choice.finish_reason) + b"}" + closing, 0


def _take_turns(streams: list[Iterator[_T]]) -> Iterator[_T]:
    """One item of each stream in turn, until every one runs out."""
    while len(streams) > 1:
        still_running = []
        for stream in streams:
            item = next(stream, None)
            if item is not None:
                yield item
                still_running.append(stream)
        streams = still_running
    for stream in streams:  # the last one left, without taking turns
        yield from stream


def _open_events(reply: Reply, include_usage: bool) -> Iterator[tuple[bytes, int]]:
    """Every chunk of the reply as its event but for the closing brace, with the tokens it carries.

    Choices take turns, one chunk each (as the real API interleaves n > 1), and each ends
    with its own `delta: {}` finish chunk; the usage chunk, when asked for, comes last.
    """
    dump = _compact(_scored(reply))
    opening = b"data: " + dump(_head(reply))[:-1] + b',"choices":['
    closing = b'],"usage":null' if include_usage else b"]"
    per_chunk = reply.delivery.tokens_per_chunk
    yield from _take_turns([_choice_events(choice, per_chunk, dump, opening, closing) for choice in reply.choices])
    if include_usage:
        yield opening + b'],"usage":' + dump(usage_body(reply.usage)), 0


def event(body: dict[str, Any], *, scored: bool = False) -> bytes:
    """One SSE event: `data: <compact JSON>` and a blank line (`scored`: the body has logprobs)."""
    return b"data: " + _compact(scored)(body) + b"\n\n"


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
    # Obfuscation pads every chunk with 0-15 random letters and digits (protocol §6.3): slices
    # of one random string per stream, as random to a reader and far cheaper per chunk.
    padding = random_id("", 80).encode()
    events = _open_events(reply, include_usage)
    if fault is not None:  # its chunks are never encoded
        events = itertools.islice(events, fault.after_chunks)
    waits = paced(reply)
    for sent, (opened, carried) in enumerate(events):
        if waits:
            delay = latency.first_token_ms if sent == 0 else latency.per_token_ms * carried
            if delay and latency.jitter_ms:
                delay = max(0.0, delay + _rng.uniform(-latency.jitter_ms, latency.jitter_ms))
            if delay:
                await asyncio.sleep(delay / 1000)
        if obfuscate:
            start, length = divmod(_rng.getrandbits(10), 16)
            yield b"".join((opened, b',"obfuscation":"', padding[start : start + length], b'"}\n\n'))
        else:
            yield opened + b"}\n\n"
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
