"""Tokenizer data ships with the install and matches tiktoken's published files."""

from __future__ import annotations

import hashlib

import pytest
from tiktoken_ext import openai_public  # type: ignore[import-untyped]  # tiktoken_ext ships no types

from emulator import tokens
from emulator.generate import generate
from emulator.models import encoding_for
from emulator.reply import build_reply
from emulator.types import Draft, Script


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_bundled_ranks_are_tiktokens_published_files(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    hashes = []

    def loader(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        hashes.append(expected_hash)
        return tokens._load_bundled_ranks(url, expected_hash)

    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", loader)
    getattr(openai_public, name)()
    assert hashes and hashes[0] is not None  # the hash tiktoken publishes was checked


def test_a_corrupt_ranks_file_is_refused() -> None:
    with pytest.raises(RuntimeError, match="does not match"):
        tokens._load_bundled_ranks("https://x/cl100k_base.tiktoken", hashlib.sha256(b"other").hexdigest())


@pytest.mark.parametrize(
    ("model", "name"),
    [("gpt-4o", "o200k_base"), ("gpt-4o-mini-2024-07-18", "o200k_base"), ("gpt-4.1-nano", "o200k_base"),
     ("o1", "o200k_base"), ("o4-mini", "o200k_base"), ("gpt-5-nano", "o200k_base"),
     ("gpt-4", "cl100k_base"), ("gpt-4-turbo", "cl100k_base"), ("gpt-3.5-turbo", "cl100k_base"),
     ("ft:gpt-3.5-turbo-0125:org::abc", "cl100k_base")],
)
def test_each_model_family_counts_with_its_encoding(model: str, name: str) -> None:
    assert encoding_for(model) == name


def test_pieces_join_back_to_the_text_and_stay_whole_characters() -> None:
    text = "Hello, 世界! 🎉 naïve café"
    pieces = tokens.pieces(text, "gpt-4o")
    assert "".join(pieces) == text
    assert all("\ufffd" not in piece for piece in pieces)


def test_piece_counts_add_up_to_the_token_count() -> None:
    text = "Emoji 🎉🎉 and 漢字 split over tokens"
    assert sum(n for _, n in tokens.pieces_with_counts(text, "gpt-4")) == tokens.count(text, "gpt-4")


def test_generated_replies_leave_the_kept_pieces_to_texts_that_come_again() -> None:
    request = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Tell me something new."}]}
    kept = tokens._pieces_and_total.kept
    kept.cache_clear()
    for seed in range(20):
        build_reply(request, generate(request, seed), seed)
    assert kept.cache_info().currsize == 0
    fixture = Script(drafts=(Draft(content="The same answer, every time."),), source="fixture:same")
    build_reply(request, fixture, 0)
    build_reply(request, fixture, 1)
    assert (kept.cache_info().currsize, kept.cache_info().hits) == (1, 1)
