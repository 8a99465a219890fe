"""A strict schema's finding is kept by the schema's JSON; every schema a body can hold is still
checked, the ones orjson cannot write (integers past 64 bits) too."""

from __future__ import annotations

import json
from typing import Any

import pytest

from emulator.errors import OpenAIError
from emulator.strict_schema import strict_schema_problem
from emulator.validation import parse_body, validate_request

HUGE = 2**70  # past 64 bits: orjson cannot write it, json can


def strict_format(schema: dict[str, Any]) -> dict[str, Any]:
    """A request whose strict response_format takes `schema`."""
    return {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Hello"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "out", "strict": True, "schema": schema}},
    }


def rejection(body: dict[str, Any]) -> str:
    with pytest.raises(OpenAIError) as caught:
        validate_request(body)
    return caught.value.message


@pytest.mark.parametrize("bound", [10, HUGE])
def test_a_schema_strict_mode_refuses_is_refused_with_its_finding(bound: int) -> None:
    schema = {"type": "integer", "maximum": bound}
    expected = f"Invalid schema for response_format 'out': {strict_schema_problem(schema)}"
    assert rejection(strict_format(schema)) == expected
    assert rejection(strict_format(schema)) == expected  # and again, from what was kept


def test_a_schema_with_a_huge_integer_that_strict_mode_takes_is_accepted() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "maximum": HUGE}},
              "required": ["n"], "additionalProperties": False}
    validate_request(parse_body(json.dumps(strict_format(schema)).encode(), "application/json"))
