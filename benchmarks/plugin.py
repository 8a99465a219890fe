"""The pytest plugin's costs: its first start, and what its `emulator` fixture adds to each test.

First start, two ways: the setup time pytest reports for the first test that takes `emulator`
(the session's server starting), and a whole pytest run that sends one request (whose first
request also builds the tokenizer) against one empty test.

Baseline: the same pytest, plugin disabled (`-p no:emulator`), running empty tests. First start:
one test that takes `emulator` and sends one chat request, against one empty test. Per test:
the extra time of 500 more tests, each taking `emulator` and sending nothing, against 500 more
empty tests.
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

MORE = 500  # enough tests that the per-test figure stands above the run-to-run noise

_FIRST = '''
import http.client

BODY = {body!r}


def test_first(emulator):
    connection = http.client.HTTPConnection(emulator.url.removeprefix("http://"))
    connection.request("POST", "/v1/chat/completions", BODY,
                       {{"Authorization": "Bearer " + emulator.api_key, "Content-Type": "application/json"}})
    assert connection.getresponse().status == 200
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
        (folder / "test_first.py").write_text(_FIRST.format(body=payloads.encode(payloads.chat_request())))
        (folder / "test_one_plain.py").write_text(_tests(1, ""))
        (folder / "test_more_plain.py").write_text(_tests(1 + MORE, ""))
        (folder / "test_one_emulator.py").write_text(_tests(1, "emulator"))
        (folder / "test_more_emulator.py").write_text(_tests(1 + MORE, "emulator"))
        runs: dict[str, list[float]] = {key: [] for key in ("first", "plain 1", "plain n", "emu 1", "emu n")}
        setups = [_setup(folder) for _ in range(rounds)]
        for _ in range(rounds):
            runs["first"].append(_wall(folder, "test_first.py"))
            runs["plain 1"].append(_wall(folder, "-p", "no:emulator", "test_one_plain.py"))
            runs["plain n"].append(_wall(folder, "-p", "no:emulator", "test_more_plain.py"))
            runs["emu 1"].append(_wall(folder, "test_one_emulator.py"))
            runs["emu n"].append(_wall(folder, "test_more_emulator.py"))
    wall = {key: statistics.median(values) for key, values in runs.items()}
    plain_test = (wall["plain n"] - wall["plain 1"]) / MORE
    emulator_test = (wall["emu n"] - wall["emu 1"]) / MORE
    setup = statistics.median(setups)
    return [
        # pytest prints durations to 10 ms; the server's own start is the bulk of this setup.
        Row("pytest plugin: first start (setup of the first test: session server up)", "-",
            f"{setup * 1000:.0f} ms", None, "<= 100 ms", setup <= 0.1),
        Row("pytest plugin: first start (pytest run, 1 test + 1 request)", f"{wall['plain 1'] * 1000:.0f} ms",
            f"{wall['first'] * 1000:.0f} ms", wall["first"] / wall["plain 1"], "", None),
        Row("pytest plugin: per-test time (overhead = the difference)", f"{plain_test * 1000:.2f} ms",
            f"{emulator_test * 1000:.2f} ms", emulator_test / plain_test, "", None),
    ]
