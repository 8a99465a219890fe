"""The command line: every option documented, every option settable from the environment."""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.cli import build_parser, settings_from_args
from emulator.settings import Settings, from_env


def _help(*args: str) -> str:
    command = [sys.executable, "-m", "emulator", *args, "--help"]
    result = subprocess.run(command, check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_serve_help_documents_every_option_with_its_environment_variable() -> None:
    text = _help("serve")
    (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    serve = commands.choices["serve"]
    for action in serve._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, action.option_strings
            assert action.option_strings[0] in text
    for variable in ("EMULATOR_HOST", "EMULATOR_PORT", "EMULATOR_FIXTURES", "EMULATOR_SEED", "EMULATOR_API_KEYS"):
        assert variable in text


def test_every_setting_can_come_from_the_environment() -> None:
    names = {f.name for f in dataclasses.fields(Settings)}
    environ = {
        "EMULATOR_HOST": "127.0.0.2", "EMULATOR_PORT": "9001", "EMULATOR_FIXTURES": "a.yaml, b",
        "EMULATOR_SEED": "42", "EMULATOR_API_KEYS": "k1,k2", "EMULATOR_MODELS": "m1",
        "EMULATOR_ACCEPT_ANY_MODEL": "false", "EMULATOR_MAX_BODY_BYTES": "99", "EMULATOR_STRICT": "1",
        "EMULATOR_JOURNAL_SIZE": "5", "EMULATOR_LOG_LEVEL": "debug",
    }
    assert {v.removeprefix("EMULATOR_").lower() for v in environ} == names
    settings = from_env(environ)
    assert settings == Settings(
        host="127.0.0.2", port=9001, fixtures=(Path("a.yaml"), Path("b")), seed=42, api_keys=("k1", "k2"),
        models=("m1",), accept_any_model=False, max_body_bytes=99, strict=True, journal_size=5, log_level="debug",
    )


def test_flags_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMULATOR_PORT", "9001")
    monkeypatch.setenv("EMULATOR_SEED", "1")
    args = build_parser().parse_args(["serve", "--port", "9002", "--api-key", "a", "--api-key", "b"])
    settings = settings_from_args(args)
    assert (settings.port, settings.seed, settings.api_keys) == (9002, 1, ("a", "b"))


def test_defaults_bind_loopback_on_8000() -> None:
    settings = from_env({})
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)


def test_a_bad_environment_value_is_a_usage_error_not_a_traceback() -> None:
    env = {"EMULATOR_PORT": "eighty", "PATH": ""}
    command = [sys.executable, "-m", "emulator", "serve"]
    result = subprocess.run(command, check=False, capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert "EMULATOR_PORT='eighty'" in result.stderr and "Traceback" not in result.stderr
