"""strict_schema_problem: one test per strict-mode rule, in the real API's words."""

from __future__ import annotations

import datetime
import enum
from typing import Any, Literal, cast

import pydantic
import pytest
from openai import pydantic_function_tool
from openai.lib._parsing._completions import type_to_response_format_param

from emulator.strict_schema import strict_schema_problem


def strict_object(**properties: Any) -> dict[str, Any]:
    """An object that obeys every rule, with these properties."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


STRING = {"type": "string"}


def test_a_strict_schema_passes() -> None:
    assert strict_schema_problem(strict_object(city=STRING, days={"type": "integer"})) is None


@pytest.mark.parametrize(
    ("schema", "got"),
    [
        ({"type": "array", "items": STRING}, "array"),
        ({"anyOf": [strict_object(a=STRING), strict_object(b=STRING)]}, "None"),
    ],
)
def test_the_root_must_be_an_object(schema: dict[str, Any], got: str) -> None:
    assert strict_schema_problem(schema) == (
        f"schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{got}\"'."
    )


def test_the_root_must_not_be_any_of() -> None:
    schema = {**strict_object(), "anyOf": [strict_object(a=STRING)]}
    assert strict_schema_problem(schema) == "In context=(), 'anyOf' is not permitted."


def test_every_object_needs_additional_properties_false() -> None:
    schema = {"type": "object", "properties": {"a": STRING}, "required": ["a"]}
    assert strict_schema_problem(schema) == (
        "In context=(), 'additionalProperties' is required to be supplied and to be false."
    )


def test_additional_properties_true_is_refused_below_the_root() -> None:
    inner = {**strict_object(a=STRING), "additionalProperties": True}
    assert strict_schema_problem(strict_object(inner=inner)) == (
        "In context=('properties', 'inner'), "
        "'additionalProperties' is required to be supplied and to be false."
    )


def test_every_property_must_be_required() -> None:
    organization = {**strict_object(name=STRING, roles={"type": "array", "items": STRING})}
    organization["required"] = ["name"]
    schema = strict_object(organizations={"type": "array", "items": organization})
    assert strict_schema_problem(schema) == (
        "In context=('properties', 'organizations', 'items'), 'required' is required to be "
        "supplied and to be an array including every key in properties. Missing 'roles'."
    )


def test_a_missing_required_list_names_the_first_property() -> None:
    schema = {"type": "object", "properties": {"a": STRING}, "additionalProperties": False}
    assert strict_schema_problem(schema) == (
        "In context=(), 'required' is required to be supplied and to be an array including "
        "every key in properties. Missing 'a'."
    )


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("minLength", 1),
        ("maxLength", 10),
        ("uniqueItems", True),
        ("default", "x"),
        ("propertyNames", STRING),
        ("patternProperties", {"^x": STRING}),
        ("allOf", [STRING]),
        ("oneOf", [STRING]),
        ("not", STRING),
    ],
)
def test_an_unsupported_keyword_is_not_permitted(keyword: str, value: Any) -> None:
    schema = strict_object(tags={"type": "string", keyword: value})
    assert strict_schema_problem(schema) == (
        f"In context=('properties', 'tags'), '{keyword}' is not permitted."
    )


def test_one_of_at_the_root_is_not_permitted() -> None:
    schema = {**strict_object(), "oneOf": [strict_object(a=STRING)]}
    assert strict_schema_problem(schema) == "In context=(), 'oneOf' is not permitted."


def test_supported_constraints_pass() -> None:
    schema = strict_object(
        code={"type": "string", "pattern": "^[A-Z]{3}$", "format": "date-time"},
        n={"type": "integer", "minimum": 1, "exclusiveMaximum": 9, "multipleOf": 2},
        items={"type": "array", "items": STRING, "minItems": 1, "maxItems": 3},
        kind={"type": "string", "enum": ["a", "b"], "title": "Kind", "description": "a kind"},
        fixed={"type": "string", "const": "x"},
    )
    assert strict_schema_problem(schema) is None


def test_a_ref_cannot_have_sibling_keywords() -> None:
    schema = {
        **strict_object(mode={"$ref": "#/$defs/Mode", "description": "how", "title": "Mode"}),
        "$defs": {"Mode": {"type": "string", "enum": ["on", "off"]}},
    }
    assert strict_schema_problem(schema) == (
        "In context=('properties', 'mode'), $ref cannot have keywords {'description', 'title'}."
    )


def test_a_schema_needs_a_type() -> None:
    assert strict_schema_problem(strict_object(ok={"description": "anything"})) == (
        "In context=('properties', 'ok'), schema must have a 'type' key."
    )


def test_an_untyped_const_needs_a_type() -> None:
    assert strict_schema_problem(strict_object(kind={"const": "fact"})) == (
        "In context=('properties', 'kind'), schema must have a 'type' key."
    )


def test_an_array_needs_items() -> None:
    assert strict_schema_problem(strict_object(output_channels={"type": "array"})) == (
        "In context=('properties', 'output_channels'), array schema missing items."
    )


def test_an_enum_value_must_have_the_declared_type() -> None:
    schema = strict_object(priority={"type": ["integer", "null"], "enum": [0, "high"]})
    assert strict_schema_problem(schema) == (
        "In context=('properties', 'priority'), "
        "enum value high does not validate against {'type': ['integer', 'null']}."
    )


def test_a_format_must_be_one_the_api_knows() -> None:
    assert strict_schema_problem(strict_object(url={"type": "string", "format": "uri"})) == (
        "In context=('properties', 'url'), 'uri' is not a valid format."
    )


@pytest.mark.parametrize(
    ("keyword", "value", "expected"),
    [
        ("properties", -(10**20), "an object"),
        ("$defs", 3, "an object"),
        ("anyOf", 4, "an array"),
        ("enum", None, "an array"),
        ("format", ["date"], "a string"),
        ("type", [{}], "a string or an array of strings"),
    ],
)
def test_a_keyword_of_the_wrong_json_type_is_a_problem_not_a_crash(keyword: str, value: Any, expected: str) -> None:
    schema = strict_object(a={"type": "string", keyword: value})
    assert strict_schema_problem(schema) == f"In context=('properties', 'a'), '{keyword}' must be {expected}."


def test_a_list_of_types_is_checked_at_each_type_index() -> None:
    summary = {"type": ["string", "object"], "properties": {}}
    assert strict_schema_problem(strict_object(summary=summary)) == (
        "In context=('properties', 'summary', 'type', '1'), "
        "'additionalProperties' is required to be supplied and to be false."
    )


def test_an_any_of_branch_is_checked_at_its_index() -> None:
    schema = strict_object(x={"anyOf": [{"type": "null"}, {"type": "object"}]})
    assert strict_schema_problem(schema) == (
        "In context=('properties', 'x', 'anyOf', '1'), "
        "'additionalProperties' is required to be supplied and to be false."
    )


def test_a_definition_is_checked_where_it_is_defined() -> None:
    schema = {**strict_object(a={"$ref": "#/$defs/A"}), "$defs": {"A": {"type": "object"}}}
    assert strict_schema_problem(schema) == (
        "In context=('$defs', 'A'), "
        "'additionalProperties' is required to be supplied and to be false."
    )


def test_a_recursive_schema_passes() -> None:
    schema = strict_object(name=STRING, children={"type": "array", "items": {"$ref": "#"}})
    assert strict_schema_problem(schema) is None


def test_objects_may_nest_ten_levels_deep() -> None:
    def nested(levels: int) -> dict[str, Any]:
        return (
            strict_object(leaf=STRING) if levels == 1 else strict_object(child=nested(levels - 1))
        )

    assert strict_schema_problem(nested(10)) is None
    problem = strict_schema_problem(nested(11))
    assert problem is not None
    assert problem.startswith("In context=('properties', 'child'") and "10 levels" in problem


def test_a_schema_may_have_five_thousand_properties() -> None:
    assert strict_schema_problem(strict_object(**{f"p{i}": STRING for i in range(5000)})) is None
    problem = strict_schema_problem(strict_object(**{f"p{i}": STRING for i in range(5001)}))
    assert problem is not None and "5001" in problem and "5000" in problem


# -- schemas the official SDK sends pass ------------------------------------------------------


class Colour(str, enum.Enum):
    RED = "red"
    GREEN = "green"


class Role(pydantic.BaseModel):
    title: str
    since: datetime.date


class Organization(pydantic.BaseModel):
    name: str
    roles: list[Role]
    colour: Colour = pydantic.Field(description="The brand colour")


class Profile(pydantic.BaseModel):
    name: str
    email: str
    age: int = pydantic.Field(ge=0, le=130)
    organizations: list[Organization]
    home: Role | None
    kind: Literal["person", "bot"]
    badge: Literal["staff"]
    manager: Profile | None = None
    nickname: str | None = None
    score: float


class GetWeather(pydantic.BaseModel):
    location: str = pydantic.Field(description="The city and state, e.g. San Francisco, CA")
    unit: Literal["celsius", "fahrenheit"] | None


def sdk_response_format(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    """What `client.chat.completions.parse(response_format=model)` sends as response_format."""
    return cast(dict[str, Any], type_to_response_format_param(model))


def test_the_sdk_response_format_for_a_pydantic_model_passes() -> None:
    json_schema = sdk_response_format(Profile)["json_schema"]
    assert json_schema["strict"] is True
    assert strict_schema_problem(json_schema["schema"]) is None


def test_the_sdk_strict_function_tool_passes() -> None:
    tool = pydantic_function_tool(GetWeather)
    assert tool["function"]["strict"] is True
    assert strict_schema_problem(tool["function"]["parameters"]) is None


def test_a_pydantic_default_is_refused_as_the_api_does() -> None:
    class WithDefault(pydantic.BaseModel):
        status: str = "open"

    schema = sdk_response_format(WithDefault)["json_schema"]["schema"]
    assert strict_schema_problem(schema) == (
        "In context=('properties', 'status'), 'default' is not permitted."
    )
