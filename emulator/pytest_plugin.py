"""pytest plugin: the `emulator` fixture gives each test a scripted emulator and its journal.

Installing the package registers it (entry point `pytest11`); no conftest is needed::

    def test_greets(emulator):
        emulator.add(match={"last_user": {"contains": "hello"}}, reply={"content": "Hi there!"})
        client = emulator.openai_client()
        reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello"}])
        assert reply.choices[0].message.content == "Hi there!"
        emulator.assert_called(last_user={"contains": "hello"})

One server runs per test session (per xdist worker); the handle is reset after every test.
"""

from __future__ import annotations

import dataclasses
import os
import traceback
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from .app import Emulator
from .errors import FixtureError
from .journal import JournalEntry
from .located import Problems
from .matching import RequestView, compile_match
from .registry import FixtureHandle
from .server import BackgroundServer
from .settings import Settings

API_KEY = "sk-emulator-test-key"
MARKER = "emulator(*, fixtures=None, strict=None, seed=None): per-test fixture files, strict mode and seed"


def _marker_arguments(*, fixtures: str | Path | Sequence[str | Path] | None = None,
                      strict: bool | None = None, seed: int | None = None) -> dict[str, Any]:
    """The marker's signature: a misspelt keyword is a TypeError, not a silent default."""
    if isinstance(fixtures, (str, Path)):
        fixtures = [fixtures]
    return {"fixtures": [Path(f) for f in fixtures or ()], "strict": strict, "seed": seed}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("emulator", "chat-emulator (offline OpenAI Chat Completions)")
    group.addoption("--emulator-fixtures", action="append", default=[], metavar="PATH",
                    help="fixture file or folder the session's emulator loads; repeatable")
    group.addoption("--emulator-strict", action="store_true", default=None,
                    help="requests no fixture matches get an error instead of a generated reply")
    group.addoption("--emulator-seed", type=int, default=None, metavar="N", help="seed for generated replies")
    parser.addini("emulator_fixtures", "fixture files or folders the session's emulator loads", type="paths")
    parser.addini("emulator_strict", "strict mode for every test (true/false)", type="bool", default=False)
    parser.addini("emulator_seed", "seed for generated replies", default="0")
    parser.addini("emulator_env", "set OPENAI_BASE_URL and OPENAI_API_KEY for every test", type="bool",
                  default=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)


def session_settings(config: pytest.Config) -> Settings:
    """Settings of the session's emulator: command-line options win over ini values."""
    fixtures = [Path(p) for p in config.getoption("emulator_fixtures")] or list(config.getini("emulator_fixtures"))
    strict = config.getoption("emulator_strict")
    seed = config.getoption("emulator_seed")
    return Settings(
        port=0,
        fixtures=tuple(fixtures),
        strict=config.getini("emulator_strict") if strict is None else strict,
        seed=int(config.getini("emulator_seed")) if seed is None else seed,
        api_keys=(),
    )


@pytest.fixture(scope="session")
def emulator_server(pytestconfig: pytest.Config) -> Iterator[BackgroundServer]:
    """The session's live emulator (one per xdist worker)."""
    with BackgroundServer(session_settings(pytestconfig)) as server:
        yield server


class Requests(Sequence[JournalEntry]):
    """The journal of chat requests, oldest first, speaking unittest.mock: `.last`, `.call_count`."""

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator

    def _entries(self) -> list[JournalEntry]:
        return self._emulator.journal.entries()

    def __getitem__(self, index: Any) -> Any:
        return self._entries()[index]

    def __len__(self) -> int:
        return len(self._entries())

    @property
    def last(self) -> JournalEntry:
        """The latest request; AssertionError when there is none."""
        entries = self._entries()
        if not entries:
            raise AssertionError("the emulator received no request")
        return entries[-1]

    @property
    def called(self) -> bool:
        return bool(self._entries())

    @property
    def call_count(self) -> int:
        return len(self._entries())

    def assert_called_once(self) -> None:
        """Exactly one request came in."""
        if self.call_count != 1:
            raise AssertionError(f"expected 1 request, the emulator received {self.call_count}")

    def __repr__(self) -> str:
        return f"<Requests {[_describe(e) for e in self._entries()]}>"


def _describe(entry: JournalEntry) -> str:
    """A request in one line: status, model and the last user text."""
    body = entry.body if isinstance(entry.body, Mapping) else {}
    view = RequestView(body)
    return f"{entry.status} model={view.model!r} last_user={view.last_user[:60]!r}"


class EmulatorHandle:
    """What a test scripts and checks: `add()` replies, read `requests`, assert on what was sent."""

    def __init__(self, server: BackgroundServer) -> None:
        self._server = server
        self._state: Emulator = server.app.state.emulator
        self._added: list[FixtureHandle] = []
        self.requests = Requests(self._state)

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return self._server.url

    @property
    def base_url(self) -> str:
        """The URL an OpenAI client takes, ending in `/v1`."""
        return self._server.base_url

    @property
    def api_key(self) -> str:
        """A key the emulator accepts."""
        return API_KEY

    def add(self, *, match: Mapping[str, Any] | None = None, reply: Mapping[str, Any] | None = None,
            sequence: Sequence[Mapping[str, Any]] | None = None, name: str | None = None,
            priority: int | None = None, times: int | None = None, **more: Any) -> FixtureHandle:
        """Script a reply, with the keys of the YAML format; matched before file fixtures.

        >>> emulator.add(match={"model": "gpt-4o"}, reply={"content": "Hello"}).call_count
        0
        """
        given = {"name": name, "match": match or {}, "reply": reply, "sequence": sequence,
                 "priority": priority, "times": times, **more}
        handle = self._state.add_fixture({k: v for k, v in given.items() if v is not None})
        self._added.append(handle)
        return handle

    def load(self, path: str | os.PathLike[str]) -> list[FixtureHandle]:
        """Add every fixture of a YAML file for this test."""
        handles = self._state.fixtures.add_document(Path(path).read_text(), source=str(path))
        self._added.extend(handles)
        return handles

    def openai_client(self, **options: Any) -> Any:
        """An `openai.OpenAI` pointed at the emulator (options go to its constructor)."""
        import openai

        return openai.OpenAI(**{"base_url": self.base_url, "api_key": API_KEY, **options})

    def async_openai_client(self, **options: Any) -> Any:
        """An `openai.AsyncOpenAI` pointed at the emulator."""
        import openai

        return openai.AsyncOpenAI(**{"base_url": self.base_url, "api_key": API_KEY, **options})

    def assert_called(self, **match: Any) -> JournalEntry:
        """Some request fits `match` (fixture match keys); the first such request.

        On failure the message lists every request received and why each did not fit.
        """
        compiled = _compile(match)
        misses = []
        for index, entry in enumerate(self.requests):
            view = RequestView(entry.body if isinstance(entry.body, Mapping) else {}, entry.headers)
            if compiled.holds(view):
                return entry
            misses.append(f"  #{index} {_describe(entry)}: " + "; ".join(compiled.misses(view)))
        received = "\n".join(misses) if misses else "  (no requests)"
        raise AssertionError(f"no request matched {dict(match)!r}; received:\n{received}")

    def assert_not_called(self, **match: Any) -> None:
        """No request fits `match`."""
        compiled = _compile(match)
        for index, entry in enumerate(self.requests):
            if compiled.holds(RequestView(entry.body if isinstance(entry.body, Mapping) else {}, entry.headers)):
                raise AssertionError(f"request #{index} matched {dict(match)!r}: {_describe(entry)}")

    def assert_all_fixtures_used(self) -> None:
        """Every fixture this test added answered at least one request."""
        unused = [handle.name for handle in self._added if not handle.called]
        if unused:
            raise AssertionError(f"fixtures never used: {', '.join(unused)}")

    def _apply_marker(self, arguments: Mapping[str, Any]) -> None:
        """Per-test strict mode, seed and fixture files from `@pytest.mark.emulator`."""
        overrides = {k: arguments[k] for k in ("strict", "seed") if arguments[k] is not None}
        if overrides:
            self._state.settings = dataclasses.replace(self._state.settings, **overrides)
        for path in arguments["fixtures"]:
            for file in sorted(path.rglob("*.y*ml")) if path.is_dir() else [path]:
                self.load(file)

    def _reset(self, settings: Settings) -> None:
        self._state.settings = settings
        self._state.reset()
        self._added.clear()


def _compile(match: Mapping[str, Any]) -> Any:
    """A fixture `match` compiled, or a clear error naming what is wrong with it."""
    problems = Problems("match")
    compiled = compile_match(problems, (), dict(match))
    if compiled is None or problems:
        raise ValueError("invalid match: " + "; ".join(problems.items))
    return compiled


@pytest.fixture
def emulator(emulator_server: BackgroundServer, request: pytest.FixtureRequest) -> Iterator[EmulatorHandle]:
    """A scripted emulator for this test; reset (fixtures, journal, scenarios, settings) afterwards."""
    handle = EmulatorHandle(emulator_server)
    settings = handle._state.settings
    marker = request.node.get_closest_marker("emulator")
    try:
        if marker is not None:
            try:
                handle._apply_marker(_marker_arguments(*marker.args, **marker.kwargs))
            except TypeError as exc:
                pytest.fail(f"@pytest.mark.emulator: {exc}", pytrace=False)
            except FixtureError as exc:
                pytest.fail(f"@pytest.mark.emulator fixtures:\n{exc}", pytrace=False)
        yield handle
        crashes = list(handle._state.crashes)
        if crashes and not _failed(request.node):
            formatted = "\n".join("".join(traceback.format_exception(c)) for c in crashes)
            pytest.fail(f"the emulator hit {len(crashes)} unhandled error(s) during the test:\n{formatted}")
    finally:
        handle._reset(settings)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item, so teardown knows whether the test failed."""
    report = yield
    setattr(item, f"_emulator_report_{report.when}", report)
    return report


def _failed(item: pytest.Item) -> bool:
    report = getattr(item, "_emulator_report_call", None)
    return bool(report is not None and report.failed)


@pytest.fixture
def emulator_env(emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> EmulatorHandle:
    """Point `OpenAI()` built with no arguments at the emulator (OPENAI_BASE_URL, OPENAI_API_KEY)."""
    monkeypatch.setenv("OPENAI_BASE_URL", emulator.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    return emulator


@pytest.fixture(autouse=True)
def _emulator_env_everywhere(request: pytest.FixtureRequest) -> None:
    """With the ini switch `emulator_env = true`, every test gets `emulator_env`."""
    if request.config.getini("emulator_env"):
        request.getfixturevalue("emulator_env")
