"""The fixture format's three descriptions agree: the loader, the JSON Schema, the README."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from emulator import fixtures, located, matching, scripted
from emulator.app import Emulator
from emulator.located import Problems
from emulator.settings import Settings
from tests.seed_examples import SEED_BASIC, SEED_IMAGE, SEED_TOOLS
from tests.test_check import BROKEN

REPO = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((REPO / "schemas" / "fixtures.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def readme_examples() -> list[str]:
    """The YAML blocks of the README's Fixtures section."""
    section = (REPO / "README.md").read_text().split("\n## Fixtures\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)


def problems_of(text: str) -> list[str]:
    problems = Problems("example", located.load(text))
    fixtures.parse_document(problems, problems.root, "example")
    return problems.items


def test_the_readme_shows_each_feature_in_a_yaml_example() -> None:
    text = "".join(readme_examples())
    for key in (*matching.MATCH_KEYS, *scripted.REPLY_KEYS, "sequence", "priority", "times", "scenario",
                "when_state", "required_state", "new_state", "first_token_ms", "tokens_per_second",
                "jitter_ms", "tokens_per_chunk", "fail_times", "retry-after", "x-should-retry",
                "disconnect", "malformed", "after_chunks", "{{ last_user }}", "{{ model }}", "{{ tool_result }}"):
        assert key in text, key


@pytest.mark.parametrize("example", readme_examples(), ids=lambda text: text.split("name: ", 1)[1].split()[0])
def test_every_readme_example_loads_and_fits_the_schema(example: str) -> None:
    assert problems_of(example) == []
    assert [e.message for e in VALIDATOR.iter_errors(located.load(example))] == []


def test_the_bundled_fixtures_load_and_fit_the_schema() -> None:
    for path in (REPO / "fixtures").glob("*.yaml"):
        assert problems_of(path.read_text()) == []
        assert [e.message for e in VALIDATOR.iter_errors(located.load(path.read_text()))] == []


# What the schema cannot say: YAML syntax (it sees parsed data) and template variable names.
SCHEMA_BLIND = {"bad-yaml", "tab-indent", "duplicate-key", "bad-template"}


@pytest.mark.parametrize("text", [row[1] for row in BROKEN if row[0] not in SCHEMA_BLIND],
                         ids=[row[0] for row in BROKEN if row[0] not in SCHEMA_BLIND])
def test_the_schema_rejects_what_check_rejects(text: str) -> None:
    assert problems_of(text) != []
    assert not VALIDATOR.is_valid(located.load(text))


def _properties(definition: str) -> set[str]:
    return set(SCHEMA["$defs"][definition]["properties"])


def test_the_schema_and_the_loader_know_the_same_keys() -> None:
    assert _properties("entry") == set(fixtures.ENTRY_KEYS)
    assert _properties("match") == set(matching.MATCH_KEYS)
    assert _properties("reply") == set(scripted.REPLY_KEYS)
    assert _properties("tool_call") == set(scripted.TOOL_CALL_KEYS)
    reply = SCHEMA["$defs"]["reply"]["properties"]
    assert set(reply["latency"]["properties"]) == set(scripted.LATENCY_KEYS)
    assert set(reply["usage"]["properties"]) == set(scripted.USAGE_KEYS)
    assert set(reply["finish_reason"]["enum"]) == set(scripted.FINISH_REASONS)
    faults: Any = SCHEMA["$defs"]["fault"]["oneOf"]
    assert set().union(*(f["properties"] for f in faults)) == set(scripted.FAULT_KEYS)


def test_the_bundled_fixtures_leave_ordinary_requests_to_the_generator() -> None:
    emulator = Emulator(Settings(fixtures=(REPO / "fixtures",)))
    for body in (SEED_BASIC, SEED_IMAGE, SEED_TOOLS, {**SEED_BASIC, "stream": True}):
        assert emulator.answer(dict(body), {}, "req_test")[0].source == "generated"
    demo = {**SEED_BASIC, "model": "demo-echo"}
    assert emulator.answer(demo, {}, "req_test")[0].source == "fixture:demo-echo"
