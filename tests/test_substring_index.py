"""The `contains` index: it narrows the fixtures a request tries, never which one answers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import openai
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator import substrings
from emulator.app import Emulator
from emulator.matching import RequestView
from emulator.registry import Registry
from emulator.substrings import GRAM, SubstringIndex

TEXT_KEYS = ["last_user", "last_user", "model", "system", "any_message", "tool_result"]


def predicate(kind: str, text: str) -> Any:
    return text if kind == "exact" else {"regex": text} if kind == "regex" else {"contains": text}


@st.composite
def words(draw: st.DrawFn) -> st.SearchStrategy[str]:
    """Texts joined from a few short words of two letters and a space, so needles and texts often overlap."""
    pool = draw(st.lists(st.text("ab ", min_size=1, max_size=5), min_size=1, max_size=6))
    return st.lists(st.sampled_from(pool), max_size=4).map("".join)


@st.composite
def matches(draw: st.DrawFn, text: st.SearchStrategy[str]) -> dict[str, Any]:
    """A `match` on one or two text parts, each exact, by `contains` (most often) or by regex."""
    match = {}
    for key in draw(st.lists(st.sampled_from(TEXT_KEYS), min_size=1, max_size=2)):
        kind = draw(st.sampled_from(["exact", "contains", "contains", "contains", "regex"]))
        match[key] = predicate(kind, draw(text))
    return match


@st.composite
def requests(draw: st.DrawFn, text: st.SearchStrategy[str]) -> dict[str, Any]:
    """A request with a system prompt or two, a user text and maybe a tool result."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": t} for t in draw(st.lists(text, max_size=2))]
    messages += [{"role": "user", "content": draw(text)}]
    if draw(st.booleans()):
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": draw(text)},
        ]
    return {"model": draw(text), "messages": messages}


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Fixture entries (some with `times`, priorities -1 to 1) and the requests sent to them."""
    text = draw(words())
    entries = []
    for i in range(draw(st.integers(0, 30))):
        entry = {"name": f"f{i}", "match": draw(matches(text)), "reply": {"content": "x"},
                 "priority": draw(st.integers(-1, 1))}
        entries.append(entry if draw(st.booleans()) else {**entry, "times": draw(st.integers(1, 2))})
    return entries, draw(st.lists(requests(text), min_size=1, max_size=4))


@contextmanager
def characters_per_item(threshold: int) -> Iterator[None]:
    """The index looks up a text's grams up to `threshold` characters per item it holds, else tries them all."""
    shipped, substrings.CHARACTERS_PER_ITEM = substrings.CHARACTERS_PER_ITEM, threshold
    try:
        yield
    finally:
        substrings.CHARACTERS_PER_ITEM = shipped


def scanned(registry: Registry, view: RequestView) -> str | None:
    """What the registry must select: the first fixture in rank order that holds and is not used up."""
    for fixture in registry.fixtures():
        used_up = fixture.times is not None and registry.call_count(fixture) >= fixture.times
        if fixture.match.holds(view) and not used_up:
            return fixture.name
    return None


@settings(max_examples=200, deadline=None)
@given(cases(), st.sampled_from([0, substrings.CHARACTERS_PER_ITEM, 1_000]))  # always scan, as shipped, always look up
def test_the_index_selects_what_a_scan_of_every_fixture_selects(
    case: tuple[list[dict[str, Any]], list[dict[str, Any]]], threshold: int
) -> None:
    entries, bodies = case
    registry = Registry()
    for entry in entries:
        registry.add(entry)
    with characters_per_item(threshold):
        for body in bodies * 2:  # asked twice, so `times` runs out
            view = RequestView(body)
            expected = scanned(registry, view)
            selected = registry.select(view)
            assert (selected.fixture.name if selected else None) == expected


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_every_needle_the_texts_hold_comes_back_in_rank_order(data: st.DataObject) -> None:
    text = data.draw(words())
    needles = data.draw(st.lists(text.filter(lambda t: len(t) >= GRAM), max_size=30))
    ranks = data.draw(st.lists(st.integers(-2, 2), min_size=len(needles), max_size=len(needles)))
    haystack = tuple(data.draw(st.lists(text, min_size=1, max_size=3)))
    index: SubstringIndex[int] = SubstringIndex(lambda i: (ranks[i], i))
    for i, needle in enumerate(needles):
        index.add(i, needle)
    with characters_per_item(1_000):  # always look up
        found = index.candidates(haystack)
    assert found == sorted(found, key=lambda i: (ranks[i], i))
    assert {i for i, needle in enumerate(needles) if any(needle in t for t in haystack)} <= set(found)


def test_needles_that_share_a_prefix_are_filed_apart() -> None:
    index: SubstringIndex[int] = SubstringIndex(lambda i: (0, i))
    for i in range(10_000):
        index.add(i, f"Question {i}?")
    assert 4321 in index.candidates(("Tell me: Question 4321? Now.",))
    assert len(index.candidates(("Tell me: Question 4321? Now.",))) < 20


def test_a_long_text_among_few_needles_gets_every_needle_in_rank_order() -> None:
    index: SubstringIndex[int] = SubstringIndex(lambda i: (-i, i))  # the last added ranks first
    for i in range(3):
        index.add(i, f"needle {i}")
    assert index.candidates(("no needle here, but a long text",)) == [2, 1, 0]


def test_a_contains_fixture_among_a_thousand_answers(client: openai.OpenAI, emulator: Emulator) -> None:
    for i in range(1_000):
        emulator.add_fixture({"match": {"last_user": {"contains": f"Question {i}?"}}, "reply": {"content": f"Answer {i}."}})
    completion = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Please: Question 123? Thanks."}]
    )
    assert completion.choices[0].message.content == "Answer 123."
