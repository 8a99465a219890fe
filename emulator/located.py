"""YAML that remembers where each value stood, and problems reported at those lines.

A fixture file is read into ordinary dicts and lists that also know the line of every key
and item, so a problem found while compiling an entry can say `file:line: message` for the
exact key at fault. JSON is YAML, so admin bodies in either form read the same way.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

KeyPath = tuple[Hashable, ...]  # keys and indices from a document's root to one value


class LocatedDict(dict[Any, Any]):
    """A YAML mapping with the line of the mapping and of each key."""

    line: int
    lines: dict[Any, int]


class LocatedList(list[Any]):
    """A YAML sequence with the line of the sequence and of each item."""

    line: int
    lines: dict[int, int]


if TYPE_CHECKING:
    _SafeLoader = yaml.SafeLoader
else:  # libyaml's loader where PyYAML was built with it: the same interface, several times faster
    _SafeLoader = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


class _Loader(_SafeLoader):
    """The safe loader, building located containers and refusing duplicate keys."""


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> LocatedDict:
    loader.flatten_mapping(node)
    mapping = LocatedDict()
    mapping.line, mapping.lines = node.start_mark.line + 1, {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(None, None, "a key must be a plain value", key_node.start_mark)
        if key in mapping:
            # PyYAML would keep the last value silently; a repeated key is nearly always a slip.
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.lines[key] = key_node.start_mark.line + 1
    return mapping


def _sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> LocatedList:
    items = LocatedList(loader.construct_object(child, deep=True) for child in node.value)
    items.line = node.start_mark.line + 1
    items.lines = {i: child.start_mark.line + 1 for i, child in enumerate(node.value)}
    return items


_Loader.add_constructor("tag:yaml.org,2002:map", _mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _sequence)


class Invalid(Exception):
    """A value that does not fit; `path` leads from the value being read to the culprit."""

    def __init__(self, message: str, path: KeyPath = (), line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line  # known outright for YAML syntax errors


def load(text: str | bytes) -> Any:
    """The YAML (or JSON) document in `text`; Invalid with the line of a syntax error."""
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = f"bad YAML: {exc.problem or exc.context}"
        if exc.problem and exc.context and exc.context_mark:
            message += f" ({exc.context} on line {exc.context_mark.line + 1})"
        raise Invalid(message, line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise Invalid(f"bad YAML: {exc}") from None


def line_at(root: Any, path: KeyPath) -> int | None:
    """The line of the deepest value along `path` whose position is known."""
    line = getattr(root, "line", None)
    node = root
    for key in path:
        lines = getattr(node, "lines", None)
        if lines is None or key not in lines:
            break
        line = lines[key]
        node = node[key]
    return line


def kind(value: Any) -> str:
    """What a value is, as a problem message names it."""
    if value is None:
        return "nothing (null)"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    for type_, name in names.items():
        if type(value) is type_:
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:39] + "…"
            return f"{name} ({shown})"
    if isinstance(value, dict):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    return f"a {type(value).__name__} (quote it to make it a string)"


T = TypeVar("T")


class Problems:
    """Problems found in one source, each as `source:line: message`."""

    def __init__(self, source: str, root: Any = None) -> None:
        self.source = source
        self.root = root
        self._found: list[tuple[int, str]] = []

    @property
    def items(self) -> list[str]:
        """Every problem, in line order."""
        return [text for _, text in sorted(self._found, key=lambda found: found[0])]

    def __len__(self) -> int:
        return len(self._found)

    def add(self, path: KeyPath, message: str, line: int | None = None) -> None:
        """Record a problem at the value `path` leads to from the root."""
        line = line_at(self.root, path) if line is None else line
        where = self.source if line is None else f"{self.source}:{line}"
        self._found.append((line or 0, f"{where}: {message}"))

    def report(self, path: KeyPath, message: str, line: int | None = None) -> None:
        """Record `message` about the value at `path`, the path leading the message."""
        self.add(path, f"{dotted(path)}: {message}" if path else message, line)

    def attempt(self, path: KeyPath, read: Callable[..., T], *args: Any) -> T | None:
        """`read(*args)`, or None with the problem recorded when it raises Invalid."""
        try:
            return read(*args)
        except Invalid as exc:
            self.report((*path, *exc.path), exc.message, exc.line)
            return None

    def optional(self, path: KeyPath, known: Mapping[Any, Any], key: str, read: Callable[[Any], T]) -> T | None:
        """`read(known[key])` as `attempt` reads it, or None when `key` is not there."""
        return self.attempt((*path, key), read, known[key]) if key in known else None

    def fields(self, path: KeyPath, value: Any, allowed: Collection[str]) -> dict[Any, Any] | None:
        """`value`'s known keys, each unknown key reported (with a likely spelling); None if no mapping."""
        if not isinstance(value, dict):
            self.report(path, f"expected a mapping, got {kind(value)}")
            return None
        for key in value:
            if key not in allowed:
                self.report(path, _unknown(key, allowed), line_at(self.root, (*path, key)))
        return {key: item for key, item in value.items() if key in allowed}


def _unknown(key: Any, allowed: Collection[str]) -> str:
    hint = difflib.get_close_matches(str(key), allowed, n=1)
    return f"unknown key {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else f"; known keys: {', '.join(allowed)}")


def fields(value: Any, allowed: Collection[str]) -> dict[Any, Any]:
    """`value` as a mapping of `allowed` keys; Invalid names the first stranger."""
    if not isinstance(value, dict):
        raise Invalid(f"expected a mapping, got {kind(value)}")
    for key in value:
        if key not in allowed:
            raise Invalid(_unknown(key, allowed), (key,))
    return value


def within(key: Hashable, read: Callable[[Any], T], value: Any) -> T:
    """`read(value)`, its Invalid placed under `key`."""
    try:
        return read(value)
    except Invalid as exc:
        raise Invalid(exc.message, (key, *exc.path), exc.line) from None


def dotted(path: Sequence[Hashable]) -> str:
    """`fixtures[2].match.headers.x-team`: a path as a reader writes it."""
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else f".{key}" if text else str(key)
    return text


def string(value: Any) -> str:
    """`value` if it is a string."""
    if not isinstance(value, str):
        raise Invalid(f"expected a string, got {kind(value)}")
    return value


def integer(value: Any, minimum: int | None = None) -> int:
    """`value` if it is an integer, at least `minimum`."""
    if type(value) is not int:
        raise Invalid(f"expected an integer, got {kind(value)}")
    if minimum is not None and value < minimum:
        raise Invalid(f"expected an integer >= {minimum}, got {value}")
    return value


def number(value: Any, minimum: float = 0) -> float:
    """`value` if it is a number, at least `minimum`."""
    if type(value) not in (int, float):
        raise Invalid(f"expected a number, got {kind(value)}")
    if value < minimum:
        raise Invalid(f"expected a number >= {minimum:g}, got {value}")
    return float(value)


def boolean(value: Any) -> bool:
    """`value` if it is true or false."""
    if type(value) is not bool:
        raise Invalid(f"expected true or false, got {kind(value)}")
    return value
