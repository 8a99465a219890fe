"""Secrets and volatile values in recorded text: what they are, and what is written instead.

A secret (the caller's key, `sk-…` strings, `Bearer` tokens, long random-looking tokens)
is written as [redacted] in a reply. In match text, a secret or a volatile value (ids,
timestamps, UUIDs, whatever a --normalize regex finds) is replaced by a pattern that matches
any value of its kind: the text becomes an anchored regex, so a replay of the same request,
with its own secret and fresh ids, still matches.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

REDACTED = "[redacted]"

# Values that differ from one run to the next; match text holds a pattern in their place.
DEFAULT_NORMALIZERS = (
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",  # UUIDs
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?",  # ISO 8601 times
    r"\b1[5-9]\d{8}(?:\d{3})?\b",  # Unix times (2017-2033) in seconds or milliseconds
    r"\b(?:chatcmpl|call|req|resp|msg|run|file|asst|thread)[-_][A-Za-z0-9]{8,}\b",  # API object ids
    r"\b[0-9a-f]{32,}\b",  # hex digests and request ids
)


@dataclass(frozen=True)
class Rule:
    """One kind of value a recording must not write as it stands."""

    pattern: re.Pattern[str]
    stand_in: str  # the regex that match text holds in its place
    secret: bool = False  # a secret is also replaced by [redacted] in replies
    test: Callable[[str], bool] | None = None  # a further check on what the pattern found


def _looks_random(token: str) -> bool:
    """Upper case, lower case and digits, about as varied as random text (bits per character)."""
    if not (any(c.islower() for c in token) and any(c.isupper() for c in token) and any(c.isdigit() for c in token)):
        return False
    counts = Counter(token).values()
    entropy = -sum(n / len(token) * math.log2(n / len(token)) for n in counts)
    return entropy >= 4.3  # random base-62 text of 32 characters scores about 4.6, long words below 4


# Where a token may start: not inside a longer run of token characters, nor inside a JSON
# escape, but right after one (`\n`, `\u00e9`): tool arguments are JSON text, and redacting
# after the escape, never through it, keeps that JSON valid.
_START = r"(?:(?<![\\A-Za-z0-9+_=-])|(?<=\\[nrtbf])|(?<=\\u[0-9a-fA-F]{4}))"

SECRET_RULES = (
    Rule(re.compile(_START + r"sk-[A-Za-z0-9_*-]{8,}"), r"sk-[A-Za-z0-9_*-]{8,}", secret=True),
    # RFC 6750's token characters; a final `.` ends the sentence rather than the token.
    Rule(re.compile(r"(?<=[Bb]earer )[A-Za-z0-9._~+/-]{7,}[A-Za-z0-9_~+/=-]"), r"\S+", secret=True),
    Rule(re.compile(_START + r"[A-Za-z0-9+_=-]{32,}"), r"[A-Za-z0-9+_=-]{32,}", secret=True, test=_looks_random),
)


class Scrubber:
    """Finds secrets and volatile values in text: redacts secrets, generalises both in match text.

    >>> scrubber = Scrubber(DEFAULT_NORMALIZERS)
    >>> scrubber.redact("my key is sk-abcdefgh12345678")
    'my key is [redacted]'
    >>> scrubber.match_text("hello")
    'hello'
    """

    def __init__(self, normalize: Iterable[str]) -> None:
        """`normalize`: regexes of volatile values; re.error names the first that is no regex."""
        self._normalizers = [Rule(re.compile(regex), regex) for regex in normalize]
        self._keys: dict[str, Rule] = {}

    def add_key(self, key: str | None) -> None:
        """Treat every later sight of `key` as a secret (a key this short is no secret worth hiding)."""
        if key and len(key) >= 8 and key not in self._keys:
            self._keys[key] = Rule(re.compile(re.escape(key)), r"\S+", secret=True)

    def _spans(self, text: str, rules: Sequence[Rule]) -> list[tuple[int, int, Rule]]:
        """Where each rule finds something, overlaps resolved leftmost and longest first."""
        found = [
            (m.start(), m.end(), order, rule)
            for order, rule in enumerate(rules)
            for m in rule.pattern.finditer(text)
            if m.end() > m.start() and (rule.test is None or rule.test(m.group()))
        ]
        found.sort(key=lambda span: (span[0], span[0] - span[1], span[2]))
        kept: list[tuple[int, int, Rule]] = []
        for start, end, _, rule in found:
            if not kept or start >= kept[-1][1]:
                kept.append((start, end, rule))
        return kept

    def redact(self, text: str) -> str:
        """`text` with every secret replaced by [redacted]."""
        out, last = [], 0
        for start, end, _ in self._spans(text, [*self._keys.values(), *SECRET_RULES]):
            out += [text[last:start], REDACTED]
            last = end
        return "".join(out) + text[last:]

    def match_text(self, text: str) -> str | dict[str, str]:
        """What a fixture's `match` holds for `text`: the text itself, or a regex when it varies."""
        secrets = [*self._keys.values(), *SECRET_RULES]
        regex = self._regex(text, [*secrets, *self._normalizers])
        if regex is not None and not _fits(regex, text):
            # A --normalize regex may hold anchors or groups that do not fit mid-text; the
            # secrets' stand-ins are ours and always fit.
            regex = self._regex(text, secrets)
        return text if regex is None else {"regex": regex}

    def _regex(self, text: str, rules: Sequence[Rule]) -> str | None:
        """`text` as an anchored regex, each span a rule finds replaced by its stand-in; None if none."""
        spans = self._spans(text, rules)
        if not spans:
            return None
        parts, last = [r"\A"], 0
        for start, end, rule in spans:
            parts += [_escape(text[last:start]), f"(?:{rule.stand_in})"]
            last = end
        return "".join([*parts, _escape(text[last:]), r"\Z"])


def _fits(regex: str, text: str) -> bool:
    try:
        return re.search(regex, text) is not None
    except re.error:
        return False


def _escape(text: str) -> str:
    # re.escape escapes spaces for verbose mode, which match regexes never use.
    return re.escape(text).replace("\\ ", " ")
