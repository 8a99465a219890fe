"""Fixture entries: read from YAML (or JSON, or a dict), checked, compiled once.

A file holds `fixtures:`, a list of entries. Each entry is compiled into a frozen Fixture:
its `match` into checks (matching.py), its `reply` or `sequence` into ScriptedReplies
(scripted.py) whose templates and faults are resolved at load, so answering a request only
fills in values. Every problem is reported as `file:line: message`; the registry
(registry.py) keeps the state that requests leave behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import located
from .errors import FixtureError
from .located import Invalid, KeyPath, Problems, integer, kind, string
from .matching import Match, compile_match
from .scripted import (
    CHUNKING_KEYS,
    FAULT_KEYS,
    FINISH_REASONS,
    LATENCY_KEYS,
    OVERLOADED,
    RATE_LIMITED,
    REPLY_KEYS,
    STREAM_FAULTS,
    TEMPLATE_VARIABLES,
    TOOL_CALL_KEYS,
    USAGE_KEYS,
    Fault,
    ScriptedCall,
    ScriptedReply,
    Template,
    compile_reply,
    compile_template,
)

# The names of a reply moved to scripted.py with the code that reads one; they are still
# importable from here.
__all__ = [
    "CHUNKING_KEYS",
    "ENTRY_KEYS",
    "FAULT_KEYS",
    "FINISH_REASONS",
    "INITIAL_STATE",
    "LATENCY_KEYS",
    "OVERLOADED",
    "RATE_LIMITED",
    "REPLY_KEYS",
    "STREAM_FAULTS",
    "TEMPLATE_VARIABLES",
    "TOOL_CALL_KEYS",
    "USAGE_KEYS",
    "Fault",
    "Fixture",
    "ScriptedCall",
    "ScriptedReply",
    "Template",
    "compile_entries",
    "compile_entry",
    "compile_template",
    "fixture_problems",
    "load_files",
    "name_clashes",
    "parse_document",
    "read_file",
    "yaml_files",
]

ENTRY_KEYS = (
    "name", "match", "reply", "sequence", "priority", "times", "scenario", "when_state", "required_state", "new_state",
)
INITIAL_STATE = "Started"  # every scenario's state before a fixture moves it (WireMock's name)


@dataclass(frozen=True, eq=False)
class Fixture:
    """One fixture entry. Compared by identity: two equal entries are still two fixtures."""

    name: str
    match: Match
    replies: tuple[ScriptedReply, ...]  # one for `reply`, the steps of a `sequence`
    source: str  # where it was written: `file.yaml:12`, `request body:3`, or `runtime`
    spec: Mapping[str, Any]  # the entry as written, for GET /_emulator/fixtures
    priority: int = 0
    times: int | None = None
    scenario: str | None = None
    when_state: str | None = None
    new_state: str | None = None


# --- reading ------------------------------------------------------------------------------


def compile_entries(
    problems: Problems, path: KeyPath, entries: Any, origin: str, default_names: Iterator[str] | None = None
) -> list[Fixture]:
    """Every entry of a list compiled, problems recorded for those that do not compile."""
    if not isinstance(entries, list):
        problems.report(path, f"expected a list of fixture entries, got {kind(entries)}")
        return []
    compiled = (compile_entry(problems, (*path, i), raw, origin, default_names) for i, raw in enumerate(entries))
    return [fixture for fixture in compiled if fixture is not None]


def name_clashes(fixtures: Iterable[Fixture], taken: Mapping[str, Fixture] | None = None) -> list[str]:
    """A problem for each fixture whose name an earlier one (or one in `taken`) already has."""
    seen = dict(taken or {})
    problems = []
    for fixture in fixtures:
        if fixture.name in seen:
            problems.append(f"{fixture.source}: name {fixture.name!r} is already used at {seen[fixture.name].source}")
        seen.setdefault(fixture.name, fixture)
    return problems


def compile_entry(
    problems: Problems, path: KeyPath, raw: Any, origin: str, default_names: Iterator[str] | None = None
) -> Fixture | None:
    """One entry compiled, or None with its problems recorded.

    An entry needs a `name` unless `default_names` supplies one (fixtures added at run time).
    """
    before = len(problems)
    line = located.line_at(problems.root, path)
    source = f"{origin}:{line}" if line else origin
    known = problems.fields(path, raw, ENTRY_KEYS)
    if known is None:
        return None
    if "name" in known:
        name = problems.attempt((*path, "name"), string, known["name"])
    elif default_names is not None:
        name = next(default_names)
    else:
        name = None
        problems.report(path, "no `name` (the journal and strict-mode messages call the fixture by it)")
    if "match" not in known:
        problems.report(path, "no `match` (write `match: {}` to answer every request)")
    match = compile_match(problems, (*path, "match"), known.get("match", {}))
    if ("reply" in known) == ("sequence" in known):
        problems.report(path, "give either `reply` or `sequence`" + (", not both" if "reply" in known else ""))
    replies = _replies(problems, path, known)
    priority = problems.attempt((*path, "priority"), integer, known.get("priority", 0))
    times = problems.optional(path, known, "times", lambda v: integer(v, 1))
    scenario = problems.optional(path, known, "scenario", string)
    if "when_state" in known and "required_state" in known:
        problems.report(path, "`required_state` is another name for `when_state`: give one of them")
    state_key = "required_state" if "required_state" in known else "when_state"
    when_state = problems.optional(path, known, state_key, string)
    new_state = problems.optional(path, known, "new_state", string)
    if scenario is None and (when_state or new_state):
        problems.report(path, f"`{state_key if when_state else 'new_state'}` needs a `scenario`")
    if len(problems) > before or match is None or name is None:
        return None
    return Fixture(
        name=name,
        match=match,
        replies=tuple(replies),
        source=source,
        spec=raw,
        priority=priority or 0,
        times=times,
        scenario=scenario,
        when_state=when_state,
        new_state=new_state,
    )


def _replies(problems: Problems, path: KeyPath, known: Mapping[str, Any]) -> list[ScriptedReply]:
    if "reply" in known:
        return [compile_reply(problems, (*path, "reply"), known["reply"])]
    steps = known.get("sequence")
    if not isinstance(steps, list) or not steps:
        if "sequence" in known:
            problems.report((*path, "sequence"), f"expected a non-empty list of replies, got {kind(steps)}")
        return []
    return [compile_reply(problems, (*path, "sequence", i), step) for i, step in enumerate(steps)]


# --- files --------------------------------------------------------------------------------


def yaml_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Each path given, folders expanded to their *.yaml / *.yml files in name order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        else:
            yield path


def parse_document(
    problems: Problems, document: Any, origin: str, default_names: Iterator[str] | None = None
) -> list[Fixture]:
    """The fixtures of a whole document: `fixtures:` and its list."""
    top = problems.fields((), document, ("fixtures",))
    if top is None:
        return []
    if "fixtures" not in top:
        problems.report((), "no `fixtures:` list")
        return []
    return compile_entries(problems, ("fixtures",), top["fixtures"], origin, default_names)


def read_file(path: Path) -> tuple[list[Fixture], list[str]]:
    """The fixtures of one file, and its problems."""
    problems = Problems(str(path))
    try:
        problems.root = located.load(path.read_bytes())
    except OSError as exc:
        return [], [f"{path}: cannot read: {exc.strerror or exc}"]
    except Invalid as exc:
        problems.add((), exc.message, exc.line)
        return [], problems.items
    return parse_document(problems, problems.root, str(path)), problems.items


def load_files(paths: Iterable[Path]) -> list[Fixture]:
    """Every fixture of every file, in order; FixtureError listing all problems of all files."""
    fixtures: list[Fixture] = []
    problems: list[str] = []
    for path in yaml_files(paths):
        found, trouble = read_file(path)
        fixtures += found
        problems += trouble
    problems += name_clashes(fixtures)
    if problems:
        raise FixtureError(problems)
    return fixtures


def fixture_problems(paths: Sequence[Path]) -> tuple[list[str], int]:
    """Every problem of the fixture files under `paths`, and how many fixtures they hold."""
    try:
        return [], len(load_files(paths))
    except FixtureError as exc:
        return exc.problems, 0
