"""The pure-Python encoder over the cached rank table counts exactly as tiktoken's, which replaces it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tiktoken_ext import openai_public  # type: ignore[import-untyped]  # tiktoken_ext ships no types

from emulator import tokens
from emulator.models import Encoding

ENCODINGS: tuple[Encoding, ...] = ("o200k_base", "cl100k_base")

# Letters of several scripts and cases, digits, marks, apostrophes, slashes, every kind of space and
# line break, emoji: the classes the pre-tokenizers tell apart.
_ALPHABET = st.sampled_from(
    list("aAzZsStTlLvVrReEdDmM'’/\\.,!?-_(){}\"0123456789 \t\n\r\x0b\x0c\u00a0\u2003\u3000")
    + list("éÉßİıſǅʰ\u0301\u0308ﬁ世界漢字ひらカナ한국어Привет你好مرحباשלוםสวัสดี١٢३")
    + ["🎉", "👍🏽", "🇫🇷", "\U0001f9d1\u200d\U0001f4bb"]
)
# Any text of characters Python's Unicode database knows: the pure pre-tokenizer classifies
# characters by it (14.0 in 3.11), tiktoken by its own newer tables, so a letter added since
# (U+13460, of Unicode 16) is a letter to one and not the other.
_UNASSIGNED: tuple[Literal["Cn"]] = ("Cn",)
_KNOWN_CHARACTERS = st.characters(exclude_categories=_UNASSIGNED)
_TEXTS = st.one_of(st.lists(_ALPHABET, max_size=60).map("".join), st.text(_KNOWN_CHARACTERS, max_size=60))


@cache
def _pure(name: Encoding) -> tokens._Encoder:
    """A pure encoder over a table made in memory from the fast encoder's ranks."""
    table = tokens._RankTable(tokens._table_bytes(name, tokens._build_fast(name).by_rank))
    return tokens._Encoder(tokens._PureEncoder(name, table).encode, table.token)


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty cache directory, with the module's memory of tables forgotten before and after."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    forget = (tokens._table.cache_clear, tokens._pure.cache_clear, tokens._write_table.cache_clear)
    for clear in forget:
        clear()
    yield tmp_path / "chat-emulator"
    for clear in forget:
        clear()


@pytest.mark.parametrize("name", ENCODINGS)
@settings(max_examples=300, deadline=None)
@given(text=_TEXTS)
def test_the_pure_encoder_gives_tiktokens_tokens(name: Encoding, text: str) -> None:
    assert _pure(name).encode(text) == tokens._build_fast(name).encoder.encode(text)


@pytest.mark.parametrize("name", ENCODINGS)
def test_lone_surrogates_are_replaced_as_tiktoken_replaces_them(name: Encoding) -> None:
    text = "half \ud83c of a pair, \udf89 the other"
    assert _pure(name).encode(text) == tokens._build_fast(name).encoder.encode(text)


@pytest.mark.parametrize("name", ENCODINGS)
def test_the_table_gives_every_tokens_bytes_by_rank(name: Encoding) -> None:
    by_rank = tokens._build_fast(name).by_rank
    table = tokens._RankTable(tokens._table_bytes(name, by_rank))
    assert [table.token(rank) for rank in range(len(by_rank))] == list(by_rank)
    assert all(table[token] == rank for rank, token in enumerate(by_rank))


@pytest.mark.parametrize("name", ENCODINGS)
def test_the_published_hashes_are_tiktokens(name: Encoding, monkeypatch: pytest.MonkeyPatch) -> None:
    published = []

    def loader(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        published.append(expected_hash)
        return {b"x": 0}

    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", loader)
    getattr(openai_public, name)()
    assert published == [tokens.PUBLISHED_SHA256[name]]


def test_the_first_count_writes_the_table_it_then_reads(cache_home: Path) -> None:
    assert tokens._table("o200k_base") is None
    tokens._write_table("o200k_base")
    assert (cache_home / "o200k_base-446a9538cb6c348e.ranks").exists()
    assert tokens._table("o200k_base") is not None


@pytest.mark.parametrize("damage", ["truncated", "shorter-than-its-header", "flipped", "foreign"])
def test_a_damaged_table_is_not_used(cache_home: Path, damage: str) -> None:
    tokens._write_table("o200k_base")
    path = cache_home / "o200k_base-446a9538cb6c348e.ranks"
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        del data[-100:]
    elif damage == "shorter-than-its-header":
        del data[10:]
    elif damage == "flipped":
        data[-100] ^= 1
    else:
        data[:8] = b"not ours"
    path.write_bytes(bytes(data))
    tokens._table.cache_clear()
    assert tokens._table("o200k_base") is None


def test_an_unwritable_cache_directory_means_no_table(cache_home: Path) -> None:
    cache_home.parent.mkdir(parents=True, exist_ok=True)
    cache_home.write_text("a file where the directory would be")
    tokens._write_table("o200k_base")
    assert tokens._table("o200k_base") is None


def test_in_a_server_the_table_answers_until_the_loops_next_turn_builds_tiktoken(
    cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens._write_table("o200k_base")
    monkeypatch.setattr(tokens, "_fast", {})  # a fresh process: no fast encoder yet

    async def first_count() -> tuple[list[int], bool, bool]:
        counted = tokens._encoder("o200k_base").encode("Boston weather today?")
        built_at_once = "o200k_base" in tokens._fast
        await asyncio.sleep(0)  # the loop's next turn
        return counted, built_at_once, "o200k_base" in tokens._fast

    assert asyncio.run(first_count()) == ([114228, 11122, 4044, 30], False, True)


def test_in_a_server_without_a_table_the_parsed_ranks_answer_and_the_table_is_written_later(
    cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens, "_fast", {})

    async def first_count() -> tuple[list[int], bool, bool]:
        counted = tokens._encoder("o200k_base").encode("Boston weather today?")
        at_once = "o200k_base" in tokens._fast or tokens._table("o200k_base") is not None
        await asyncio.sleep(0)
        return counted, at_once, "o200k_base" in tokens._fast and tokens._table("o200k_base") is not None

    assert asyncio.run(first_count()) == ([114228, 11122, 4044, 30], False, True)


@pytest.mark.parametrize("name", ENCODINGS)
@settings(max_examples=100, deadline=None)
@given(text=_TEXTS)
def test_the_pure_encoder_over_the_parsed_ranks_gives_tiktokens_tokens(name: Encoding, text: str) -> None:
    pure = tokens._PureEncoder(name, tokens._parsed(name).spec["mergeable_ranks"])
    assert pure.encode(text) == tokens._build_fast(name).encoder.encode(text)
