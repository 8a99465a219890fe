"""Strings that match a regular expression, for JSON Schema `pattern`.

The pattern is parsed with CPython's own regex parser and walked with the caller's rng; each
candidate is checked with `re.search` (JSON Schema patterns are unanchored), so constructs
the walk only approximates (lookarounds, word boundaries) cost a retry, not a wrong value.
"""

from __future__ import annotations

import functools
import math
import random
import re
import string
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # typeshed types CPython's regex parser under its old names, which warn on import
    import sre_constants as sre
    import sre_parse
else:
    from re import _constants as sre
    from re import _parser as sre_parse

_ATTEMPTS = 40
_FREE_REPEAT = 3  # an unbounded * + {n,} repeats at most this many times beyond its minimum
_ALNUM = string.ascii_letters + string.digits
_PUNCTUATION = " _-.,:;!?@#$%&*+/=()[]{}<>'\"~^|\\`"
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
_START_ANCHORS = ((sre.AT, sre.AT_BEGINNING), (sre.AT, sre.AT_BEGINNING_STRING))
_END_ANCHORS = ((sre.AT, sre.AT_END), (sre.AT, sre.AT_END_STRING))
_CATEGORIES: dict[Any, Callable[[str], bool]] = {
    sre.CATEGORY_DIGIT: str.isdigit,
    sre.CATEGORY_NOT_DIGIT: lambda c: not c.isdigit(),
    sre.CATEGORY_WORD: lambda c: c.isalnum() or c == "_",
    sre.CATEGORY_NOT_WORD: lambda c: not (c.isalnum() or c == "_"),
    sre.CATEGORY_SPACE: lambda c: c == " ",  # the one space a value should carry
    sre.CATEGORY_NOT_SPACE: lambda c: not c.isspace(),
}


def matching(pattern: str, rng: random.Random, min_len: int = 0, max_len: float = math.inf) -> str:
    """A string that `re.search(pattern, ...)` accepts, with min_len <= len <= max_len.

    >>> matching(r"^[A-Z]{3}-\\d{4}$", random.Random(1))
    'SZY-4177'
    """
    compiled, parsed = _parse(pattern)
    limited = min_len > 0 or max_len < math.inf
    for _ in range(_ATTEMPTS):
        target = rng.randint(min_len, int(min(max_len, min_len + 12))) if limited else None
        candidate = _pad(_Walk(rng, target).sequence(parsed, 0), parsed, min_len, rng)
        if min_len <= len(candidate) <= max_len and compiled.search(candidate):
            return candidate
    raise ValueError(
        f"could not generate a string matching pattern {pattern!r} with length {min_len}..{max_len}"
    )


@functools.lru_cache(maxsize=256)
def _parse(pattern: str) -> tuple[re.Pattern[str], list[Any]]:
    try:
        return re.compile(pattern), list(sre_parse.parse(pattern).data)
    except re.error as exc:
        raise ValueError(f"invalid pattern {pattern!r}: {exc}") from None


def _pad(text: str, parsed: list[Any], min_len: int, rng: random.Random) -> str:
    """`text` lengthened on an unanchored side: a pattern only has to occur in the string."""
    short = min_len - len(text)
    open_end = not parsed or parsed[-1] not in _END_ANCHORS
    if short <= 0 or not (open_end or parsed[0] not in _START_ANCHORS):
        return text
    edge = parsed[-1:] if open_end else parsed[:1]
    seam = " " if edge and edge[0][0] is sre.AT else ""  # keeps a \b at the seam a boundary
    filler = "".join(rng.choice(string.ascii_lowercase) for _ in range(short - len(seam)))
    return text + seam + filler if open_end else filler + seam + text


def _min_width(items: Any) -> int:
    """The fewest characters a parsed sequence can match."""
    width = 0
    for op, av in items:
        if op in (sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN):
            width += 1
        elif op is sre.BRANCH:
            width += min(_min_width(branch) for branch in av[1])
        elif op is sre.SUBPATTERN:
            width += _min_width(av[3])
        elif op is sre.ATOMIC_GROUP:
            width += _min_width(av)
        elif op in _REPEATS:
            width += av[0] * _min_width(av[2])
    return width


@functools.lru_cache(maxsize=256)
def _class_chars(items: tuple[Any, ...]) -> str:
    """The printable characters a `[...]` class accepts, letters and digits if it takes any."""
    negate = bool(items) and items[0][0] is sre.NEGATE
    for pool in (_ALNUM, _PUNCTUATION):
        chars = "".join(c for c in pool if _in_class(c, items) != negate)
        if chars:
            return chars
    return ""


def _in_class(char: str, items: tuple[Any, ...]) -> bool:
    code = ord(char)
    for op, av in items:
        if (
            (op is sre.LITERAL and code == av)
            or (op is sre.RANGE and av[0] <= code <= av[1])
            or (op is sre.CATEGORY and av in _CATEGORIES and _CATEGORIES[av](char))
        ):
            return True
    return False


class _Walk:
    """One pass over a parsed pattern; `target` steers open repeats toward a total length."""

    def __init__(self, rng: random.Random, target: int | None) -> None:
        self.rng = rng
        self.target = target
        self.length = 0
        self.groups: dict[int, str] = {}

    def sequence(self, items: list[Any], tail: int) -> str:
        """Text for a sequence; `tail` is the least the pattern still needs after it."""
        after = [0] * len(items)  # the least width of what follows each item
        for i in range(len(items) - 1, 0, -1):
            after[i - 1] = after[i] + _min_width(items[i : i + 1])
        return "".join(self.item(op, av, tail + after[i]) for i, (op, av) in enumerate(items))

    def item(self, op: Any, av: Any, tail: int) -> str:
        if op is sre.BRANCH:
            return self.sequence(list(self.rng.choice(av[1])), tail)
        if op is sre.SUBPATTERN:
            text = self.sequence(list(av[3]), tail)
            if av[0]:
                self.groups[av[0]] = text
            return text
        if op is sre.ATOMIC_GROUP:
            return self.sequence(list(av), tail)
        if op in _REPEATS:
            low, high, body = av
            return "".join(
                self.sequence(list(body), tail) for _ in range(self.count(low, high, body, tail))
            )
        if op is sre.GROUPREF_EXISTS:
            group, yes, no = av
            return self.sequence(list(yes if group in self.groups else no or []), tail)
        if op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            return ""  # zero-width: the final re.search judges them
        text = self.char(op, av) if op is not sre.GROUPREF else self.groups.get(av, "")
        self.length += len(text)
        return text

    def char(self, op: Any, av: Any) -> str:
        if op is sre.LITERAL:
            return chr(av)
        if op is sre.NOT_LITERAL:
            return self.rng.choice(_ALNUM.replace(chr(av), ""))
        if op is sre.ANY:
            return self.rng.choice(_ALNUM)
        if op is sre.IN:
            chars = _class_chars(tuple(av))
            if chars:
                return self.rng.choice(chars)
            # Only characters outside printable ASCII fit: take one from the class itself.
            for kind, value in av:
                if kind is sre.LITERAL:
                    return chr(value)
                if kind is sre.RANGE:
                    return chr(self.rng.randint(*value))
        raise ValueError(f"unsupported regular expression construct {op} {av}")

    def count(self, low: int, high: int, body: Any, tail: int) -> int:
        """How often a repeat runs: at random, or as often as the target length wants."""
        if self.target is None:
            return self.rng.randint(low, min(high, low + _FREE_REPEAT))
        room = (self.target - self.length - tail) // max(1, _min_width(body))
        return max(low, min(high, room))
