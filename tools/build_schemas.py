"""Build schemas/*.json from the official OpenAPI document.

    python tools/build_schemas.py [path/to/openai-openapi.yaml]

The spec defaults to ../shared/reference/openai-openapi.yaml, beside the repository.

Each output is a self-contained JSON Schema (draft 2020-12): every component it uses is
copied into its `$defs`. The response, chunk, error and model schemas are the spec's own, for
tests to check our output against. The request schema is what emulator/request_schema.py loads:
flattened into one object and tightened with the rules the spec leaves to prose, the seed's
parameter table and the live API's behaviour (see `tighten_request`).
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

Schema = dict[str, Any]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = ROOT.parent / "shared" / "reference" / "openai-openapi.yaml"
OUT_DIR = ROOT / "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
COMPONENTS = "#/components/schemas/"

REQUEST = "CreateChatCompletionRequest"
OUTPUTS = {
    "chat-completions.request.json": REQUEST,
    "chat-completions.response.json": "CreateChatCompletionResponse",
    "chat-completions.chunk.json": "CreateChatCompletionStreamResponse",
    "error.json": "ErrorResponse",
    "models.list.json": "ListModelsResponse",
    "model.json": "Model",
}

# Keywords holding one subschema, a list of them, or a map of name -> subschema. Knowing them
# keeps a property that happens to be called `description` or `title` from being dropped.
ONE = {"items", "additionalProperties", "unevaluatedProperties", "not", "propertyNames",
       "contains", "if", "then", "else"}
MANY = {"allOf", "anyOf", "oneOf", "prefixItems"}
NAMED = {"properties", "patternProperties", "$defs", "dependentSchemas"}
# OpenAPI annotations that validate nothing; dropped to keep the files small.
DROPPED = {"description", "title", "example", "examples", "discriminator", "externalDocs"}

NAME_PATTERN = "^[a-zA-Z0-9_-]+$"
# The order in which the live API lists roles in "Supported values are: ..." (protocol §8).
ROLE_ORDER = ("system", "assistant", "user", "function", "tool", "developer")
# Bounds from the seed's table and the spec's prose, stated here so a spec edit cannot drop them.
BOUNDS = {
    "n": {"minimum": 1, "maximum": 128},
    "temperature": {"minimum": 0, "maximum": 2},
    "top_p": {"minimum": 0, "maximum": 1},
    "frequency_penalty": {"minimum": -2, "maximum": 2},
    "presence_penalty": {"minimum": -2, "maximum": 2},
    "top_logprobs": {"minimum": 0, "maximum": 20},
}


def convert(node: Schema) -> Schema:
    """One OpenAPI schema object as JSON Schema 2020-12, its refs pointing into `$defs`."""
    out: Schema = {}
    for key, value in node.items():
        if key in DROPPED or key.startswith("x-") or key == "nullable":
            continue
        if key == "$ref":
            out[key] = "#/$defs/" + value.removeprefix(COMPONENTS)
        elif key in ONE and isinstance(value, dict):
            out[key] = convert(value)
        elif key in ("anyOf", "oneOf"):
            # The spec's oneOf branches are told apart by a discriminator or a type; anyOf says
            # the same without failing when a nullable branch overlaps the null we add.
            out["anyOf"] = list(union_branches(convert(branch) for branch in value))
        elif key in MANY:
            out[key] = [convert(branch) for branch in value]
        elif key in NAMED:
            out[key] = {name: convert(sub) for name, sub in value.items()}
        else:
            out[key] = value
    out = open_enum(out)
    return allow_null(out) if node.get("nullable") else out


def union_branches(branches: Iterable[Schema]) -> Iterator[Schema]:
    """`branches`, with a branch that is itself a bare union spliced in (`(A | B) | null`)."""
    for branch in branches:
        if set(branch) == {"anyOf"}:
            yield from branch["anyOf"]
        else:
            yield branch


def open_enum(schema: Schema) -> Schema:
    """The spec's "any string, these suggested" idiom (anyOf string | string enum) is a string."""
    branches = schema.get("anyOf")
    plain = {"type": "string"}
    if not branches or plain not in branches:
        return schema
    if not all(b == plain or (b.get("type") == "string" and "enum" in b) for b in branches):
        return schema
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**rest, **plain}


def accepts_null(schema: Schema) -> bool:
    """Whether `schema` says outright that null is allowed."""
    types = schema.get("type")
    if types == "null" or (isinstance(types, list) and "null" in types):
        return True
    return any(accepts_null(branch) for branch in schema.get("anyOf", ()))


def allow_null(schema: Schema) -> Schema:
    """`schema`, also accepting null (OpenAPI 3.0's `nullable: true`)."""
    if accepts_null(schema):
        return schema
    if isinstance(schema.get("type"), str):
        widened = {**schema, "type": [schema["type"], "null"]}
        if "enum" in schema:
            widened["enum"] = [*schema["enum"], None]
        return widened
    if "anyOf" in schema and not {"type", "enum", "const", "allOf", "not", "$ref"} & set(schema):
        return {**schema, "anyOf": [*schema["anyOf"], {"type": "null"}]}
    return {"anyOf": [schema, {"type": "null"}]}


def non_null(schema: Schema) -> Schema:
    """The one branch of `X | null` that is not null (or `schema` itself)."""
    branches = [b for b in schema.get("anyOf", ()) if b != {"type": "null"}]
    return branches[0] if len(branches) == 1 and len(schema["anyOf"]) == 2 else schema


def resolve(schema: Schema, defs: dict[str, Schema]) -> Schema:
    """Follow `$ref`s into `defs`."""
    while "$ref" in schema:
        schema = defs[schema["$ref"].removeprefix("#/$defs/")]
    return schema


def flatten(schema: Schema, defs: dict[str, Schema]) -> Schema:
    """An allOf of object schemas merged into one object schema; later declarations win.

    A property declared more than once accepts null if any declaration does: the spec declares
    top_logprobs three times, once non-nullable, and a literal allOf would reject
    `"top_logprobs": null`, which the SDKs send when the caller passes None.
    """
    if "allOf" not in schema:
        return schema
    merged: Schema = {"type": "object", "properties": {}, "required": []}
    for part in schema["allOf"]:
        part = flatten(resolve(part, defs), defs)
        for name, prop in part.get("properties", {}).items():
            earlier = merged["properties"].get(name)
            nullable = earlier is not None and accepts_null(earlier)
            merged["properties"][name] = allow_null(prop) if nullable else prop
        merged["required"] += [name for name in part.get("required", ())
                               if name not in merged["required"]]
    return merged


def subschemas(schema: Schema) -> Iterator[Schema]:
    """The schemas directly inside `schema`."""
    for key, value in schema.items():
        if key in ONE and isinstance(value, dict):
            yield value
        elif key in MANY:
            yield from value
        elif key in NAMED:
            yield from value.values()


def close_objects(schema: Schema) -> None:
    """Reject unknown keys wherever the spec lists the keys, as the live API does.

    The live API answers `Unknown parameter: 'messages[0].content[0].cache_control'.` and the
    like (protocol §2). Free-form objects (function parameters, metadata, logit_bias) declare no
    properties and stay open.
    """
    if "properties" in schema and "additionalProperties" not in schema:
        schema["additionalProperties"] = False
    for sub in subschemas(schema):
        close_objects(sub)


def accept_response_fields(assistant: Schema, response_message: Schema) -> None:
    """Let an assistant message carry the fields a response gave it (protocol §3).

    Sending `response.choices[0].message` back is the documented way to continue; the SDK
    then sends `annotations: []` and the response's `audio` object, and the live API takes them.
    A `model_dump()` of a reply without tool calls or annotations holds them as None.
    """
    sent_back = response_message["properties"]
    fields = assistant["properties"]
    fields["annotations"] = allow_null(sent_back["annotations"])
    fields["tool_calls"] = allow_null(fields["tool_calls"])
    non_null(fields["audio"])["properties"].update(non_null(sent_back["audio"])["properties"])


def tighten_request(request: Schema, defs: dict[str, Schema]) -> None:
    """Add the rules the spec states only in prose, or not at all, to the flat request schema."""
    props = request["properties"]
    for name, bounds in BOUNDS.items():
        non_null(props[name]).update(bounds)
    props["tools"].update(minItems=1, maxItems=128)  # live: empty_array, array_above_max_length
    non_null(defs["Metadata"]).update(
        maxProperties=16,
        propertyNames={"maxLength": 64},
        additionalProperties={"type": "string", "maxLength": 512},
    )
    tool_call_function = defs["ChatCompletionMessageToolCall"]["properties"]["function"]
    for function in (defs["FunctionObject"], defs["ChatCompletionFunctions"], tool_call_function):
        function["properties"]["name"].update(pattern=NAME_PATTERN, maxLength=64)
    json_schema = defs["ResponseFormatJsonSchema"]["properties"]["json_schema"]
    json_schema["properties"]["name"].update(pattern="^[a-zA-Z0-9_-]{1,64}$")

    def role(branch: Schema) -> str:
        return str(resolve(branch, defs)["properties"]["role"]["enum"][0])

    message = defs["ChatCompletionRequestMessage"]
    message["anyOf"].sort(key=lambda branch: ROLE_ORDER.index(role(branch)))
    # The live API answers a tool message without tool_call_id, and null content, with its older
    # message-level wording, so validation.py checks those after the schema (protocol §3).
    tool = defs["ChatCompletionRequestToolMessage"]
    tool["required"] = [name for name in tool["required"] if name != "tool_call_id"]
    for kind in ("System", "Developer", "User", "Tool"):
        fields = defs[f"ChatCompletionRequest{kind}Message"]["properties"]
        fields["content"] = allow_null(fields["content"])
    accept_response_fields(defs["ChatCompletionRequestAssistantMessage"],
                           defs["ChatCompletionResponseMessage"])
    close_objects(request)
    for schema in defs.values():
        close_objects(schema)


def refs(schema: Any) -> Iterator[str]:
    """The `$defs` names `schema` refers to directly."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref":
                yield value.removeprefix("#/$defs/")
            else:
                yield from refs(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from refs(item)


def bundle(root: Schema, defs: dict[str, Schema], name: str, version: str) -> Schema:
    """`root` with every definition it reaches, as one document."""
    used: dict[str, Schema] = {}
    pending = list(refs(root))
    while pending:
        ref = pending.pop()
        if ref not in used:
            used[ref] = defs[ref]
            pending.extend(refs(defs[ref]))
    document: Schema = {
        "$schema": DIALECT,
        "$comment": f"{name} from openai-openapi.yaml {version}; "
                    "generated by tools/build_schemas.py, do not edit.",
        **root,
    }
    if used:
        document["$defs"] = used
    return document


def build(spec: Schema) -> dict[str, Schema]:
    """File name -> schema document, for every output."""
    converted = {name: convert(node) for name, node in spec["components"]["schemas"].items()}
    version = spec["info"]["version"]
    documents = {}
    for filename, name in OUTPUTS.items():
        defs = copy.deepcopy(converted)
        root = defs[name]
        if name == REQUEST:
            root = flatten(root, defs)
            tighten_request(root, defs)
        documents[filename] = bundle(root, defs, name, version)
    return documents


def main(argv: list[str]) -> None:
    """Read the spec named on the command line (or the default) and write schemas/."""
    path = Path(argv[0]) if argv else DEFAULT_SPEC
    with path.open(encoding="utf-8") as handle:
        spec = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    for filename, document in build(spec).items():
        text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        (OUT_DIR / filename).write_text(text, encoding="utf-8")
        print(f"wrote schemas/{filename} ({len(text)} bytes)")


if __name__ == "__main__":
    main(sys.argv[1:])
