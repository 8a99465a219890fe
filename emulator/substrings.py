"""Which needles could a text contain, found without trying every needle.

Each needle of at least GRAM characters is filed under one of its GRAM-character substrings
(its grams): the one whose bucket holds the fewest needles so far, so needles that share a
prefix ("Question 1?", "Question 2?", ...) still spread out. A text that contains a needle
contains each of its grams, so the needles a text could contain are those filed under the
text's own grams: a superset, which the caller checks with the full predicate. When the
texts have more characters than the index has items, every item comes back instead: looking
up the grams would cost more than trying them all.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Callable, Hashable
from itertools import chain
from typing import Generic, TypeVar

GRAM = 4  # shorter needles are not indexed: the caller tries them all
# A text's grams cost about what trying an item does (~0.2-0.3 us a character, a `contains`
# fixture; measured in-process): with more characters than items, trying them all is cheaper.
CHARACTERS_PER_ITEM = 1

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
        if sum(map(len, texts)) > CHARACTERS_PER_ITEM * len(self._all):
            return self._all
        found = {gram for text in texts for gram in grams(text)}
        hits = [self._buckets[gram] for gram in self._buckets.keys() & found]
        if len(hits) == 1:
            return hits[0]
        # Buckets are small (each needle goes to the least used of its grams): sorting them
        # together beats heapq.merge, which is a Python generator.
        return sorted(chain.from_iterable(hits), key=self._rank)
