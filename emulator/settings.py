"""One frozen Settings object, from CLI flags and EMULATOR_* environment variables."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .models import DEFAULT_MODELS

ENV_PREFIX = "EMULATOR_"


@dataclass(frozen=True)
class Settings:
    """Everything a running emulator is configured with."""

    host: str = "127.0.0.1"
    port: int = 8000
    fixtures: tuple[Path, ...] = ()
    seed: int = field(default_factory=lambda: secrets.randbits(32))
    api_keys: tuple[str, ...] = ()  # empty: any non-empty key is accepted
    models: tuple[str, ...] = DEFAULT_MODELS
    accept_any_model: bool = True  # completions for models not in `models` are served too
    max_body_bytes: int = 10 * 1024 * 1024
    strict: bool = False
    journal_size: int = 1000
    log_level: str = "info"


def _split(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _truthy(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


# How each EMULATOR_* variable is read; the variable name is the field name in upper case.
_ENV_READERS: dict[str, Callable[[str], Any]] = {
    "host": str,
    "port": int,
    "fixtures": lambda v: tuple(Path(p) for p in _split(v)),
    "seed": int,
    "api_keys": _split,
    "models": _split,
    "accept_any_model": _truthy,
    "max_body_bytes": int,
    "strict": _truthy,
    "journal_size": int,
    "log_level": str,
}


def from_env(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from EMULATOR_* variables, then `overrides` (flags given on the command line)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}  # each of the type its field takes, by _ENV_READERS
    for name, read in _ENV_READERS.items():
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is not None and raw != "":
            try:
                values[name] = read(raw)
            except ValueError as exc:
                raise ValueError(f"{ENV_PREFIX}{name.upper()}={raw!r}: {exc}") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)
