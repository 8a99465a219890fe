"""What the `contains` index hands back decides how many fixtures a request tries."""

from __future__ import annotations

import random
import string
import tracemalloc
from pathlib import Path

import httpx
import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator import registry, substrings
from emulator.matching import RequestView
from emulator.registry import Registry
from emulator.substrings import GRAM, SubstringIndex


def test_a_long_prompt_among_many_needles_is_looked_up_not_tried_against_every_needle() -> None:
    # Trying a needle means searching the whole text for it, so trying them all costs more the
    # longer the text: a prompt longer than there are needles must not bring every one back.
    index: SubstringIndex[int] = SubstringIndex(lambda i: (0, i))
    for i in range(2_000):
        index.add(i, f"Question {i}?")
    prompt = "Some context for the model. " * 120 + "Question 1234?"  # 3,374 characters
    found = index.candidates((prompt,))
    assert 1234 in found
    assert len(found) < 20


UNICODE = "aé\u0301e😀ß\u0130iİ "  # combining accent, a character outside the BMP, case pairs that fold oddly


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(UNICODE, min_size=GRAM, max_size=8), max_size=20),
    st.lists(st.text(UNICODE, max_size=40), min_size=1, max_size=3),
)
def test_over_any_unicode_every_needle_a_text_holds_comes_back(needles: list[str], texts: list[str]) -> None:
    index: SubstringIndex[int] = SubstringIndex(lambda i: (0, i))
    for i, needle in enumerate(needles):
        index.add(i, needle)
    shipped, substrings.CHARACTERS_PER_ITEM = substrings.CHARACTERS_PER_ITEM, 1_000  # always look up
    try:
        found = index.candidates(tuple(texts))
    finally:
        substrings.CHARACTERS_PER_ITEM = shipped
    assert {i for i, needle in enumerate(needles) if any(needle in text for text in texts)} <= set(found)


def test_a_contains_fixture_removed_at_run_time_stops_answering_and_one_added_after_answers(
    client: openai.OpenAI, http: httpx.Client
) -> None:
    def ask() -> str | None:
        completion = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "What is the weather in Paris?"}]
        )
        return completion.choices[0].message.content

    http.post("/_emulator/fixtures", json={"match": {"last_user": {"contains": "weather"}}, "reply": {"content": "Sunny."}})
    assert ask() == "Sunny."
    http.delete("/_emulator/fixtures")
    assert ask() != "Sunny."
    http.post("/_emulator/fixtures", json={"match": {"last_user": {"contains": "Paris"}}, "reply": {"content": "Rainy."}})
    assert ask() == "Rainy."


def test_a_fixture_file_changed_on_disk_is_indexed_afresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "RELOAD_INTERVAL", 0)  # look at the file on every request
    path = tmp_path / "fixtures.yaml"
    path.write_text("fixtures:\n  - name: weather\n    match: {last_user: {contains: weather}}\n    reply: {content: x}\n")
    fixtures = Registry([path])
    view = RequestView({"model": "gpt-4o", "messages": [{"role": "user", "content": "Paris weather, please"}]})
    assert (selected := fixtures.select(view)) is not None and selected.fixture.name == "weather"
    path.write_text("fixtures:\n  - name: paris\n    match: {last_user: {contains: Paris}}\n    reply: {content: longer}\n")
    view = RequestView(view.body)
    assert (selected := fixtures.select(view)) is not None and selected.fixture.name == "paris"


def test_a_megabyte_prompt_is_looked_up_without_holding_each_of_its_grams() -> None:
    # A million four-character strings would take ~100 MB for one request; only grams that
    # some needle is filed under need keeping.
    index: SubstringIndex[int] = SubstringIndex(lambda i: (0, i))
    for i in range(1_000):
        index.add(i, f"Question {i}?")
    prompt = "".join(random.Random(0).choices(string.ascii_letters + string.digits, k=1_000_000)) + "Question 7?"
    tracemalloc.start()
    try:
        found = index.candidates((prompt,))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 7 in found
    assert peak < 10_000_000
