"""`python -m emulator check`: every problem as file:line: message; serve refuses broken files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from emulator.cli import main

REPO = Path(__file__).resolve().parent.parent


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The command line in a child process, as a user runs it."""
    command = [sys.executable, "-m", "emulator", *map(str, args)]
    return subprocess.run(command, check=False, capture_output=True, text=True)


def check(capsys: pytest.CaptureFixture[str], *paths: Path) -> tuple[int, list[str]]:
    """`check PATH...` in this process (the same code, without a child's start-up time)."""
    status = main(["check", *map(str, paths)])
    return status, capsys.readouterr().out.splitlines()


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


# (file content, the one problem it has: line and message)
BROKEN = [
    ("bad-yaml", "fixtures:\n  - name: a\n    match: {model: gpt-4o\n    reply: {content: x}\n",
     4, "bad YAML: did not find expected ',' or '}' (while parsing a flow mapping on line 3)"),
    ("tab-indent", "fixtures:\n\t- name: a\n", 2,
     "bad YAML: found character that cannot start any token (while scanning for the next token on line 2)"),
    ("duplicate-key", "fixtures:\n  - name: a\n    match: {}\n    name: b\n    reply: {}\n",
     4, "bad YAML: duplicate key 'name'"),
    ("unknown-key", "fixtures:\n  - name: a\n    match: {}\n    reply:\n      content: x\n      finsh_reason: stop\n",
     6, "fixtures[0].reply: unknown key 'finsh_reason' (did you mean 'finish_reason'?)"),
    ("unknown-match-key", "fixtures:\n  - name: a\n    match:\n      last_usr: hi\n    reply: {}\n",
     4, "fixtures[0].match: unknown key 'last_usr' (did you mean 'last_user'?)"),
    ("wrong-type", "fixtures:\n  - name: a\n    match: {}\n    times: twice\n    reply: {}\n",
     4, "fixtures[0].times: expected an integer, got a string ('twice')"),
    ("wrong-type-nested", ("fixtures:\n  - name: a\n    match: {}\n    reply:\n      latency:\n"
     "        first_token_ms: soon\n"), 6, ("fixtures[0].reply.latency.first_token_ms: expected a number, got a string "
     "('soon')")),
    ("bad-regex", "fixtures:\n  - name: a\n    match:\n      model:\n        regex: '^gpt-4o['\n    reply: {}\n",
     5, "fixtures[0].match.model.regex: bad regex '^gpt-4o[': unterminated character set at position 7"),
    ("bad-template", "fixtures:\n  - name: a\n    match: {}\n    reply: {content: 'Hi {{ user }}'}\n",
     4, ("fixtures[0].reply.content: unknown template variable {{ user }} (known: last_user, model, system, "
        "tool_result, metadata.<key>)")),
    ("reply-and-sequence", "fixtures:\n  - name: a\n    match: {}\n    reply: {}\n    sequence: [{}]\n",
     2, "fixtures[0]: give either `reply` or `sequence`, not both"),
    ("no-match", "fixtures:\n  - name: a\n    reply: {}\n", 2,
     "fixtures[0]: no `match` (write `match: {}` to answer every request)"),
    ("fault-without-wording", "fixtures:\n  - name: a\n    match: {}\n    reply:\n      fault: {status: 418}\n",
     5, "fixtures[0].reply.fault.status: status 418 has no default message: give `message`"),
    ("fault-header-name", ("fixtures:\n  - name: a\n    match: {}\n    reply:\n      fault:\n        status: 429\n"
     "        headers: {retry after: '1'}\n"), 7,
     ("fixtures[0].reply.fault.headers.retry after: 'retry after' is not a header name: letters, digits and "
     "!#$%&'*+-.^_`|~ only")),
    ("fault-header-line-break", ("fixtures:\n  - name: a\n    match: {}\n    reply:\n      fault:\n"
     "        status: 429\n        headers: {retry-after: \"1\\r\\nx-injected: yes\"}\n"), 7,
     ("fixtures[0].reply.fault.headers.retry-after: a header value cannot hold a line break or another control "
     "character")),
    ("state-without-scenario", "fixtures:\n  - name: a\n    match: {}\n    new_state: x\n    reply: {}\n",
     2, "fixtures[0]: `new_state` needs a `scenario`"),
    ("not-a-fixture-file", "- name: a\n", 1, "expected a mapping, got a list"),
]


@pytest.mark.parametrize(("text", "line", "message"), [row[1:] for row in BROKEN], ids=[row[0] for row in BROKEN])
def test_check_names_the_file_and_line_of_each_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: int, message: str
) -> None:
    path = write(tmp_path, "broken.yaml", text)
    assert check(capsys, path) == (1, [f"{path}:{line}: {message}", "1 problem found"])


def test_check_reports_every_problem_of_every_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "a.yaml", "fixtures:\n  - name: a\n    match: {modle: x}\n    reply: {content: 1}\n")
    write(tmp_path, "b.yml", "fixtures:\n  - name: b\n    priority: high\n    match: {stream: maybe}\n    reply: {}\n")
    write(tmp_path, "notes.txt", "not a fixture file")
    assert check(capsys, tmp_path, tmp_path / "missing.yaml") == (1, [
        f"{tmp_path}/a.yaml:3: fixtures[0].match: unknown key 'modle' (did you mean 'model'?)",
        f"{tmp_path}/a.yaml:4: fixtures[0].reply.content: expected a string, got an integer (1)",
        f"{tmp_path}/b.yml:3: fixtures[0].priority: expected an integer, got a string ('high')",
        f"{tmp_path}/b.yml:4: fixtures[0].match.stream: expected true or false, got a string ('maybe')",
        f"{tmp_path}/missing.yaml: cannot read: No such file or directory",
        "5 problems found",
    ])


def test_check_passes_the_bundled_fixtures() -> None:
    result = run("check", REPO / "fixtures")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("ok: ")


def test_serve_refuses_a_broken_fixture_with_the_same_report(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yaml", "fixtures:\n  - name: a\n    match: {model: {regex: '('}}\n    reply: {}\n")
    result = run("serve", "--port", "0", "--fixtures", path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{path}:3: fixtures[0].match.model.regex: bad regex '(': missing ), unterminated subpattern at position 0",
        "The emulator did not start: mend the fixtures above.",
    ]
    assert "Traceback" not in result.stderr
