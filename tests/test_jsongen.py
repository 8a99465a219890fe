"""fake_json: every value validates, the same seed gives the same value, names read as real data."""

from __future__ import annotations

import datetime
import enum
import json
import math
import os
import random
import re
import subprocess
import sys
import time
import uuid
from typing import Any, Literal, cast

import jsonschema
import jsonschema_rs
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai import pydantic_function_tool
from openai.lib._parsing._completions import type_to_response_format_param

from emulator.jsongen import fake_json
from emulator.regexgen import matching

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

WEATHER = {
    "type": "object",
    "properties": {
        "location": {
            "type": "string",
            "description": "The city and state, e.g. San Francisco, CA",
        },
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["location", "unit"],
    "additionalProperties": False,
}


def assert_valid(schema: Any, value: Any) -> None:
    """Both validators agree: jsonschema's reporter and jsonschema-rs, formats checked by both.

    Draft 2020-12 unless the schema names another draft in `$schema`.
    """
    validator = jsonschema.validators.validator_for(schema, jsonschema.Draft202012Validator)
    validator(schema, format_checker=validator.FORMAT_CHECKER).validate(value)
    jsonschema_rs.validator_for(schema, validate_formats=True).validate(value)


DRAFT_4 = "http://json-schema.org/draft-04/schema#"
DRAFT_7 = "http://json-schema.org/draft-07/schema#"


# -- a strategy for satisfiable schemas --------------------------------------------------------

NAMES = ["location", "email", "name", "city", "phone", "url", "date", "price", "query", "id", "x"]
FORMATS = ["date", "date-time", "time", "email", "uri", "uuid", "ipv4", "ipv6", "hostname"]
PATTERNS = [
    r"^[A-Z]{3}-\d{4}$",
    r"colou?r",
    r"^(foo|bar)\d*$",
    r"^\+?[0-9]{7,12}$",
    r"^#[0-9a-f]{6}$",
    r"^[a-z]+(_[a-z]+)*$",
    r"\bcat\b",
]


@st.composite
def strings(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["plain", "format", "pattern", "enum"]))
    if kind == "format":
        return {"type": "string", "format": draw(st.sampled_from(FORMATS))}
    if kind == "pattern":
        return {"type": "string", "pattern": draw(st.sampled_from(PATTERNS))}
    if kind == "enum":
        values = st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=4, unique=True)
        return {"type": "string", "enum": draw(values)}
    low = draw(st.integers(0, 20))
    schema: dict[str, Any] = {"type": "string", "minLength": low}
    if draw(st.booleans()):
        schema["maxLength"] = low + draw(st.integers(0, 30))
    return schema


@st.composite
def numbers(draw: st.DrawFn) -> dict[str, Any]:
    integer = draw(st.booleans())
    step = draw(st.sampled_from([None, 2, 5] if integer else [None, 0.5, 0.25, 0.1, 0.01]))
    low = draw(st.integers(-1000, 1000))
    width = draw(st.integers(3 * math.ceil(step or 1), 500))
    schema: dict[str, Any] = {"type": "integer" if integer else "number"}
    if step:
        schema["multipleOf"] = step
    ends = draw(st.sampled_from(["none", "min", "max", "both", "exclusive"]))
    if ends in ("min", "both"):
        schema["minimum"] = low
    if ends in ("max", "both"):
        schema["maximum"] = low + width
    if ends == "exclusive":
        schema.update(exclusiveMinimum=low, exclusiveMaximum=low + width)
    return schema


SCALARS = st.one_of(
    strings(),
    numbers(),
    st.just({"type": "boolean"}),
    st.just({"type": "null"}),
    st.builds(lambda v: {"const": v}, st.one_of(st.integers(), st.text(max_size=5), st.none())),
)
# Items that can fill a uniqueItems array of up to four.
UNIQUE_ITEMS = st.one_of(
    st.just({"type": "string"}),
    st.just({"type": "integer", "minimum": 0, "maximum": 50}),
    st.just({"type": "string", "enum": ["a", "b", "c", "d"]}),
    st.just({"type": ["boolean", "null"]}),
)


def composites(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(objects(children), arrays(children), unions(children), allofs(children))


@st.composite
def objects(draw: st.DrawFn, children: st.SearchStrategy[Any]) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=0, max_size=4, unique=True))
    props = {n: draw(children) for n in names}
    schema: dict[str, Any] = {"type": "object", "properties": props}
    schema["required"] = [n for n in names if draw(st.booleans())]
    extra = draw(st.sampled_from(["absent", "false", "true", "schema", "patterns"]))
    if extra == "false":
        schema["additionalProperties"] = False
    elif extra == "true":
        schema["additionalProperties"] = True
    elif extra == "schema":
        schema["additionalProperties"] = draw(SCALARS)
    elif extra == "patterns":
        schema.update(patternProperties={"^x_": draw(SCALARS)}, additionalProperties=False)
    if draw(st.booleans()):
        limit = len(props) if extra == "false" else len(props) + 2
        schema["minProperties"] = draw(st.integers(0, limit))
    if draw(st.booleans()) and names:
        schema["dependentRequired"] = {names[0]: names[-1:]}
    return schema


@st.composite
def arrays(draw: st.DrawFn, children: st.SearchStrategy[Any]) -> dict[str, Any]:
    low = draw(st.integers(0, 3))
    schema: dict[str, Any] = {
        "type": "array",
        "minItems": low,
        "maxItems": low + draw(st.integers(0, 2)),
    }
    form = draw(st.sampled_from(["items", "unique", "tuple", "open tuple", "contains"]))
    if form == "items":
        schema["items"] = draw(children)
    elif form == "unique":
        schema.update(
            items=draw(UNIQUE_ITEMS), uniqueItems=True, maxItems=min(schema["maxItems"], 4)
        )
    elif form == "contains":
        schema.update(items={"type": "integer"}, contains={"type": "integer", "minimum": 90})
        schema["minItems"] = schema["maxItems"] = max(1, low)
    else:
        prefix = draw(st.lists(children, min_size=1, max_size=3))
        schema.update(prefixItems=prefix, items=False if form == "tuple" else draw(children))
        if form == "tuple":
            schema.update(minItems=min(low, len(prefix)), maxItems=len(prefix))
    return schema


@st.composite
def unions(draw: st.DrawFn, children: st.SearchStrategy[Any]) -> dict[str, Any]:
    kind = draw(st.sampled_from(["anyOf", "oneOf", "nullable", "not"]))
    if kind == "anyOf":
        return {"anyOf": draw(st.lists(children, min_size=1, max_size=3))}
    if kind == "oneOf":  # one branch per type, so that exactly one can match
        types = draw(
            st.lists(
                st.sampled_from(["string", "integer", "boolean", "null", "array"]),
                min_size=1,
                max_size=3,
                unique=True,
            )
        )
        return {"oneOf": [{"type": t} for t in types]}
    if kind == "not":
        return {"type": "integer", "minimum": 0, "maximum": 3, "not": {"const": 2}}
    child = draw(st.one_of(strings(), numbers(), objects(children)))
    return {**child, "type": [child["type"], "null"]}


@st.composite
def allofs(draw: st.DrawFn, children: st.SearchStrategy[Any]) -> dict[str, Any]:
    if draw(st.booleans()):
        first, second = draw(children), draw(children)
        return {
            "allOf": [
                {"type": "object", "properties": {"a": first}, "required": ["a"]},
                {"properties": {"b": second}, "required": ["b"]},
            ]
        }
    low = draw(st.integers(-50, 50))
    return {
        "allOf": [{"type": "integer", "minimum": low}, {"maximum": low + 10}, {"multipleOf": 1}]
    }


SCHEMAS = st.recursive(SCALARS, composites, max_leaves=10)


@st.composite
def documents(draw: st.DrawFn) -> Any:
    """A root schema: a bare schema, one behind `$defs`/`definitions`, or a recursive tree."""
    child = draw(SCHEMAS)
    shape = draw(st.sampled_from(["bare", "$defs", "definitions", "tree", "root recursion"]))
    if shape == "bare":
        return child
    if shape in ("$defs", "definitions"):
        return {
            shape: {"Thing": child},
            "type": "object",
            "required": ["thing"],
            "properties": {"thing": {"$ref": f"#/{shape}/Thing", "description": "it"}},
        }
    if shape == "tree":
        node = {
            "type": "object",
            "required": ["label", "children"],
            "properties": {
                "label": child,
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
            },
        }
        return {"$defs": {"Node": node}, "$ref": "#/$defs/Node"}
    return {
        "type": "object",
        "properties": {"value": child, "next": {"anyOf": [{"$ref": "#"}, {"type": "null"}]}},
        "required": ["value", "next"],
    }


@FAST
@given(documents(), st.integers(0, 2**32))
def test_every_value_validates(schema: Any, seed: int) -> None:
    assert_valid(schema, fake_json(schema, random.Random(seed)))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), st.integers(0, 2**32))
def test_the_same_seed_gives_the_same_value(schema: Any, seed: int) -> None:
    assert fake_json(schema, random.Random(seed)) == fake_json(schema, random.Random(seed))


def test_a_value_does_not_depend_on_the_process() -> None:
    code = (
        "import json, random; from emulator.jsongen import fake_json; "
        f"print(json.dumps(fake_json(json.loads({json.dumps(WEATHER)!r}), random.Random(5))))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for hash_seed in ("1", "2")
    }
    assert outputs == {json.dumps(fake_json(WEATHER, random.Random(5))) + "\n"}


def test_different_seeds_give_different_values() -> None:
    values = {json.dumps(fake_json(WEATHER, random.Random(seed))) for seed in range(10)}
    assert len(values) > 5


# -- realistic values --------------------------------------------------------------------------


def fake(name: str, schema: dict[str, Any], seed: int = 0) -> Any:
    document = {"type": "object", "properties": {name: schema}, "required": [name]}
    value = fake_json(document, random.Random(seed))[name]
    assert_valid(schema, value)
    return value


@pytest.mark.parametrize("seed", range(5))
def test_a_weather_location_reads_like_a_place(seed: int) -> None:
    value = fake_json(WEATHER, random.Random(seed))
    assert re.fullmatch(r"[A-Z][A-Za-z .'-]+, [A-Z]{2}", value["location"])
    assert value["unit"] in ("celsius", "fahrenheit")
    assert "lorem" not in value["location"].lower()


@pytest.mark.parametrize(
    ("name", "looks_right"),
    [
        ("email", lambda v: re.fullmatch(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", v)),
        ("customerEmail", lambda v: "@" in v),
        ("name", lambda v: len(v.split()) >= 2 and all(w[0].isupper() for w in v.split())),
        ("url", lambda v: re.match(r"https?://[\w.-]+", v)),
        ("website", lambda v: v.startswith("http")),
        ("phone_number", lambda v: len(re.findall(r"\d", v)) >= 7),
        ("date", lambda v: datetime.date.fromisoformat(v)),
        ("created_at", lambda v: datetime.datetime.fromisoformat(v)),
        ("id", lambda v: uuid.UUID(v)),
        ("country", lambda v: v[0].isupper()),
        ("city", lambda v: v[0].isupper() and "lorem" not in v.lower()),
        ("query", lambda v: " " in v and v[0].isupper()),
        ("description", lambda v: v.endswith(".") and len(v.split()) >= 3),
        ("tags", lambda v: re.fullmatch(r"[a-z]+", v)),
    ],
)
def test_a_string_reads_like_its_name(name: str, looks_right: Any) -> None:
    for seed in range(3):
        assert looks_right(fake(name, {"type": "string"}, seed)), name


def test_a_description_names_the_thing_when_the_key_does_not() -> None:
    value = fake("loc", {"type": "string", "description": "Email address of the buyer"})
    assert "@" in value


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("price", 1, 500),
        ("amount", 1, 500),
        ("age", 18, 80),
        ("latitude", -90, 90),
        ("year", 1990, 2030),
    ],
)
def test_a_number_is_plausible_for_its_name(name: str, low: float, high: float) -> None:
    for seed in range(5):
        value = fake(name, {"type": "number"}, seed)
        assert low <= value <= high
        assert round(value, 4) == value


def test_a_name_hint_gives_way_to_the_schema_bounds() -> None:
    assert fake("price", {"type": "number", "minimum": 1000, "maximum": 1010}) >= 1000
    assert fake("age", {"type": "integer", "minimum": 200}) >= 200


def test_text_respects_length_limits() -> None:
    assert len(fake("description", {"type": "string", "maxLength": 10})) <= 10
    assert len(fake("x", {"type": "string", "minLength": 300})) >= 300


def test_a_typical_tool_schema_takes_well_under_a_millisecond() -> None:
    fake_json(WEATHER, random.Random(0))  # Faker builds some tables on first use
    start = time.perf_counter()
    for seed in range(200):
        fake_json(WEATHER, random.Random(seed))
    assert (time.perf_counter() - start) / 200 < 0.001


# -- keywords, one at a time -------------------------------------------------------------------


@pytest.mark.parametrize(
    "schema",
    [
        {"oneOf": [{"type": "integer"}, {"type": "number"}]},  # so: a number with a fraction
        {"type": "string", "not": {"enum": ["a", "b"]}, "maxLength": 1},
        {"not": {"type": "string"}},
        {"type": "object", "propertyNames": {"pattern": "^[a-z]{3}$"}, "minProperties": 2},
        {"type": "array", "items": {"type": "number"}, "uniqueItems": True, "minItems": 3},
        {"type": "array", "items": {"type": "integer"}, "contains": {"const": 7}, "minContains": 2},
        {
            "$schema": DRAFT_4,
            "type": "number",
            "minimum": 0,
            "exclusiveMinimum": True,
            "maximum": 1,
        },
        {"type": "number", "multipleOf": 0.01, "minimum": 0.3, "maximum": 0.4},
        {"type": "integer", "multipleOf": 7, "minimum": 1000},
        {"$schema": DRAFT_7, "type": "array", "items": [{"type": "string"}, {"type": "integer"}]},
        {"definitions": {"A": {"type": "string", "format": "uuid"}}, "$ref": "#/definitions/A"},
        {"allOf": [{"type": "string", "minLength": 2}, {"pattern": "^a"}, {"maxLength": 4}]},
        {"anyOf": [{"type": "string", "maxLength": 0}, {"type": "integer"}], "minLength": 1},
        {
            "type": "object",
            "dependentRequired": {"a": ["b"]},
            "required": ["a"],
            "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
        },
        {"type": "object", "additionalProperties": {"type": "integer"}, "maxProperties": 1},
        {"type": ["integer", "string"], "minimum": 5, "minLength": 5},
        {"enum": [1, "one", None, [1]]},
        {},
        True,
    ],
)
def test_a_keyword_is_honoured(schema: Any) -> None:
    for seed in range(5):
        assert_valid(schema, fake_json(schema, random.Random(seed)))


# Two branches, each needing two more of itself: the search tree doubles at every level.
BRANCHING_WITHOUT_END = {
    "$defs": {
        "A": {"anyOf": [{"type": "array", "items": {"$ref": "#/$defs/A"}, "minItems": 2}] * 2}
    },
    "$ref": "#/$defs/A",
}


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "integer", "minimum": 5, "maximum": 4}, "no integer lies between 5 and 4"),
        ({"type": "integer", "exclusiveMinimum": 1, "exclusiveMaximum": 2}, "no integer lies"),
        ({"type": "string", "minLength": 3, "maxLength": 2}, "minLength 3 exceeds maxLength 2"),
        ({"type": "string", "pattern": "^[a-z]{3}$", "minLength": 5}, "matching pattern"),
        ({"type": "string", "enum": [1, 2]}, r"none of \[1, 2\] has the type 'string'"),
        (
            {"type": "object", "required": ["a"], "additionalProperties": False},
            "property 'a' is required but additionalProperties is false",
        ),
        ({"type": "object", "minProperties": 1, "additionalProperties": False}, "minProperties"),
        (
            {"type": "array", "items": {"enum": ["a", "b"]}, "uniqueItems": True, "minItems": 3},
            "needs 3 items but allows at most 2",
        ),
        (
            {"type": "array", "prefixItems": [{"type": "string"}], "items": False, "minItems": 2},
            "needs 2 items but allows at most 1",
        ),
        ({"oneOf": [{"type": "string"}, {"type": "string"}]}, "exactly one branch"),
        ({"allOf": [{"type": "string"}, {"type": "integer"}]}, "allOf requires a value of type"),
        ({"allOf": [{"const": 1}, {"const": 2}]}, "both const 1 and const 2"),
        ({"not": {}}, "'not'"),
        (
            {"type": "object", "properties": {"next": {"$ref": "#"}}, "required": ["next"]},
            "nests deeper than 40 levels",
        ),
        (BRANCHING_WITHOUT_END, "steps for one value"),
        ({"$ref": "#/$defs/Missing"}, "points nowhere"),
        ({"$ref": "https://example.com/schema.json"}, "is not local"),
        ({"type": "wat"}, "unknown type 'wat'"),
        (False, "admits no value"),
    ],
)
def test_an_unsatisfiable_schema_raises_a_clear_value_error(schema: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fake_json(schema, random.Random(0))


def test_recursion_ends() -> None:
    schema = {
        "$defs": {
            "Node": {
                "type": "object",
                "required": ["children"],
                "properties": {
                    "children": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/Node"}}
                },
            }
        },
        "anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}],
    }
    # Every Node needs a child, so only null ends the recursion.
    assert all(fake_json(schema, random.Random(seed)) is None for seed in range(5))


# -- pydantic models through the SDK's own schema conversion -----------------------------------


class Colour(str, enum.Enum):
    RED = "red"
    GREEN = "green"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Address(pydantic.BaseModel):
    street: str
    city: str
    zip_code: str | None


class Person(pydantic.BaseModel):
    name: str
    email: str
    age: int = pydantic.Field(ge=0, le=130)
    favourite: Colour = pydantic.Field(description="The colour they like best")
    priority: Priority
    addresses: list[Address]
    home: Address = pydantic.Field(description="Where they live")
    manager: Person | None = None
    kind: Literal["employee", "contractor"]
    badge: Literal["staff"]
    born: datetime.date
    updated_at: datetime.datetime
    score: float
    nickname: str | None = None


class GetWeather(pydantic.BaseModel):
    location: str = pydantic.Field(description="The city and state, e.g. San Francisco, CA")
    unit: Literal["celsius", "fahrenheit"] | None


def sdk_schema(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    """The schema `client.chat.completions.parse(response_format=model)` sends."""
    response_format = cast(dict[str, Any], type_to_response_format_param(model))
    return cast(dict[str, Any], response_format["json_schema"]["schema"])


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32))
def test_a_response_format_model_parses_what_is_generated(seed: int) -> None:
    schema = sdk_schema(Person)
    Person.model_validate_json(json.dumps(fake_json(schema, random.Random(seed))))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32))
def test_a_strict_function_tool_parses_what_is_generated(seed: int) -> None:
    tool = pydantic_function_tool(GetWeather)
    arguments = fake_json(tool["function"]["parameters"], random.Random(seed))
    GetWeather.model_validate_json(json.dumps(arguments))


# -- strings from patterns ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "low", "high"),
    [
        (r"^[A-Z]{3}-\d{4}$", 0, 100),
        (r"^[a-z]+$", 10, 12),
        (r"[a-z]", 5, 8),
        (r"\bcat\b", 10, 10),
        (r"^(\d+)-\1$", 0, 100),
        (r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", 0, 100),
        (r"^(?=.*\d)[a-z\d]{6,}$", 0, 100),
        (r"(?i)^hello$", 0, 100),
        (r"^[а-я]+$", 0, 100),
        (r"^(foo|bar)?baz{2,}$", 0, 100),
    ],
)
def test_a_pattern_gives_a_matching_string(pattern: str, low: int, high: int) -> None:
    rng = random.Random(0)
    for _ in range(10):
        text = matching(pattern, rng, low, high)
        assert re.search(pattern, text) and low <= len(text) <= high, text


def test_an_invalid_pattern_raises_value_error() -> None:
    with pytest.raises(ValueError, match="invalid pattern"):
        matching("(", random.Random(0))
