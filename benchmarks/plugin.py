"""The pytest plugin's costs: its first start, and what its `emulator` fixture adds to each test.

First start, three ways: the setup of the session's server (the `emulator_server` fixture);
the setup of the first test that takes `emulator`, every fixture it needs included, against an
empty first test's (both pay Faker's own pytest plugin, whose autouse session fixture builds a
Faker, 50-90 ms here, in any run where Faker is installed, as it is with the emulator); and a
whole pytest run that sends one request (whose first request also builds the tokenizer)
against one empty test.

Baseline: the same pytest, plugin disabled (`-p no:emulator`), running empty tests. First start:
one test that takes `emulator` and sends one chat request, against one empty test. Per test:
the mean time pytest spends on each of 500 tests (set-up, call and teardown, timed by a hook in
the run), each taking `emulator` and sending nothing, against 500 empty tests; the first and
last tests, which start and stop the session's server, left out.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import payloads
from .table import NOT_BUILT, Row

MORE = 500  # tests whose mean time is the per-test figure (a run holds two more: its first and last)

_FIRST = '''
import http.client

BODY = {body!r}


def test_first(emulator):
    connection = http.client.HTTPConnection(emulator.url.removeprefix("http://"))
    connection.request("POST", "/v1/chat/completions", BODY,
                       {{"Authorization": "Bearer " + emulator.api_key, "Content-Type": "application/json"}})
    assert connection.getresponse().status == 200
'''


# Times each test (set-up to teardown), each test's set-up, and each fixture's set-up (by name),
# into timings.json of the folder pytest runs in. A fixture's own set-up leaves out those it
# takes: pytest sets them up before it.
_TIMING_CONFTEST = '''
import json
import time

import pytest

_timings = {"tests": [], "setups": [], "fixtures": {}}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    started = time.perf_counter()
    yield
    _timings["tests"].append(time.perf_counter() - started)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    started = time.perf_counter()
    yield
    _timings["setups"].append(time.perf_counter() - started)


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    started = time.perf_counter()
    yield
    fixtures = _timings["fixtures"]
    fixtures[fixturedef.argname] = fixtures.get(fixturedef.argname, 0.0) + time.perf_counter() - started


def pytest_sessionfinish(session):
    with open("timings.json", "w") as out:
        json.dump(_timings, out)
'''


def _tests(count: int, argument: str) -> str:
    return "".join(f"\n\ndef test_{i}({argument}):\n    pass\n" for i in range(count))


def _wall(folder: Path, *args: str) -> float:
    """Seconds one pytest run takes, start to exit."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=folder, capture_output=True, text=True, timeout=300, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pytest {' '.join(args)} failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    return time.perf_counter() - started


def _timings(folder: Path, *args: str) -> dict[str, Any]:
    """What the timing conftest recorded in one pytest run."""
    _wall(folder, *args)
    timings: dict[str, Any] = json.loads((folder / "timings.json").read_text())
    return timings


def _per_test(folder: Path, *args: str) -> float:
    """Mean seconds pytest spends on a test of the run, its first and last (server start, stop) left out."""
    times: list[float] = _timings(folder, *args)["tests"]
    return statistics.mean(times[1:-1])


def rows(rounds: int = 3) -> list[Row]:
    """First start and per-test overhead, or n/a while the plugin does not exist."""
    if importlib.util.find_spec("emulator.pytest_plugin") is None:
        return [
            Row("pytest plugin: first start", NOT_BUILT, NOT_BUILT, None, "", None),
            Row("pytest plugin: per-test overhead", NOT_BUILT, NOT_BUILT, None, "", None),
        ]
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "pytest.ini").write_text("[pytest]\n")  # keep the project's own settings out
        (folder / "conftest.py").write_text(_TIMING_CONFTEST)
        (folder / "test_first.py").write_text(_FIRST.format(body=payloads.encode(payloads.chat_request())))
        (folder / "test_one_plain.py").write_text(_tests(1, ""))
        (folder / "test_more_plain.py").write_text(_tests(MORE + 2, ""))
        (folder / "test_one_emulator.py").write_text(_tests(1, "emulator"))
        (folder / "test_more_emulator.py").write_text(_tests(MORE + 2, "emulator"))
        runs: dict[str, list[float]] = {key: [] for key in ("first", "plain 1", "plain test", "emu test")}
        servers, first_setups, plain_setups = [], [], []
        for _ in range(rounds):
            emulated = _timings(folder, "test_one_emulator.py")
            servers.append(emulated["fixtures"]["emulator_server"])
            first_setups.append(emulated["setups"][0])
            plain_setups.append(_timings(folder, "-p", "no:emulator", "test_one_plain.py")["setups"][0])
        for _ in range(rounds):
            runs["first"].append(_wall(folder, "test_first.py"))
            runs["plain 1"].append(_wall(folder, "-p", "no:emulator", "test_one_plain.py"))
            runs["plain test"].append(_per_test(folder, "-p", "no:emulator", "test_more_plain.py"))
            runs["emu test"].append(_per_test(folder, "test_more_emulator.py"))
    medians = {key: statistics.median(values) for key, values in runs.items()}
    plain_test = medians["plain test"]
    emulator_test = medians["emu test"]
    server = statistics.median(servers)
    first_setup, plain_setup = statistics.median(first_setups), statistics.median(plain_setups)
    return [
        Row("pytest plugin: first start (session server up: the emulator_server fixture)", "-",
            f"{server * 1000:.1f} ms", None, "<= 100 ms", server <= 0.1),
        Row("pytest plugin: setup of the first test (its fixtures, Faker's autouse one too)",
            f"{plain_setup * 1000:.0f} ms", f"{first_setup * 1000:.0f} ms", first_setup / plain_setup, "", None),
        Row("pytest plugin: first start (pytest run, 1 test + 1 request)", f"{medians['plain 1'] * 1000:.0f} ms",
            f"{medians['first'] * 1000:.0f} ms", medians["first"] / medians["plain 1"], "", None),
        Row("pytest plugin: per-test time (overhead = the difference)", f"{plain_test * 1000:.2f} ms",
            f"{emulator_test * 1000:.2f} ms", emulator_test / plain_test, "", None),
    ]
