"""The fixtures in force, and the state requests leave behind them.

Two tiers: fixtures added at run time (admin API, `Emulator.add_fixture`) come before file
fixtures. Within a tier, higher `priority` first, then the order written or added; the first
fixture that matches and is available answers. Each tier indexes its entries so that a
request only tries the entries that could fit it, however many there are: by exact last user
text, by a `contains` on a text part (model, last_user, system, any_message, tool_result:
substrings.py; needles shorter than its GRAM are not indexed), or by exact model, in that
order of preference. The rest are tried one by one: matches by `regex` only, or on tools,
headers, metadata and the other parts no index serves. An index only narrows the candidates;
each is still checked with its whole `match`, in rank order, so the index never changes
which fixture answers.

All state lives here: how often each fixture answered, where each sequence stands, how many
failures a fault has served, each scenario's state. `reset` forgets it all.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from bisect import insort
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from . import located
from .errors import FixtureError, OpenAIError
from .fixtures import (
    INITIAL_STATE,
    Fixture,
    compile_entries,
    compile_entry,
    load_files,
    name_clashes,
    parse_document,
    yaml_files,
)
from .located import Problems
from .matching import RequestView, part_texts
from .scripted import ScriptedReply
from .substrings import GRAM, SubstringIndex

log = logging.getLogger("emulator")

RELOAD_INTERVAL = 1.0  # seconds between looks at the fixture files' modification times
CLOSEST = 3  # fixtures a strict-mode miss describes


@dataclass
class _Uses:
    """What requests did to one fixture."""

    calls: int = 0  # requests it answered, failures included
    step: int = 0  # the sequence step that answers next
    failures: int = 0  # failures served at this step


class Selected(NamedTuple):
    """The fixture that answers a request, the reply it gives, and whether its fault hits."""

    fixture: Fixture
    reply: ScriptedReply
    failing: bool


class _Tier:
    """Fixtures in rank order, indexed by exact last user text, by substring, and by exact model."""

    def __init__(self, fixtures: Iterable[Fixture] = ()) -> None:
        self._rank: dict[Fixture, tuple[int, int]] = {}
        self.names: dict[str, Fixture] = {}
        self._by_user: dict[str, list[Fixture]] = {}
        self._by_substring: dict[str, SubstringIndex[Fixture]] = {}  # by the part the needle is in
        self._by_model: dict[str, list[Fixture]] = {}
        self._rest: list[Fixture] = []
        for fixture in fixtures:
            self.add(fixture)

    def add(self, fixture: Fixture) -> None:
        rank = self._rank.__getitem__
        self._rank[fixture] = (-fixture.priority, len(self._rank))
        self.names.setdefault(fixture.name, fixture)
        match, needle = fixture.match, fixture.match.needle
        if match.exact_last_user is not None:
            bucket = self._by_user.setdefault(match.exact_last_user, [])
        elif needle is not None and len(needle.text) >= GRAM:
            self._by_substring.setdefault(needle.part, SubstringIndex(rank)).add(fixture, needle.text)
            return
        elif match.exact_model is not None:
            bucket = self._by_model.setdefault(match.exact_model, [])
        else:
            bucket = self._rest
        insort(bucket, fixture, key=rank)

    def candidates(self, view: RequestView) -> Iterable[Fixture]:
        """The fixtures that could match, in rank order."""
        if not self._rank:  # the runtime tier, when a test adds no fixtures: asked on every request
            return ()
        lists = [self._rest] if self._rest else []
        # Each part is worked out only when some fixture is indexed by it.
        if self._by_user and (found := self._by_user.get(view.last_user)):
            lists.append(found)
        for part, index in self._by_substring.items():
            if found := index.candidates(part_texts(view, part)):
                lists.append(found)
        if self._by_model and (found := self._by_model.get(view.model)):
            lists.append(found)
        if len(lists) <= 1:
            return lists[0] if lists else ()
        return heapq.merge(*lists, key=self._rank.__getitem__)

    def __iter__(self) -> Iterator[Fixture]:
        return iter(sorted(self._rank, key=self._rank.__getitem__))

    def __len__(self) -> int:
        return len(self._rank)


@dataclass(frozen=True)
class FixtureHandle:
    """A fixture and what requests did with it: `handle.call_count`, `handle.called`."""

    fixture: Fixture
    registry: Registry

    @property
    def name(self) -> str:
        return self.fixture.name

    @property
    def call_count(self) -> int:
        """How many requests this fixture answered (scripted failures included)."""
        return self.registry.call_count(self.fixture)

    @property
    def called(self) -> bool:
        return self.call_count > 0


class Registry:
    """Every fixture in force, their index and their state."""

    def __init__(self, paths: Sequence[Path] = ()) -> None:
        self._lock = threading.RLock()
        self._paths = tuple(paths)
        self._runtime = _Tier()
        self._uses: dict[Fixture, _Uses] = {}
        self._states: dict[str, str] = {}
        self._names = (f"runtime-{n}" for n in itertools.count(1))
        self._stamps = self._file_stamps()
        self._files = self._tier_of(load_files(self._paths))
        self._checked = time.monotonic()
        self.reload_problems: list[str] = []  # the last failed reload's report; [] once one succeeds

    # --- reading ----------------------------------------------------------------------------

    def fixtures(self) -> list[Fixture]:
        """Every fixture in the order they are tried: runtime ones, then file ones."""
        with self._lock:
            return [*self._runtime, *self._files]

    def call_count(self, fixture: Fixture) -> int:
        """How many requests `fixture` answered."""
        uses = self._uses.get(fixture)
        return uses.calls if uses else 0

    def scenarios(self) -> dict[str, str]:
        """The state of every scenario a fixture names."""
        with self._lock:
            named = {f.scenario for f in self.fixtures() if f.scenario is not None}
            return {name: self._states.get(name, INITIAL_STATE) for name in sorted(named)}

    def describe(self) -> list[dict[str, Any]]:
        """Every fixture as GET /_emulator/fixtures lists it."""
        with self._lock:
            runtime = set(self._runtime)
            return [
                {
                    "name": f.name,
                    "source": f.source,
                    "runtime": f in runtime,
                    "call_count": self.call_count(f),
                    "spec": f.spec,
                }
                for f in self.fixtures()
            ]

    # --- changing ---------------------------------------------------------------------------

    def add(self, spec: Mapping[str, Any], source: str = "runtime") -> FixtureHandle:
        """Add one fixture entry (a dict written as in a file); FixtureError if it is broken."""
        problems = Problems(source, spec)
        (fixture,) = self._add(problems, lambda: [compile_entry(problems, (), spec, source, self._names)])
        return FixtureHandle(fixture, self)

    def add_document(self, text: str | bytes, source: str = "request body") -> list[FixtureHandle]:
        """Add the entries of a YAML or JSON text: `{fixtures: [...]}`, a list of entries, or one entry."""
        problems = Problems(source)
        try:
            root = problems.root = located.load(text)
        except located.Invalid as exc:
            problems.add((), exc.message, exc.line)
            raise FixtureError(problems.items) from None

        def compile_() -> list[Fixture | None]:
            if isinstance(root, dict) and "fixtures" in root:
                return [*parse_document(problems, root, source, self._names)]
            if isinstance(root, list):
                return [*compile_entries(problems, (), root, source, self._names)]
            return [compile_entry(problems, (), root, source, self._names)]

        return [FixtureHandle(f, self) for f in self._add(problems, compile_)]

    def _add(self, problems: Problems, compile_: Callable[[], list[Fixture | None]]) -> list[Fixture]:
        """Compile and add runtime fixtures, all or none."""
        with self._lock:
            fixtures = [f for f in compile_() if f is not None]
            clashes = name_clashes(fixtures, self._runtime.names)
            if problems or clashes:
                raise FixtureError(problems.items + clashes)
            for fixture in fixtures:
                self._runtime.add(fixture)
                self._uses[fixture] = _Uses()
            return fixtures

    def clear_runtime(self) -> int:
        """Remove every runtime fixture; how many there were."""
        with self._lock:
            count = len(self._runtime)
            for fixture in self._runtime:
                self._uses.pop(fixture, None)
            self._runtime = _Tier()
            return count

    def reset(self) -> None:
        """Forget runtime fixtures, counters, sequence positions and scenario states."""
        with self._lock:
            self.clear_runtime()
            self._uses = {fixture: _Uses() for fixture in self._files}
            self._states.clear()

    # --- answering --------------------------------------------------------------------------

    def select(self, view: RequestView) -> Selected | None:
        """The first available fixture that matches, its use recorded; None when none does."""
        with self._lock:
            self._reload_if_changed()
            for tier in (self._runtime, self._files):
                for fixture in tier.candidates(view):
                    if fixture.match.holds(view):
                        uses = self._uses[fixture]
                        if self._unavailable(fixture, uses) is None:
                            return self._use(fixture, uses, view)
            return None

    def _unavailable(self, fixture: Fixture, uses: _Uses) -> str | None:
        """Why a fixture cannot answer now, whatever the request: used up, or a scenario elsewhere."""
        if fixture.times is not None and uses.calls >= fixture.times:
            return f"times: used up (answered {uses.calls} of {fixture.times})"
        if fixture.scenario is not None and fixture.when_state is not None:
            state = self._states.get(fixture.scenario, INITIAL_STATE)
            if state != fixture.when_state:
                return f"scenario {fixture.scenario!r}: wanted state {fixture.when_state!r}, is in {state!r}"
        return None

    def _use(self, fixture: Fixture, uses: _Uses, view: RequestView) -> Selected:
        """Count the request; advance the sequence and scenario unless a limited fault holds it back."""
        uses.calls += 1
        reply = fixture.replies[uses.step]
        fault = reply.fault
        failing = fault is not None and fault.applies(view) and (
            fault.fail_times is None or uses.failures < fault.fail_times
        )
        if failing and fault is not None and fault.fail_times is not None:
            uses.failures += 1  # the retry comes back to this step
            return Selected(fixture, reply, failing)
        if uses.step < len(fixture.replies) - 1:
            uses.step += 1
            uses.failures = 0
        if fixture.scenario is not None and fixture.new_state is not None:
            self._states[fixture.scenario] = fixture.new_state
        return Selected(fixture, reply, failing)

    def not_found(self, view: RequestView) -> OpenAIError:
        """Strict mode's 400: the closest fixtures, and what each wanted that the request lacks."""
        with self._lock:
            ranked = []
            for order, fixture in enumerate(self.fixtures()):
                misses = fixture.match.misses(view)
                unavailable = self._unavailable(fixture, self._uses[fixture])
                if unavailable:
                    misses.append(unavailable)
                ranked.append((len(misses), -len(fixture.match.checks), order, fixture, misses))
        message = "No fixture matches this request (strict mode)."
        if not ranked:
            message += " No fixtures are loaded: give --fixtures, or POST /_emulator/fixtures."
        else:
            message += " Closest fixtures:"
            for *_, fixture, misses in sorted(ranked, key=lambda row: row[:3])[:CLOSEST]:
                message += f"\n- {fixture.name!r} ({fixture.source}): " + "; ".join(misses)
        return OpenAIError(400, message, code="fixture_not_found", headers={"x-should-retry": "false"})

    # --- files ------------------------------------------------------------------------------

    def _tier_of(self, fixtures: Iterable[Fixture]) -> _Tier:
        tier = _Tier(fixtures)
        for fixture in tier:
            self._uses[fixture] = _Uses()
        return tier

    def _file_stamps(self) -> dict[Path, tuple[int, int] | None]:
        stamps: dict[Path, tuple[int, int] | None] = {}
        for path in yaml_files(self._paths):
            try:
                stat = path.stat()
                stamps[path] = (stat.st_mtime_ns, stat.st_size)
            except OSError:
                stamps[path] = None
        return stamps

    def _reload_if_changed(self) -> None:
        """Reload the files when one changed (looking at most once a second); keep the old on failure."""
        now = time.monotonic()
        if not self._paths or now - self._checked < RELOAD_INTERVAL:
            return
        self._checked = now
        stamps = self._file_stamps()
        if stamps == self._stamps:
            return
        self._stamps = stamps
        try:
            fixtures = load_files(self._paths)
        except FixtureError as exc:
            self.reload_problems = exc.problems
            log.error("fixtures not reloaded, the previous ones stay in force:\n%s", exc)
            return
        for fixture in self._files:
            self._uses.pop(fixture, None)
        self._files = self._tier_of(fixtures)
        self.reload_problems = []
        log.info("fixtures reloaded: %d from %s", len(fixtures), ", ".join(map(str, self._paths)))
