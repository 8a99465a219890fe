"""Script -> Reply: the request's limits (n, stop, max tokens, logprobs) applied once.

Whatever produced the Script, a fixture or the generator, this is where the text is cut
into token pieces, stopped, truncated, scored and counted. Both renderers read the result.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from . import tokens
from .ids import random_id
from .journal import ReadLater
from .models import snapshot, system_fingerprint
from .types import (
    Choice,
    Draft,
    FinishReason,
    Reply,
    Request,
    Script,
    TokenLogprob,
    ToolCall,
    TopLogprob,
    Usage,
)


def token_limit(request: Request) -> int | None:
    """The completion token limit the request sets, if any."""
    limit = request.get("max_completion_tokens")
    return request.get("max_tokens") if limit is None else limit


def build_reply(request: Request, script: Script, seed: int) -> Reply:
    """The one Reply both renderers draw from."""
    model = request["model"]
    n = request.get("n") or 1
    drafts = script.drafts
    choices: list[Choice] = []
    completion_tokens = 0
    for index in range(n):
        choice, used = _choice(request, drafts[index % len(drafts)], index, seed)
        choices.append(choice)
        completion_tokens += used
    usage = Usage(tokens.prompt_tokens(request["messages"], model, request.get("tools")), completion_tokens)
    if script.usage:
        usage = replace(usage, **{k: v for k, v in script.usage.items() if k != "total_tokens"})
    return Reply(  # positional (types.py), each field named after it
        random_id("chatcmpl-", 29),  # id
        int(time.time()),  # created
        snapshot(model),  # model
        system_fingerprint(model),  # system_fingerprint
        _service_tier(request.get("service_tier")),  # service_tier
        tuple(choices),  # choices
        usage,  # usage
        script.source,  # source
        script.delivery,  # delivery
    )


def _service_tier(requested: str | None) -> str:
    """The tier a response reports: the one asked for, `fast` as `priority`, else `default`."""
    if requested in ("flex", "scale", "priority"):
        return requested
    return "priority" if requested == "fast" else "default"


def _choice(request: Request, draft: Draft, index: int, seed: int) -> tuple[Choice, int]:
    """One choice with the request's limits applied, and the completion tokens it used."""
    model = request["model"]
    budget = token_limit(request)
    keep = not draft.generated  # a generated text does not come again: keeping it only evicts others
    finish: FinishReason | None = draft.finish_reason
    used = 0

    def take(text: str | None, stops: Sequence[str] = ()) -> tuple[str, ...] | None:
        nonlocal budget, finish, used
        if text is None:
            return None
        cut = _cut_at_stop(text, stops)
        if cut is not None:
            text, finish = text[:cut], "stop"
        if budget is None:
            # No limit, the usual case: every piece is kept, without the bookkeeping below.
            kept_pieces, total = tokens.pieces_and_total(text, model, keep=keep)
            used += total
            return kept_pieces
        cut_pieces = tokens.pieces_with_counts(text, model, keep=keep)
        kept: list[str] = []
        for piece, count in cut_pieces:
            if count > budget:
                used += budget
                budget, finish = 0, "length"
                break
            kept.append(piece)
            used += count
            budget -= count
        return tuple(kept)

    content = take(draft.content, _stops(request))
    refusal = take(draft.refusal)
    calls = []
    for call in draft.tool_calls:
        if budget == 0:  # the limit ran out before this call began
            finish = "length"
            break
        pieces = take(call.arguments) or ()
        calls.append(ToolCall(call.id or random_id("call_", 24), call.name, pieces))
    if finish is None:
        finish = _natural_finish(request, bool(calls))
    logprobs = None
    if request.get("logprobs"):
        scored = content if content is not None else refusal
        logprobs = _logprobs(scored or (), request.get("top_logprobs") or 0, model, seed, index)
    # positional (types.py): index, content_pieces, refusal_pieces, tool_calls, finish_reason, logprobs
    return Choice(index, content, refusal, tuple(calls), finish, logprobs), used


def _stops(request: Request) -> tuple[str, ...]:
    stop = request.get("stop")
    if not stop:
        return ()
    return (stop,) if isinstance(stop, str) else tuple(s for s in stop if s)


def _cut_at_stop(text: str, stops: Sequence[str]) -> int | None:
    """Where the first stop sequence starts in `text`, or None."""
    if not stops:
        return None
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(found) if found else None


def _natural_finish(request: Request, called: bool) -> FinishReason:
    """`tool_calls` after a call, except `stop` when tool_choice named the function (real API)."""
    if called and not isinstance(request.get("tool_choice"), Mapping):
        return "tool_calls"
    return "stop"


def _logprobs(
    pieces: Sequence[str], top: int, model: str, seed: int, index: int
) -> tuple[TokenLogprob, ...]:
    """Plausible log probabilities: the chosen piece first, `top` distinct alternatives after it."""
    rng = random.Random(f"logprobs:{seed}:{index}")
    vocabulary = tokens.sample_vocabulary(model)
    entries = []
    for piece in pieces:
        chosen = -round(rng.expovariate(8.0), 8)
        alternatives: list[TopLogprob] = []
        if top:
            alternatives.append(TopLogprob(piece, chosen, list(piece.encode())))
            floor = chosen
            seen = {piece}
            while len(alternatives) < top:
                token = rng.choice(vocabulary)
                if token in seen:
                    continue
                seen.add(token)
                floor = round(floor - rng.expovariate(1.5) - 1e-6, 8)
                alternatives.append(TopLogprob(token, floor, list(token.encode())))
        entries.append(TokenLogprob(piece, chosen, list(piece.encode()), tuple(alternatives)))
    return tuple(entries)


def summary(reply: Reply) -> Mapping[str, Any]:
    """A short account of a reply for logs and the journal, worked out when first read."""
    return _Summary(reply)


class _Summary(ReadLater[Reply, Any]):
    """What summary() says of a reply, worked out from it when first read."""

    __slots__ = ()

    def _work_out(self, given: Reply) -> dict[str, Any]:
        return {
            "source": given.source,
            "finish_reasons": [c.finish_reason for c in given.choices],
            "content": [c.content for c in given.choices],
            "tool_calls": [[t.name for t in c.tool_calls] for c in given.choices],
            "usage": {
                "prompt_tokens": given.usage.prompt_tokens,
                "completion_tokens": given.usage.completion_tokens,
            },
        }
