"""The neutral shapes a request passes through: Draft (what to say) and Reply (what was said).

A fixture or the generator produces Drafts; reply.py applies the request's limits (n, stop,
max tokens, logprobs) once and builds the Reply; render.py turns that one Reply into a
chat.completion body or an SSE stream.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "function_call"]
Request = dict[str, Any]  # a validated request body


@dataclass(slots=True)
class DraftToolCall:
    """A tool call as a fixture or the generator states it, arguments as a JSON string."""

    name: str
    arguments: str
    id: str | None = None


@dataclass(slots=True)
class Draft:
    """What one choice says, before the request's limits cut it."""

    content: str | None = None
    refusal: str | None = None
    tool_calls: tuple[DraftToolCall, ...] = ()
    finish_reason: FinishReason | None = None  # None: derived from what is said
    generated: bool = False  # made for this request alone: its token pieces are not kept for another


@dataclass(frozen=True)
class Latency:
    """When tokens go out on a stream."""

    first_token_ms: float = 0.0
    per_token_ms: float = 0.0
    jitter_ms: float = 0.0


@dataclass(frozen=True)
class StreamFault:
    """Something that goes wrong after a stream has started."""

    kind: Literal["error", "disconnect", "malformed"]
    after_chunks: int
    message: str = "The server had an error while processing your request. Sorry about that!"
    type: str = "server_error"
    code: str | None = None


@dataclass(frozen=True)
class Delivery:
    """How a reply travels: extra headers, pacing, chunk size, a mid-stream fault."""

    headers: Mapping[str, str] = field(default_factory=dict)
    latency: Latency = Latency()
    tokens_per_chunk: int = 1
    fault: StreamFault | None = None


@dataclass(slots=True)
class Script:
    """What a fixture or the generator answers to one request."""

    drafts: tuple[Draft, ...]  # one per choice, or one to serve every choice
    source: str  # "generated" or "fixture:<name>", for logs and the journal
    delivery: Delivery = Delivery()
    usage: Mapping[str, Any] | None = None  # a fixture's override of computed usage fields


# What reply.py builds, once per request, and only reads after: slotted dataclasses rather than
# frozen ones, whose __init__ sets every field through object.__setattr__ (a Usage: 1.5 us
# against 0.5 us; a Reply and its Choice: 3.2 us against 1.2 us). The same holds for the Draft,
# its calls and the Script above, made afresh for each request by a fixture or the generator.
# The request path also builds them with positional arguments: CPython 3.11 hands the keywords of
# a call to a class on to __init__ as a dict built for the call (a Choice: 0.55 us with keywords
# against 0.2 us).


@dataclass(slots=True)
class TopLogprob:
    token: str
    logprob: float
    bytes: list[int] | None


@dataclass(slots=True)
class TokenLogprob:
    token: str
    logprob: float
    bytes: list[int] | None
    top_logprobs: tuple[TopLogprob, ...]


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    argument_pieces: tuple[str, ...]  # token pieces; streamed one chunk per piece group

    @property
    def arguments(self) -> str:
        return "".join(self.argument_pieces)


@dataclass(slots=True)
class Choice:
    index: int
    content_pieces: tuple[str, ...] | None  # None: content is null
    refusal_pieces: tuple[str, ...] | None  # None: refusal is null
    tool_calls: tuple[ToolCall, ...]
    finish_reason: FinishReason
    logprobs: tuple[TokenLogprob, ...] | None  # None unless the request asked for logprobs

    @property
    def content(self) -> str | None:
        return None if self.content_pieces is None else "".join(self.content_pieces)

    @property
    def refusal(self) -> str | None:
        return None if self.refusal_pieces is None else "".join(self.refusal_pieces)


@dataclass(slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    prompt_audio_tokens: int = 0
    reasoning_tokens: int = 0
    completion_audio_tokens: int = 0
    accepted_prediction_tokens: int = 0
    rejected_prediction_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(slots=True)
class Reply:
    """One completion, whatever renders it."""

    id: str
    created: int
    model: str
    system_fingerprint: str | None
    service_tier: str
    choices: tuple[Choice, ...]
    usage: Usage
    source: str
    delivery: Delivery = Delivery()
