"""Record mode: exchanges with a real OpenAI-compatible API, written as replayable fixtures.

proxy.py forwards each request upstream and hands the finished exchange to a Recorder. The
Recorder turns it into a fixture entry (match rules from the request; the reply, or a fault
for an error, from the response), keeps secrets out of it, and rewrites the whole file
atomically after every exchange, so stopping the recorder at any moment loses nothing and
every version of the file passes `check`.

What is a secret and what is volatile, and how match text copes with both: scrub.py.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import tokens
from .errors import EmulatorError
from .fixtures import compile_entry
from .located import Invalid, Problems
from .matching import RequestView
from .scripted import FINISH_REASONS, compile_template
from .scrub import DEFAULT_NORMALIZERS, Scrubber

log = logging.getLogger("emulator")

# The response headers an error fixture keeps: the ones that steer the SDK's retries.
FAULT_HEADERS = ("retry-after", "retry-after-ms", "x-should-retry")


class RecordError(EmulatorError):
    """Recording cannot start: the output file exists, or a --normalize regex is broken."""


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


# --- exchange -> fixture entry ----------------------------------------------------------------


def _request_match(view: RequestView, scrub: Scrubber) -> dict[str, Any]:
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


def _fixture_reply(exchange: Exchange, scrub: Scrubber, keep_timing: bool) -> dict[str, Any] | None:
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


def _fills_in(reply: Mapping[str, Any]) -> bool:
    """Whether reply text holds `{{ … }}`, which a fixture would fill in rather than say."""
    content = reply.get("content")
    for text in [*(content if isinstance(content, list) else [content]), reply.get("refusal")]:
        try:
            if isinstance(text, str) and len(compile_template(text).parts) > 1:
                return True
        except Invalid:
            return True
    return False


# --- the file ---------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block style for text of several lines, so a recorded reply reads as it was said."""


def _text(dumper: yaml.SafeDumper, value: str) -> Any:
    # Other styles write NEL (U+0085) as it is, and a YAML reader takes it for a line break.
    style = '"' if "\x85" in value else "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


class Recorder:
    """Writes each recorded exchange as a fixture entry of one YAML file.

    The file is rewritten whole and atomically after every exchange; an empty, valid one is
    written at once, so the path is known to be writable before any request comes. The same
    match recorded again becomes a `sequence`, replayed in the order it was recorded.

    >>> recorder = Recorder(Path("recorded.yaml"), upstream="https://api.openai.com/v1")
    >>> recorder.add(exchange)   # the fixture's name, or None when the exchange was not recordable
    'recorded-1'
    """

    def __init__(
        self,
        path: Path,
        *,
        upstream: str,
        normalize: Sequence[str] = (),
        keep_timing: bool = False,
        force: bool = False,
    ) -> None:
        if path.exists() and not force:
            raise RecordError(f"{path} already exists: give --force to overwrite it, or another file")
        try:
            self._scrub = Scrubber([*DEFAULT_NORMALIZERS, *normalize])
        except re.error as exc:
            raise RecordError(f"--normalize {exc.pattern!r} is not a regex: {exc}") from None
        self.path = path
        self._keep_timing = keep_timing
        self._entries: list[dict[str, Any]] = []
        self._by_match: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        # Userinfo in the URL would be a password in the file.
        shown = re.sub(r"//[^/@]*@", "//", upstream)
        self._header = (
            f"# Recorded by chat-emulator from {shown} on {time.strftime('%Y-%m-%d %H:%M:%S')}.\n"
            f"# Replay: python -m emulator serve --fixtures {path.name}\n"
        )
        try:
            self._write()
        except OSError as exc:
            raise RecordError(f"cannot write {path}: {exc.strerror or exc}") from None

    def add(self, exchange: Exchange) -> str | None:
        """Record one exchange; the name of the fixture that now answers it, or None if skipped."""
        body = exchange.request
        if not (isinstance(body, Mapping) and isinstance(body.get("model"), str) and body.get("messages")):
            # Without a model and messages a fixture would match far more than this request.
            log.warning("not recorded: the request has no model or no messages (status %d)", exchange.status)
            return None
        with self._lock:
            self._scrub.add_key(exchange.api_key)
            reply = _fixture_reply(exchange, self._scrub, self._keep_timing)
            if reply is None:
                log.warning("not recorded: a %d response that is neither a chat completion nor an error", exchange.status)
                return None
            if _fills_in(reply):
                log.warning("not recorded: the reply holds {{ … }}, which a fixture cannot say as it stands")
                return None
            view = RequestView(body)
            name = self._store(_request_match(view, self._scrub), reply, view)
            if name is not None:
                self._write()
        if name is not None:
            log.info("recorded %s (status %d) in %s", name, exchange.status, self.path)
        return name

    def _store(self, match: dict[str, Any], reply: dict[str, Any], view: RequestView) -> str | None:
        """Add the entry, or one more step to the entry with this match; its name, None if it fails."""
        key = json.dumps(match, sort_keys=True)
        old = self._by_match.get(key)
        if old is None:
            entry: dict[str, Any] = {"name": f"{self.path.stem}-{len(self._entries) + 1}", "match": match, "reply": reply}
        else:
            steps = old["sequence"] if "sequence" in old else [old["reply"]]
            entry = {"name": old["name"], "match": match, "sequence": [*steps, reply]}
        problems = self._problems(entry, view)
        if problems:
            log.warning("not recorded: the entry would not replay:\n%s", "\n".join(problems))
            return None
        if old is None:
            self._entries.append(entry)
        else:
            self._entries[self._entries.index(old)] = entry
        self._by_match[key] = entry
        return str(entry["name"])

    def _problems(self, entry: Mapping[str, Any], view: RequestView) -> list[str]:
        """What `check` would say of the entry, and whether it fails to match its own request."""
        problems = Problems(str(self.path), entry)
        fixture = compile_entry(problems, (), entry, str(self.path))
        if fixture is not None and not fixture.match.holds(view):
            problems.report(("match",), "does not match the recorded request: " + "; ".join(fixture.match.misses(view)))
        return problems.items

    def _write(self) -> None:
        """Replace the file with every entry so far, atomically: a reader sees the old or the new."""
        text = self._header + yaml.dump(
            {"fixtures": self._entries}, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
        )
        # The temporary name ends in .tmp: a registry reloading the folder never reads it half-written.
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
