"""A fixture's `reply`: read and checked at load, compiled into a ScriptedReply.

Each key of a reply (or of one step of a `sequence`) is read here; templates, tool calls,
usage, latency, chunking and faults are resolved once, so answering a request only fills in
the request's values (`{{ last_user }}`, ...) and, with `generate: true`, what the generator
adds. Entries, their `match` and the files they come from are fixtures.py.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, get_args

from .errors import SERVER_ERROR, FixtureFault
from .generate import choice_seed, generate, tool_calls
from .located import (
    Invalid,
    KeyPath,
    Problems,
    boolean,
    fields,
    integer,
    kind,
    number,
    string,
    within,
)
from .matching import RequestView
from .types import Delivery, Draft, DraftToolCall, FinishReason, Latency, Script, StreamFault, Usage

REPLY_KEYS = (
    "content", "tool_calls", "refusal", "finish_reason", "usage", "generate", "latency", "chunking", "fault",
)
TOOL_CALL_KEYS = ("name", "arguments", "id")
LATENCY_KEYS = ("first_token_ms", "per_token_ms", "tokens_per_second", "jitter_ms")
CHUNKING_KEYS = ("tokens_per_chunk",)
FAULT_KEYS = ("status", "message", "type", "code", "headers", "fail_times", "kind", "after_chunks")
STREAM_FAULTS = ("error", "disconnect", "malformed")
USAGE_KEYS = tuple(f.name for f in dataclasses.fields(Usage))
FINISH_REASONS: tuple[FinishReason, ...] = get_args(FinishReason)
TEMPLATE_VARIABLES = ("last_user", "model", "system", "tool_result")  # and metadata.<key>

_PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")

# Default wording of scripted errors (protocol §8); other statuses need a `message`.
RATE_LIMITED = (
    "Rate limit reached for {model} in organization org-emulator on requests per min (RPM): Limit 60, Used 60, "
    "Requested 1. Please try again in {wait}. Visit https://platform.openai.com/account/rate-limits to learn more."
)
OVERLOADED = "The engine is currently overloaded, please try again later"
_DEFAULT_ERRORS: dict[int, tuple[str, str, str | None]] = {
    429: (RATE_LIMITED, "requests", "rate_limit_exceeded"),
    500: (SERVER_ERROR, "server_error", None),
    503: (OVERLOADED, "server_error", None),
}


@dataclass(frozen=True)
class Template:
    """Text with `{{ variable }}` placeholders, split once: literals at even places, names at odd."""

    parts: tuple[str, ...]

    def render(self, view: RequestView) -> str:
        """The text with the request's values put in."""
        if len(self.parts) == 1:
            return self.parts[0]
        return "".join(part if i % 2 == 0 else _variable(view, part) for i, part in enumerate(self.parts))


def _variable(view: RequestView, name: str) -> str:
    if name == "last_user":
        return view.last_user
    if name == "model":
        return view.model
    if name == "system":
        return "\n".join(view.system)
    if name == "tool_result":
        return view.tool_results[-1] if view.tool_results else ""
    return str(view.metadata.get(name.removeprefix("metadata."), ""))


def compile_template(raw: Any) -> Template:
    """A string with known placeholders only."""
    parts = tuple(_PLACEHOLDER.split(string(raw)))
    for name in parts[1::2]:
        if name not in TEMPLATE_VARIABLES and not re.fullmatch(r"metadata\.\S+", name):
            known = ", ".join((*TEMPLATE_VARIABLES, "metadata.<key>"))
            raise Invalid(f"unknown template variable {{{{ {name} }}}} (known: {known})")
    return Template(parts)


@dataclass(frozen=True)
class ScriptedCall:
    """A tool call a fixture makes; no arguments means generated (or `{}` without `generate`)."""

    name: str
    arguments: str | None
    id: str | None


@dataclass(frozen=True)
class Fault:
    """What goes wrong before the reply is given: an HTTP error, or a stream fault."""

    fail_times: int | None  # how many requests fail before the reply is given; None: all of them
    status: int | None = None
    message: str | None = None
    type: str | None = None
    code: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    stream: StreamFault | None = None

    def applies(self, view: RequestView) -> bool:
        """A stream fault needs a stream to break; an HTTP error fails any request."""
        return self.status is not None or view.stream

    def error(self, fixture: str, view: RequestView, request_id: str) -> FixtureFault:
        """The scripted error, in the catalogue's wording unless the fixture gives its own."""
        status = self.status or 500
        message, type_, code = _DEFAULT_ERRORS.get(status, ("", "", None))
        if self.message is None:
            wait = self.headers.get("retry-after", "1")
            message = message.format(model=view.model, request_id=request_id, wait=f"{wait}s")
        return FixtureFault(
            status,
            self.message or message,
            type=self.type or type_ or ("server_error" if status >= 500 else "invalid_request_error"),
            code=self.code or code,
            headers=self.headers,
            fixture=fixture,
        )


@dataclass(frozen=True)
class ScriptedReply:
    """One `reply` (or one step of a `sequence`), compiled."""

    contents: tuple[Template, ...] = ()
    refusal: Template | None = None
    tool_calls: tuple[ScriptedCall, ...] = ()
    finish_reason: FinishReason | None = None
    usage: Mapping[str, int] | None = None
    generate: bool = False
    delivery: Delivery = field(default_factory=Delivery)
    fault: Fault | None = None
    # The drafts of a reply that neither fills in the request's values nor generates, made once
    # and shared by its requests (nothing changes a Draft after it is made).
    _fixed: tuple[Draft, ...] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        literal = [*self.contents, *([self.refusal] if self.refusal else [])]
        if not self.generate and all(len(template.parts) == 1 for template in literal):
            object.__setattr__(self, "_fixed", self._drafts(RequestView({}), 0))

    def script(self, source: str, view: RequestView, seed: int, failing: bool) -> Script:
        """What to send, with the fault's stream break when this request is one that fails."""
        delivery = self.delivery
        if failing and self.fault is not None and self.fault.stream is not None:
            delivery = dataclasses.replace(delivery, fault=self.fault.stream)
        drafts = self._fixed if self._fixed is not None else self._drafts(view, seed)
        return Script(drafts, source, delivery, self.usage)  # positional (types.py)

    def _drafts(self, view: RequestView, seed: int) -> tuple[Draft, ...]:
        says_nothing = not (self.contents or self.refusal or self.tool_calls)
        if says_nothing and self.generate:
            generated = generate(dict(view.body), seed).drafts
            if self.finish_reason is None:
                return generated
            return tuple(dataclasses.replace(d, finish_reason=self.finish_reason) for d in generated)
        calls = (
            tuple(DraftToolCall(call.name, self._arguments(call, view, seed), call.id) for call in self.tool_calls)
            if self.tool_calls
            else ()  # most replies make no call: no generator to build
        )
        refusal = self.refusal.render(view) if self.refusal else None
        texts: list[str | None]
        if self.contents:
            texts = [template.render(view) for template in self.contents]
        elif calls or refusal is not None:
            texts = [None]  # a tool-call turn or a refusal carries no text
        else:
            texts = [""]  # a reply that gives nothing says it as empty text
        return tuple([
            Draft(content=text, refusal=refusal, tool_calls=calls, finish_reason=self.finish_reason) for text in texts
        ])  # a list comprehension: tuple() over a generator costs ~0.3 us more

    def _arguments(self, call: ScriptedCall, view: RequestView, seed: int) -> str:
        """The call's arguments; when it gives none, generated to fit the offered tool, or `{}`."""
        if call.arguments is not None:
            return call.arguments
        if self.generate:
            # The generator's own call of this function, as when tool_choice names it.
            named = {**view.body, "tool_choice": {"type": "function", "function": {"name": call.name}}}
            generated = tool_calls(named, choice_seed(seed, 0))
            if generated:
                return generated[0].arguments
        return "{}"


def compile_reply(problems: Problems, path: KeyPath, raw: Any) -> ScriptedReply:
    """One `reply` (or `sequence` step) compiled; its problems are recorded in `problems`."""
    known = problems.fields(path, raw, REPLY_KEYS) or {}
    return ScriptedReply(
        contents=tuple(problems.optional(path, known, "content", _contents) or ()),
        refusal=problems.optional(path, known, "refusal", compile_template),
        tool_calls=tuple(problems.optional(path, known, "tool_calls", _tool_calls) or ()),
        finish_reason=problems.optional(path, known, "finish_reason", _finish_reason),
        usage=problems.optional(path, known, "usage", _usage),
        generate=bool(problems.optional(path, known, "generate", boolean)),
        delivery=Delivery(
            latency=problems.optional(path, known, "latency", _latency) or Latency(),
            tokens_per_chunk=(problems.optional(path, known, "chunking", _chunking) or 1),
        ),
        fault=problems.optional(path, known, "fault", _fault),
    )


def _contents(raw: Any) -> list[Template]:
    """One text, or a list of texts (one per choice)."""
    if isinstance(raw, list):
        if not raw:
            raise Invalid("expected a text or a non-empty list of texts (one per choice), got an empty list")
        return [within(i, compile_template, text) for i, text in enumerate(raw)]
    return [compile_template(raw)]


def _tool_calls(raw: Any) -> list[ScriptedCall]:
    if not isinstance(raw, list) or not raw:
        raise Invalid(f"expected a non-empty list of {{name, arguments}}, got {kind(raw)}")
    return [within(i, _tool_call, call) for i, call in enumerate(raw)]


def _tool_call(raw: Any) -> ScriptedCall:
    known = fields(raw, TOOL_CALL_KEYS)
    if "name" not in known:
        raise Invalid("a tool call needs a `name`")
    arguments = known.get("arguments")
    if isinstance(arguments, dict):
        arguments = json.dumps(arguments, ensure_ascii=False, default=str)  # YAML dates become strings
    elif arguments is not None and not isinstance(arguments, str):
        raise Invalid(f"expected a mapping or a JSON string, got {kind(arguments)}", ("arguments",))
    ident = within("id", string, known["id"]) if "id" in known else None
    return ScriptedCall(within("name", string, known["name"]), arguments, ident)


def _finish_reason(raw: Any) -> FinishReason:
    for reason in FINISH_REASONS:
        if raw == reason:
            return reason
    raise Invalid(f"expected one of {', '.join(FINISH_REASONS)}, got {raw!r}")


def _usage(raw: Any) -> dict[str, int]:
    if isinstance(raw, dict) and "total_tokens" in raw:
        raise Invalid("total_tokens is always prompt_tokens + completion_tokens: set those instead", ("total_tokens",))
    known = fields(raw, USAGE_KEYS)
    return {key: within(key, lambda v: integer(v, 0), value) for key, value in known.items()}


def _latency(raw: Any) -> Latency:
    known = fields(raw, LATENCY_KEYS)
    millis = {key: within(key, number, value) for key, value in known.items()}
    if "tokens_per_second" in millis:
        if "per_token_ms" in millis:
            raise Invalid("give per_token_ms or tokens_per_second, not both", ("tokens_per_second",))
        if millis["tokens_per_second"] <= 0:
            raise Invalid("expected a number > 0", ("tokens_per_second",))
        millis["per_token_ms"] = 1000 / millis.pop("tokens_per_second")
    return Latency(**millis)


def _chunking(raw: Any) -> int:
    return int(within("tokens_per_chunk", lambda v: integer(v, 1), fields(raw, CHUNKING_KEYS).get("tokens_per_chunk", 1)))


def _fault(raw: Any) -> Fault:
    known = fields(raw, FAULT_KEYS)
    if ("status" in known) == ("kind" in known):
        raise Invalid("a fault is either an HTTP `status` or a stream `kind` (error, disconnect, malformed)")
    fail_times = within("fail_times", lambda v: integer(v, 1), known["fail_times"]) if "fail_times" in known else None
    message, type_, code = (within(key, string, known[key]) if key in known else None for key in ("message", "type", "code"))
    if "kind" in known:
        return Fault(fail_times, stream=_stream_fault(known, message, type_, code))
    status = within("status", lambda v: integer(v, 400), known["status"])
    if status > 599:
        raise Invalid(f"expected an error status (400-599), got {status}", ("status",))
    if status not in _DEFAULT_ERRORS and message is None:
        raise Invalid(f"status {status} has no default message: give `message`", ("status",))
    if "after_chunks" in known:
        raise Invalid("`after_chunks` belongs to a stream fault (`kind`), not to a `status`", ("after_chunks",))
    headers = within("headers", _headers, known.get("headers", {}))
    return Fault(fail_times, status=status, message=message, type=type_, code=code, headers=headers)


def _stream_fault(known: Mapping[str, Any], message: str | None, type_: str | None, code: str | None) -> StreamFault:
    fault_kind = known["kind"]
    if fault_kind not in STREAM_FAULTS:
        raise Invalid(f"expected one of {', '.join(STREAM_FAULTS)}, got {fault_kind!r}", ("kind",))
    for key in ("headers", *(("message", "type", "code") if fault_kind != "error" else ())):
        if key in known:
            raise Invalid(f"`{key}` does not apply to a {fault_kind} fault", (key,))
    fault = StreamFault(kind=fault_kind, after_chunks=within("after_chunks", lambda v: integer(v, 0), known.get("after_chunks", 0)))
    return dataclasses.replace(
        fault, message=message or fault.message, type=type_ or fault.type, code=code if code is not None else fault.code
    )


# What HTTP lets a header be (an RFC 9110 token; a value without control characters or line
# breaks, in Latin-1): anything else would break the response that carries it.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


def _headers(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise Invalid(f"expected a mapping of header names to values, got {kind(raw)}")
    headers = {}
    for name, value in raw.items():
        if not _HEADER_NAME.fullmatch(str(name)):
            raise Invalid(f"{str(name)!r} is not a header name: letters, digits and !#$%&'*+-.^_`|~ only", (name,))
        if isinstance(value, bool):
            value = str(value).lower()  # YAML's `x-should-retry: false` means the header "false"
        elif isinstance(value, int | float):
            value = str(value)
        text = within(name, string, value)
        if not _HEADER_VALUE.fullmatch(text):
            raise Invalid("a header value cannot hold a line break or another control character", (name,))
        headers[str(name).lower()] = text
    return headers
