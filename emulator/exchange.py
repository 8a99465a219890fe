"""An exchange with a real API, and the fixture entry it becomes.

The Recorder (record.py) asks here for the entry of each finished exchange: its `match`
from the request (the model, prompts and tools, volatile values generalised) and its `reply`
from the response (a completion, the chunks of a stream, or the upstream's error as a
`fault`), secrets kept out of both. What is a secret and what is volatile: scrub.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import tokens
from .located import Invalid
from .matching import RequestView
from .scripted import FINISH_REASONS, compile_template
from .scrub import Scrubber

# The response headers an error fixture keeps: the ones that steer the SDK's retries.
FAULT_HEADERS = ("retry-after", "retry-after-ms", "x-should-retry")


@dataclass(frozen=True)
class Exchange:
    """One request forwarded upstream and what came back."""

    request: Any  # the parsed JSON body; None when it was not JSON
    api_key: str | None  # the caller's key, known only to be kept out of the file
    status: int
    headers: Mapping[str, str]  # response headers, names in lower case
    body: bytes  # the response body; empty for a stream
    events: tuple[tuple[float, str], ...]  # a stream's `data:` payloads, each with its ms since sending
    elapsed_ms: float  # from sending the request to the end of the response


def request_match(view: RequestView, scrub: Scrubber) -> dict[str, Any]:
    """The `match` of a recorded request: its model, prompts and tools, volatile values generalised.

    `tool_choice` and `response_format` are always written, so a fixture recorded without
    tools (or JSON) does not answer the same question asked with them.
    """
    match: dict[str, Any] = {"model": view.model}
    if view.system:
        match["system"] = scrub.match_text(view.system[0])
    if view.last_user_index >= 0:
        match["last_user"] = scrub.match_text(view.last_user)
    if view.tools:
        match["tools"] = sorted(view.tools)
    choice = view.tool_choice
    match["tool_choice"] = {"name": choice.removeprefix("function:")} if choice.startswith("function:") else choice
    if view.tools or view.tool_results:
        match["has_tool_result"] = bool(view.tool_results)
    if view.tool_results:
        match["tool_result"] = scrub.match_text(view.tool_results[-1])
    match["response_format"] = view.response_format
    return match


# Where each key of a fixture's `usage` stands in a usage body: (details object or None, field).
USAGE_FIELDS = {
    "prompt_tokens": (None, "prompt_tokens"),
    "completion_tokens": (None, "completion_tokens"),
    "cached_tokens": ("prompt_tokens_details", "cached_tokens"),
    "prompt_audio_tokens": ("prompt_tokens_details", "audio_tokens"),
    "reasoning_tokens": ("completion_tokens_details", "reasoning_tokens"),
    "completion_audio_tokens": ("completion_tokens_details", "audio_tokens"),
    "accepted_prediction_tokens": ("completion_tokens_details", "accepted_prediction_tokens"),
    "rejected_prediction_tokens": ("completion_tokens_details", "rejected_prediction_tokens"),
}


def _usage(body: Any) -> dict[str, int]:
    """A usage body as a fixture's `usage`: the two counts, and the details that are not zero."""
    if not isinstance(body, Mapping):
        return {}
    usage = {}
    for key, (details, field) in USAGE_FIELDS.items():
        value = ((body.get(details) or {}) if details else body).get(field)
        if type(value) is int and (value or details is None):
            usage[key] = value
    return usage


def _reply(messages: Sequence[Mapping[str, Any]], usage: Any, scrub: Scrubber) -> dict[str, Any]:
    """A fixture `reply` saying what the choices said; tool calls, refusal and finish from choice 0."""
    first = messages[0] if messages else {}
    calls = [c for c in first.get("tool_calls") or () if isinstance(c, Mapping)]
    refusal = first.get("refusal")
    reply: dict[str, Any] = {}
    contents = [m.get("content") for m in messages]
    if any(isinstance(c, str) for c in contents) or not (calls or isinstance(refusal, str)):
        texts = [scrub.redact(c if isinstance(c, str) else "") for c in contents] or [""]
        reply["content"] = texts[0] if len(set(texts)) == 1 else texts
    if calls:
        reply["tool_calls"] = [_tool_call(call, scrub) for call in calls]
    if isinstance(refusal, str):
        reply["refusal"] = scrub.redact(refusal)
    if first.get("finish_reason") in FINISH_REASONS:  # else the emulator works it out
        reply["finish_reason"] = first["finish_reason"]
    if recorded := _usage(usage):
        reply["usage"] = recorded
    return reply


def _tool_call(call: Mapping[str, Any], scrub: Scrubber) -> dict[str, str]:
    """A tool call as a fixture writes it: arguments as the exact JSON string, and its id."""
    function = call.get("function") or {}
    written = {"name": str(function.get("name") or ""), "arguments": scrub.redact(function.get("arguments") or "")}
    if isinstance(call.get("id"), str):
        written["id"] = call["id"]
    return written


def _completion_reply(body: bytes, scrub: Scrubber) -> dict[str, Any] | None:
    """The reply a `chat.completion` body gives; None when the body is no completion."""
    completion = json.loads(body)
    if not isinstance(completion, Mapping) or not isinstance(completion.get("choices"), list):
        return None
    choices = sorted((c for c in completion["choices"] if isinstance(c, Mapping)), key=lambda c: c.get("index", 0))
    messages = [{**(c.get("message") or {}), "finish_reason": c.get("finish_reason")} for c in choices]
    return _reply(messages, completion.get("usage"), scrub)


def _stream_reply(exchange: Exchange, model: str, scrub: Scrubber, keep_timing: bool) -> dict[str, Any]:
    """The reply a stream of chunks spells; a mid-stream error event becomes a stream fault."""
    messages: dict[int, dict[str, Any]] = {}
    usage = None
    chunks: list[tuple[float, int]] = []  # (ms, tokens carried) of each chunk
    fault = None
    for ms, data in exchange.events:
        if data == "[DONE]":
            break
        chunk = json.loads(data)
        if isinstance(chunk.get("error"), Mapping):
            fault = {"kind": "error", "after_chunks": len(chunks), **_error_fields(chunk["error"], scrub)}
            break
        usage = chunk.get("usage") or usage
        carried = 0
        for choice in chunk.get("choices") or ():
            message = messages.setdefault(choice.get("index", 0), {"tool_calls": []})
            carried += _accumulate(message, choice.get("delta") or {}, model)
            message["finish_reason"] = choice.get("finish_reason") or message.get("finish_reason")
        chunks.append((ms, carried))
    reply = _reply([messages[i] for i in sorted(messages)], usage, scrub)
    if keep_timing and chunks:
        reply.update(_stream_timing(chunks))
    if fault is not None:
        reply["fault"] = fault
    return reply


def _accumulate(message: dict[str, Any], delta: Mapping[str, Any], model: str) -> int:
    """Add one delta to a choice's message, as the SDK's stream helper does; the tokens it carried."""
    said = []
    for field in ("content", "refusal"):
        if isinstance(delta.get(field), str):
            message[field] = (message.get(field) or "") + delta[field]
            said.append(delta[field])
    for fragment in delta.get("tool_calls") or ():
        calls = message["tool_calls"]
        index = fragment.get("index", 0)
        while len(calls) <= index:
            calls.append({"function": {"name": "", "arguments": ""}})
        function = fragment.get("function") or {}
        calls[index]["id"] = fragment.get("id") or calls[index].get("id")
        calls[index]["function"]["name"] += function.get("name") or ""
        calls[index]["function"]["arguments"] += function.get("arguments") or ""
        said.append(function.get("arguments") or "")
    return sum(tokens.count(text, model) for text in said if text)


def _stream_timing(chunks: Sequence[tuple[float, int]]) -> dict[str, Any]:
    """`latency` and `chunking` as the emulator paces a stream: a wait, then a rate per token."""
    first_ms = chunks[0][0]
    later_tokens = sum(carried for _, carried in chunks[1:])
    per_token = (chunks[-1][0] - first_ms) / later_tokens if later_tokens else 0.0
    carrying = [carried for _, carried in chunks if carried]
    return {
        "latency": {"first_token_ms": round(first_ms, 1), "per_token_ms": round(per_token, 2)},
        "chunking": {"tokens_per_chunk": max(1, round(sum(carrying) / len(carrying))) if carrying else 1},
    }


def _error_fields(error: Mapping[str, Any], scrub: Scrubber) -> dict[str, str]:
    """message, type and code of an error body (a 401 echoes the key, so they are scrubbed too)."""
    fields = {key: error.get(key) for key in ("message", "type", "code")}
    return {key: scrub.redact(value) for key, value in fields.items() if isinstance(value, str)}


def _fault(exchange: Exchange, scrub: Scrubber) -> dict[str, Any]:
    """An error response as a fixture `fault`: status, wording, and the headers that steer retries."""
    try:
        error = json.loads(exchange.body).get("error")
    except (ValueError, AttributeError):
        error = None  # not the OpenAI envelope: an HTML 502 from a gateway, say
    fault: dict[str, Any] = {"status": exchange.status}
    if isinstance(error, Mapping):
        fault.update(_error_fields(error, scrub))
    fault.setdefault("message", scrub.redact(exchange.body.decode(errors="replace").strip()[:500]))
    headers = {name: exchange.headers[name] for name in FAULT_HEADERS if name in exchange.headers}
    if headers:
        fault["headers"] = headers
    return fault


def fixture_reply(exchange: Exchange, scrub: Scrubber, keep_timing: bool) -> dict[str, Any] | None:
    """What the fixture of a chat exchange answers: the reply, or the upstream's error as a fault.

    None when the response is neither: another status, or a body that is no chat completion.
    """
    if 400 <= exchange.status <= 599:
        return {"fault": _fault(exchange, scrub)}
    if exchange.status != 200:
        return None
    try:
        if exchange.events:
            return _stream_reply(exchange, exchange.request["model"], scrub, keep_timing)
        reply = _completion_reply(exchange.body, scrub)
    except (ValueError, AttributeError, TypeError):
        return None  # JSON that is not what a chat completion or its chunks look like
    if reply is not None and keep_timing:
        # A non-streamed reply arrives whole: the emulator waits first_token_ms, then sends it.
        reply["latency"] = {"first_token_ms": round(exchange.elapsed_ms, 1)}
    return reply


def fills_in(reply: Mapping[str, Any]) -> bool:
    """Whether reply text holds `{{ … }}`, which a fixture would fill in rather than say."""
    content = reply.get("content")
    for text in [*(content if isinstance(content, list) else [content]), reply.get("refusal")]:
        try:
            if isinstance(text, str) and len(compile_template(text).parts) > 1:
                return True
        except Invalid:
            return True
    return False
