"""Which needles could a text contain, found without trying every needle.

Each needle of at least GRAM characters is filed under one of its GRAM-character substrings
(its grams): the one whose bucket holds the fewest needles so far, so needles that share a
prefix ("Question 1?", "Question 2?", ...) still spread out. A text that contains a needle
contains each of its grams, so the needles a text could contain are those filed under the
text's own grams: a superset, which the caller checks with the full predicate. When looking
up the texts' grams would cost more than trying every item, every item comes back instead:
for short texts among few items. Trying an item searches the texts for its needle, so its
cost grows with their length too: a long text among many items is always looked up.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Callable, Hashable
from itertools import chain
from typing import Generic, TypeVar

GRAM = 4  # shorter needles are not indexed: the caller tries them all
# A text's grams cost about what trying an item does (~0.2-0.3 us a character, a `contains`
# fixture; measured in-process): with more characters than items, trying them all is cheaper...
CHARACTERS_PER_ITEM = 1
# ...but trying an item also searches the texts for its needle, which costs as much again every
# SEARCH_CHARACTERS characters (~0.5 ns a character; 10,000 fixtures and an 11,000-character
# prompt: 81 ms tried one by one, 1.3 ms looked up).
SEARCH_CHARACTERS = 250

Item = TypeVar("Item", bound=Hashable)


def grams(text: str) -> list[str]:
    """Every GRAM-character substring of `text`, in order (none when it is shorter)."""
    return [text[i : i + GRAM] for i in range(len(text) - GRAM + 1)]


class SubstringIndex(Generic[Item]):
    """Items filed by a needle each; every list it returns is sorted by `rank`."""

    def __init__(self, rank: Callable[[Item], tuple[int, int]]) -> None:
        self._rank = rank
        self._buckets: dict[str, list[Item]] = {}
        self._all: list[Item] = []

    def add(self, item: Item, needle: str) -> None:
        """File `item` under the least used gram of `needle` (at least GRAM characters long)."""
        gram = min(grams(needle), key=lambda g: len(self._buckets.get(g, ())))
        insort(self._buckets.setdefault(gram, []), item, key=self._rank)
        insort(self._all, item, key=self._rank)

    def candidates(self, texts: tuple[str, ...]) -> list[Item]:
        """Every item whose needle one of `texts` contains (and maybe others), sorted by rank."""
        size = sum(map(len, texts))
        # size > CHARACTERS_PER_ITEM * items * (1 + size / SEARCH_CHARACTERS), in integers
        if size * SEARCH_CHARACTERS > CHARACTERS_PER_ITEM * len(self._all) * (SEARCH_CHARACTERS + size):
            return self._all
        # Only the grams some needle is filed under are kept: a long text's every gram would not
        # be (a megabyte prompt: ~110 MB), and the look-up is no slower.
        buckets = self._buckets
        found = {
            gram for text in texts for i in range(len(text) - GRAM + 1) if (gram := text[i : i + GRAM]) in buckets
        }
        hits = [buckets[gram] for gram in found]
        if len(hits) == 1:
            return hits[0]
        # Buckets are small (each needle goes to the least used of its grams): sorting them
        # together beats heapq.merge, which is a Python generator.
        return sorted(chain.from_iterable(hits), key=self._rank)
