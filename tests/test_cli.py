"""The command line: every option documented, every option settable from the environment."""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.cli import build_parser, settings_from_args
from emulator.settings import ENV_PREFIX, Settings, from_env

README = Path(__file__).resolve().parent.parent / "README.md"
COMMANDS = ("serve", "check", "record")
# Every variable the emulator reads: one per setting, and the worker count, which only serve uses.
VARIABLES = (*(ENV_PREFIX + f.name.upper() for f in dataclasses.fields(Settings)), "EMULATOR_WORKERS")


def _help(*args: str) -> str:
    command = [sys.executable, "-m", "emulator", *args, "--help"]
    result = subprocess.run(command, check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _command(name: str) -> argparse.ArgumentParser:
    (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    command: argparse.ArgumentParser = commands.choices[name]
    return command


def _options(name: str) -> list[str]:
    """The flags of a subcommand (the first spelling of each), --help aside."""
    return [a.option_strings[0] for a in _command(name)._actions if a.option_strings and a.dest != "help"]


def test_serve_help_documents_every_option_with_its_environment_variable() -> None:
    text = _help("serve")
    serve = _command("serve")
    for action in serve._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, action.option_strings
            assert action.option_strings[0] in text
    for variable in VARIABLES:
        assert variable in text


@pytest.mark.parametrize("name", COMMANDS)
def test_every_subcommand_help_documents_each_of_its_options_and_arguments(name: str) -> None:
    text = _help(name)
    for action in _command(name)._actions:
        if action.dest == "help":
            continue
        assert action.help, action.option_strings or action.dest
        assert (action.option_strings[0] if action.option_strings else str(action.metavar)) in text


def test_the_readme_shows_every_subcommand_flag_and_variable() -> None:
    text = README.read_text()
    section = text[text.index("## Running the server") : text.index("## Workers")]
    for name in COMMANDS:
        assert f"python -m emulator {name}" in section
        for flag in _options(name):
            assert flag in section, (name, flag)
    for variable in VARIABLES:
        assert variable in section


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
