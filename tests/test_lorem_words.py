"""Faker's lorem word lists, read from its source where they are literals, are the ones faker gives."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from emulator import generate

_SPEC = importlib.util.find_spec("faker")
assert _SPEC is not None and _SPEC.origin is not None
_LOREM = Path(_SPEC.origin).parent / "providers" / "lorem"
LOCALES = sorted(path.name for path in _LOREM.iterdir() if (path / "__init__.py").is_file())


@pytest.fixture(autouse=True)
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing kept yet: every test reads faker's source."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))


@pytest.mark.parametrize("locale", [*LOCALES, "pt_BR"])  # pt_BR has no lorem module: Latin, as in Faker
def test_words_read_from_the_source_are_fakers(locale: str) -> None:
    read = generate._lorem_source(locale)
    words, connector, punctuation = generate._lorem_module(locale)
    assert read is None or (tuple(read[0]), read[1], read[2]) == (tuple(words), connector, punctuation)


@pytest.mark.parametrize("locale", ["en_US", "fr_FR", "de_DE", "es_ES", "it_IT", "zh_CN", "ja_JP", "ru_RU", "la"])
def test_the_languages_replies_are_detected_in_are_read_from_the_source(locale: str) -> None:
    assert generate._lorem_source(locale) is not None


def test_words_once_read_are_kept_and_given_back(tmp_path: Path) -> None:
    read = generate._lorem_source("fr_FR")
    assert (tmp_path / "chat-emulator" / "lorem-fr_FR.json").is_file()
    assert generate._kept_lorem("lorem-fr_FR.json") == read


def test_kept_words_are_not_used_once_a_file_they_came_from_changed(tmp_path: Path) -> None:
    generate._lorem_source("fr_FR")
    kept = tmp_path / "chat-emulator" / "lorem-fr_FR.json"
    entry = json.loads(kept.read_text())
    entry["files"][1][1] += 1  # the locale's module, one byte longer than when it was read
    kept.write_text(json.dumps(entry))
    assert generate._kept_lorem("lorem-fr_FR.json") is None


def test_the_first_generated_text_does_not_import_faker() -> None:
    code = "import sys; from emulator.generate import lorem; lorem('en_US'); print('faker' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert result.stdout.strip() == "False"
