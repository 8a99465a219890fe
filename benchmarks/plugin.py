"""The pytest plugin's costs: its first start, and what its `emulator` fixture adds to each test.

First start, two ways: the setup time pytest reports for the first test that takes `emulator`
(the session's server starting), and a whole pytest run that sends one request (whose first
request also builds the tokenizer) against one empty test.

Baseline: the same pytest, plugin disabled (`-p no:emulator`), running empty tests. First start:
one test that takes `emulator` and sends one chat request, against one empty test. Per test:
the mean time pytest spends on each of 500 tests (set-up, call and teardown, timed by a hook in
the run), each taking `emulator` and sending nothing, against 500 empty tests; the first and
last tests, which start and stop the session's server, left out.
"""

from __future__ import annotations

import importlib.util
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


# Times each test, set-up to teardown, into per-test-times.txt of the folder pytest runs in.
_TIMING_CONFTEST = '''
import time

import pytest

_times = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    started = time.perf_counter()
    yield
    _times.append(time.perf_counter() - started)


def pytest_sessionfinish(session):
    with open("per-test-times.txt", "w") as out:
        out.write("\\n".join(map(repr, _times)))
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


def _per_test(folder: Path, *args: str) -> float:
    """Mean seconds pytest spends on a test of the run, its first and last (server start, stop) left out."""
    _wall(folder, *args)
    times = [float(line) for line in (folder / "per-test-times.txt").read_text().split()]
    return statistics.mean(times[1:-1])


def _setup(folder: Path) -> float:
    """Seconds pytest reports for setting up the first test that takes `emulator` (the server starts)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=0", "--durations-min=0",
         "test_one_emulator.py"],
        cwd=folder, capture_output=True, text=True, timeout=300, check=True,
    )
    found = re.search(r"([\d.]+)s setup\s+test_one_emulator.py::test_0", done.stdout)
    if found is None:
        raise RuntimeError(f"no setup duration in:\n{done.stdout[-2000:]}")
    return float(found.group(1))


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
        setups = [_setup(folder) for _ in range(rounds)]
        for _ in range(rounds):
            runs["first"].append(_wall(folder, "test_first.py"))
            runs["plain 1"].append(_wall(folder, "-p", "no:emulator", "test_one_plain.py"))
            runs["plain test"].append(_per_test(folder, "-p", "no:emulator", "test_more_plain.py"))
            runs["emu test"].append(_per_test(folder, "test_more_emulator.py"))
    medians = {key: statistics.median(values) for key, values in runs.items()}
    plain_test = medians["plain test"]
    emulator_test = medians["emu test"]
    setup = statistics.median(setups)
    return [
        # pytest prints durations to 10 ms; the server's own start is the bulk of this setup.
        Row("pytest plugin: first start (setup of the first test: session server up)", "-",
            f"{setup * 1000:.0f} ms", None, "<= 100 ms", setup <= 0.1),
        Row("pytest plugin: first start (pytest run, 1 test + 1 request)", f"{medians['plain 1'] * 1000:.0f} ms",
            f"{medians['first'] * 1000:.0f} ms", medians["first"] / medians["plain 1"], "", None),
        Row("pytest plugin: per-test time (overhead = the difference)", f"{plain_test * 1000:.2f} ms",
            f"{emulator_test * 1000:.2f} ms", emulator_test / plain_test, "", None),
    ]
