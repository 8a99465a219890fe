"""Match predicates: does a fixture's `match` hold for a request, and if not, why not.

A `match` compiles once, at load, into a tuple of Checks (regexes compiled then). A request
is seen through a RequestView, which works out each matched-on part (the last user text, the
offered tool names, ...) the first time a check asks for it, and never again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Generic, TypeGuard, TypeVar, overload

from .located import Invalid, KeyPath, Problems, boolean, kind, string, within

TEXT_OPS = ("equals", "contains", "regex")
TOOL_CHOICE_MODES = ("none", "auto", "required")
RESPONSE_FORMATS = ("text", "json_object", "json_schema")


def is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """Whether a JSON value is an object (dict is tried first: parsed JSON holds dicts, the ABC costs ~0.2 us)."""
    return isinstance(value, (dict, Mapping))


def message_text(message: Mapping[str, Any]) -> str:
    """A message's text: its string content, or its text parts joined by spaces."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    return " ".join(p.get("text", "") for p in content or () if is_mapping(p) and "text" in p)


T = TypeVar("T")


class _Part(Generic[T]):
    """A part of a RequestView, worked out on first read and stored on the view.

    A non-data descriptor: once the value sits in the view's __dict__, reads find it there
    without calling back (functools.cached_property takes a lock on every read in 3.11, and a
    `__getattr__` fallback pays for a failed lookup and its AttributeError on first read).
    """

    def __init__(self, compute: Callable[[RequestView], T]) -> None:
        self.compute = compute
        self.name = compute.__name__

    @overload
    def __get__(self, view: None, owner: type | None = None) -> _Part[T]: ...

    @overload
    def __get__(self, view: RequestView, owner: type | None = None) -> T: ...

    def __get__(self, view: RequestView | None, owner: type | None = None) -> T | _Part[T]:
        if view is None:
            return self
        value = view.__dict__[self.name] = self.compute(view)
        return value


class RequestView:
    """The parts of a request fixtures match on, each worked out once, when first read."""

    def __init__(self, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> None:
        self.body = body
        self.raw_headers = headers if headers is not None else {}  # not `or`: Starlette's Headers decodes its names for len()

    @_Part
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @_Part
    def messages(self) -> list[Mapping[str, Any]]:
        # is_mapping's test inline, a plain dict (parsed JSON) tried by its type: a call, or a tuple
        # of types, for each message cost a tenth of this part each
        return [m for m in self.body.get("messages") or () if type(m) is dict or isinstance(m, Mapping)]

    @_Part
    def last_user_index(self) -> int:
        messages = self.messages
        for index in range(len(messages) - 1, -1, -1):
            if messages[index].get("role") == "user":
                return index
        return -1

    @_Part
    def last_user(self) -> str:
        return message_text(self.messages[self.last_user_index]) if self.last_user_index >= 0 else ""

    @_Part
    def system(self) -> tuple[str, ...]:
        """The texts of the system and developer messages."""
        return tuple(message_text(m) for m in self.messages if m.get("role") in ("system", "developer"))

    @_Part
    def any_message(self) -> tuple[str, ...]:
        return tuple(message_text(m) for m in self.messages)

    @_Part
    def tool_results(self) -> tuple[str, ...]:
        """The tool results of the current turn: those after the last user message."""
        turn = self.messages[self.last_user_index + 1 :]
        return tuple(message_text(m) for m in turn if m.get("role") in ("tool", "function"))

    @_Part
    def tools(self) -> frozenset[str]:
        names = set()
        for tool in self.body.get("tools") or ():
            spec = tool.get(tool.get("type", "function")) if is_mapping(tool) else None
            if is_mapping(spec) and isinstance(spec.get("name"), str):
                names.add(spec["name"])
        return frozenset(names)

    @_Part
    def tool_choice(self) -> str:
        """none / auto / required, or `function:<name>`; absent counts as its default."""
        choice = self.body.get("tool_choice")
        if choice is None:
            return "auto" if self.tools else "none"
        if is_mapping(choice):
            if choice.get("type") == "allowed_tools":
                return str((choice.get("allowed_tools") or {}).get("mode", "auto"))
            named = choice.get(choice.get("type", "function")) or {}
            return f"function:{named.get('name')}"
        return str(choice)

    @_Part
    def response_format(self) -> str:
        return str((self.body.get("response_format") or {}).get("type", "text"))

    @_Part
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @_Part
    def headers(self) -> dict[str, str]:
        """The headers, names in lower case."""
        return {k.lower(): val for k, val in self.raw_headers.items()}

    @_Part
    def metadata(self) -> Mapping[str, Any]:
        metadata = self.body.get("metadata")
        return metadata if is_mapping(metadata) else {}


@dataclass(frozen=True)
class Text:
    """A predicate on a string: `equals`, `contains` or `regex` (searched anywhere)."""

    op: str
    value: str
    test: Callable[[str], bool]

    def __str__(self) -> str:
        if self.op == "regex":
            return f"matching /{self.value}/"
        return f"{'equal to' if self.op == 'equals' else 'containing'} {_quote(self.value)}"


def compile_text(raw: Any) -> Text:
    """A plain string (exact) or `{equals|contains|regex: string}`, compiled."""
    if isinstance(raw, str):
        raw = {"equals": raw}
    if isinstance(raw, dict) and len(raw) > 1:
        raise Invalid(f"give one of equals, contains or regex, not {' and '.join(map(str, raw))}")
    if not isinstance(raw, dict) or len(raw) != 1:
        raise Invalid(f"expected a string or one of {{equals|contains|regex: ...}}, got {kind(raw)}")
    ((op, value),) = raw.items()
    if op not in TEXT_OPS:
        raise Invalid(f"unknown text predicate {op!r} (use equals, contains or regex)", (op,))
    value = within(op, string, value)
    if op == "equals":
        return Text(op, value, value.__eq__)
    if op == "contains":
        return Text(op, value, lambda text: value in text)
    try:
        pattern = re.compile(value)
    except re.error as exc:
        raise Invalid(f"bad regex {value!r}: {exc}", (op,)) from None
    return Text(op, value, lambda text: pattern.search(text) is not None)


@dataclass(frozen=True)
class Check:
    """One key of a `match`: whether it holds, and how to tell what the request had instead."""

    key: str
    holds: Callable[[RequestView], bool]
    wanted: str
    got: Callable[[RequestView], str]

    def why_not(self, view: RequestView) -> str:
        """`model: wanted equal to 'gpt-4o', got 'gpt-4o-mini'`."""
        return f"{self.key}: wanted {self.wanted}, got {self.got(view)}"


def _quote(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _texts(texts: tuple[str, ...]) -> str:
    return ", ".join(_quote(t) for t in texts[:3]) + (f" and {len(texts) - 3} more" if len(texts) > 3 else "") or "none"


def _one_text(attribute: str) -> Callable[[str, Any], Check]:
    """A text predicate on one part of the request."""
    part = attrgetter(attribute)

    def compile_one(key: str, raw: Any) -> Check:
        predicate = compile_text(raw)
        test = predicate.test
        return Check(key, lambda v: test(part(v)), str(predicate), lambda v: _quote(part(v)))

    return compile_one


def _any_text(attribute: str) -> Callable[[str, Any], Check]:
    """A text predicate that one of several texts of the request must fit."""
    part = attrgetter(attribute)

    def compile_any(key: str, raw: Any) -> Check:
        predicate = compile_text(raw)
        return Check(
            key, lambda v: any(map(predicate.test, part(v))), f"one {predicate}", lambda v: _texts(part(v))
        )

    return compile_any


def _offered(key: str, raw: Any) -> Check:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise Invalid(f"expected a tool name or a list of them, got {kind(raw)}")
    names = frozenset(within(i, string, name) for i, name in enumerate(raw))
    return Check(
        key,
        lambda v: names <= v.tools,
        "tools offered including " + ", ".join(sorted(names)),
        lambda v: ", ".join(sorted(v.tools)) or "no tools",
    )


def _chosen(key: str, raw: Any) -> Check:
    if isinstance(raw, dict) and set(raw) == {"name"}:
        wanted = "function:" + within("name", string, raw["name"])
    elif raw in TOOL_CHOICE_MODES:
        wanted = raw
    else:
        raise Invalid(f"expected none, auto, required or {{name: <function>}}, got {raw!r}")
    return Check(key, lambda v: v.tool_choice == wanted, repr(wanted), lambda v: repr(v.tool_choice))


def _response_format(key: str, raw: Any) -> Check:
    if raw not in RESPONSE_FORMATS:
        raise Invalid(f"expected one of {', '.join(RESPONSE_FORMATS)}, got {raw!r}")
    return Check(key, lambda v: v.response_format == raw, repr(raw), lambda v: repr(v.response_format))


def _flag(attribute: str) -> Callable[[str, Any], Check]:
    part = attrgetter(attribute)

    def compile_flag(key: str, raw: Any) -> Check:
        wanted = boolean(raw)
        return Check(key, lambda v: bool(part(v)) == wanted, str(wanted).lower(), lambda v: str(bool(part(v))).lower())

    return compile_flag


def _entries(key: str, raw: Any) -> Check:
    """`headers` / `metadata`: every named entry present and matching its text predicate."""
    if not isinstance(raw, dict) or not raw:
        raise Invalid(f"expected a mapping of names to text predicates, got {kind(raw)}")
    fold = str.lower if key == "headers" else str
    wanted = {fold(name): within(name, compile_text, _scalar_text(value)) for name, value in raw.items()}
    part = attrgetter(key)

    def holds(view: RequestView) -> bool:
        have = part(view)
        return all(isinstance(have.get(n), str) and p.test(have[n]) for n, p in wanted.items())

    def got(view: RequestView) -> str:
        have = part(view)
        return ", ".join(f"{n}={have[n]!r}" if n in have else f"no {n}" for n in wanted)

    return Check(key, holds, ", ".join(f"{n} {p}" for n, p in wanted.items()), got)


def _scalar_text(value: Any) -> Any:
    """Numbers and booleans as the strings a header carries (`x-retry: 1` means "1")."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value) if isinstance(value, int | float) else value


_COMPILERS: dict[str, Callable[[str, Any], Check]] = {
    "model": _one_text("model"),
    "last_user": _one_text("last_user"),
    "system": _any_text("system"),
    "any_message": _any_text("any_message"),
    "tool_result": _any_text("tool_results"),
    "tools": _offered,
    "tool_choice": _chosen,
    "has_tool_result": _flag("tool_results"),
    "response_format": _response_format,
    "stream": _flag("stream"),
    "headers": _entries,
    "metadata": _entries,
}
MATCH_KEYS = tuple(_COMPILERS)

# The match keys whose `contains` a substring index can serve, and the part of the request each reads.
SUBSTRING_PARTS = {
    "model": "model",
    "last_user": "last_user",
    "system": "system",
    "any_message": "any_message",
    "tool_result": "tool_results",
}


@dataclass(frozen=True)
class Needle:
    """A text that a `contains` check needs in one part of the request (any of its texts)."""

    part: str  # a RequestView attribute: one text, or a tuple of them
    text: str


def part_texts(view: RequestView, part: str) -> tuple[str, ...]:
    """The texts of one part of the request: one (model, last_user) or several (system, ...)."""
    texts: str | tuple[str, ...] = getattr(view, part)
    return (texts,) if isinstance(texts, str) else texts


@dataclass(frozen=True)
class Match:
    """A compiled `match`: every check must hold; no checks match every request."""

    checks: tuple[Check, ...]
    exact_model: str | None  # for the index: the model an exact `model` names
    exact_last_user: str | None  # for the index: the text an exact `last_user` names
    needle: Needle | None = None  # for the substring index: the longest `contains` it needs

    def holds(self, view: RequestView) -> bool:
        """Whether the request fits."""
        for check in self.checks:  # a loop, not all() over a generator: this runs for every candidate
            if not check.holds(view):
                return False
        return True

    def misses(self, view: RequestView) -> list[str]:
        """Why each failing check fails; empty when the request fits."""
        return [check.why_not(view) for check in self.checks if not check.holds(view)]


def compile_match(problems: Problems, path: KeyPath, raw: Any) -> Match | None:
    """A `match` compiled, or None with its problems recorded."""
    known = problems.fields(path, raw, MATCH_KEYS)
    if known is None:
        return None
    checks = [problems.attempt((*path, key), _COMPILERS[key], key, value) for key, value in known.items()]
    if None in checks or len(known) < len(raw):
        return None
    return Match(
        checks=tuple(c for c in checks if c is not None),
        exact_model=_exact(known.get("model")),
        exact_last_user=_exact(known.get("last_user")),
        needle=_needle(known),
    )


def _exact(raw: Any) -> str | None:
    """The string an exact text predicate names, or None for contains/regex."""
    if isinstance(raw, str):
        return raw
    return raw.get("equals") if isinstance(raw, dict) else None


def _needle(known: Mapping[str, Any]) -> Needle | None:
    """The longest `contains` text among the keys a substring index can serve, or None."""
    needles = [
        Needle(SUBSTRING_PARTS[key], raw["contains"])
        for key, raw in known.items()
        if key in SUBSTRING_PARTS and isinstance(raw, dict) and "contains" in raw
    ]
    return max(needles, key=lambda needle: len(needle.text), default=None)
