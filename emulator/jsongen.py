"""Fake JSON that validates against a JSON Schema and reads like real data.

One walk over the schema: `$ref` and `allOf` are merged into one flat schema first, then
`const`/`enum` answer directly, `anyOf`/`oneOf` pick a branch, and one builder per type makes
the value. Scalars come from `fakers` (guided by the property name) and `regexgen`. Keywords
that cannot be built directly (`oneOf`'s "exactly one", `not`, `allOf` parts that do not
merge) are generated and then checked with jsonschema-rs, a bounded number of times.

Not supported: remote `$ref`s, `$dynamicRef`, `if`/`then`/`else`, `dependentSchemas`,
`unevaluated*`, `maxContains`. In `allOf`, two different `pattern`s are generated from the
first and then checked (so usually fail), and parts that each close an object with
`additionalProperties: false` are merged as if only one did.
"""

from __future__ import annotations

import copy
import math
import random
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from emulator import fakers, regexgen, schemaops

__all__ = ["fake_json"]

_SOFT_DEPTH = 5  # from this nesting on, optional parts are left out so recursive schemas end
_HARD_DEPTH = 40  # a value nested this deep means the schema has no finite instance
_BUDGET = 20_000  # subschemas visited per value: stops recursion that branches out
_ATTEMPTS = 30  # tries for keywords that are generated, then checked
_TYPES = ("string", "integer", "number", "boolean", "object", "array", "null")


def fake_json(
    schema: Mapping[str, Any], rng: random.Random, *, name: str | None = None, locale: str = fakers.DEFAULT_LOCALE
) -> Any:
    """A value that validates against `schema`, realistic where property names say what it is.

        >>> fake_json({"type": "object", "required": ["email"],
        ...            "properties": {"email": {"type": "string"}}}, random.Random(7))
        {'email': 'maria92@example.com'}

    The same schema and rng state give the same value. `name` names the value itself (a tool's
    or a response format's name). Names, places and prose are in `locale` (a Faker locale, such
    as the request's language); emails, URLs and codes stay ASCII. Raises ValueError when no
    value fits the schema.
    """
    fakers.seed(rng, locale)
    return _Generator(schema, rng).value(schema, name, 0)


class _Exhausted(ValueError):
    """The schema asks for more work than a value is worth; never retried."""


class _Generator:
    """One value's worth of state: the root for `$ref`, the rng, the work budget."""

    def __init__(self, root: Mapping[str, Any], rng: random.Random) -> None:
        self.root = root
        self.rng = rng
        self.budget = _BUDGET
        self.checker = schemaops.PartChecker(root)

    # -- dispatch ---------------------------------------------------------------------------

    def value(self, schema: Any, name: str | None, depth: int) -> Any:
        """A value for `schema` at nesting `depth`."""
        if depth > _HARD_DEPTH:
            raise ValueError(f"the schema nests deeper than {_HARD_DEPTH} levels without end")
        flat, unmerged = self.flatten(schema)
        if "not" in flat:
            unmerged.append({"not": flat.pop("not")})
        if not unmerged:
            return self.build(flat, name, depth, 0)
        return self.until(
            lambda attempt: self.build(flat, name, depth, attempt),
            lambda v: all(self.checker.is_valid(v, part) for part in unmerged),
            "'not' and the allOf parts that do not merge",
        )

    def build(self, schema: dict[str, Any], name: str | None, depth: int, attempt: int) -> Any:
        if "const" in schema:
            return copy.deepcopy(self.typed_options(schema, [schema["const"]])[0])
        if "enum" in schema:
            return copy.deepcopy(self.rng.choice(self.typed_options(schema, schema["enum"])))
        if "anyOf" in schema:
            return self.any_of(schema, name, depth)
        if "oneOf" in schema:
            return self.one_of(schema, name, depth)
        kind = self.pick_type(schema, depth, attempt)
        if kind not in _BUILDERS:
            raise ValueError(f"unknown type {kind!r}")
        return _BUILDERS[kind](self, schema, name, depth)

    def pick_type(self, schema: Mapping[str, Any], depth: int, attempt: int) -> str:
        types = schemaops.types(schema)
        if not types:  # anything goes: text reads best, retries (for 'not') walk the rest
            return _TYPES[attempt % len(_TYPES)]
        nullable = "null" in types
        if nullable and (len(types) == 1 or self.rng.random() < _null_odds(depth)):
            return "null"
        solid = [t for t in types if t != "null"]
        return solid[(self.rng.randrange(len(solid)) + attempt) % len(solid)]

    # -- $ref and allOf ---------------------------------------------------------------------

    def flatten(self, schema: Any) -> tuple[dict[str, Any], list[Any]]:
        """`schema` with its `$ref`s and `allOf` merged in, and the parts that would not merge."""
        merged: dict[str, Any] = {}
        unmerged: list[Any] = []
        parts = [schema]
        while parts:
            part = parts.pop(0)
            self.spend()
            if part is True:
                continue
            if part is False:
                raise ValueError("the schema false admits no value")
            if not isinstance(part, Mapping):
                raise ValueError(f"{part!r} is not a JSON Schema")  # noqa: TRY004 (our contract)
            if "$ref" in part:
                parts.append(self.deref(part["$ref"]))
            parts.extend(part.get("allOf", ()))
            for key, value in part.items():
                if key not in ("$ref", "allOf"):
                    schemaops.merge_keyword(merged, key, value, unmerged)
        return merged, unmerged

    def deref(self, ref: str) -> Any:
        if not ref.startswith("#"):
            raise ValueError(f"$ref {ref!r} is not local; only '#/...' references are supported")
        node: Any = self.root
        for token in filter(None, unquote(ref[1:]).split("/")):
            token = token.replace("~1", "/").replace("~0", "~")
            try:
                node = node[int(token)] if isinstance(node, list) else node[token]
            except (KeyError, IndexError, ValueError, TypeError):
                raise ValueError(f"$ref {ref!r} points nowhere in the schema") from None
        return node

    def spend(self) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise _Exhausted(f"the schema needs more than {_BUDGET} steps for one value")

    # -- anyOf, oneOf, enum -----------------------------------------------------------------

    def any_of(self, schema: dict[str, Any], name: str | None, depth: int) -> Any:
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        return self.first_branch(schema["anyOf"], rest, name, depth, lambda v, b: True)

    def one_of(self, schema: dict[str, Any], name: str | None, depth: int) -> Any:
        rest = {k: v for k, v in schema.items() if k != "oneOf"}
        branches = schema["oneOf"]

        def alone(value: Any, chosen: Any) -> bool:
            return not any(self.checker.is_valid(value, b) for b in branches if b is not chosen)

        # first_branch raises when every branch's value also matched another: draw again.
        return self.until(
            lambda _: self.first_branch(branches, rest, name, depth, alone),
            lambda v: True,
            "oneOf (a value matching exactly one branch)",
        )

    def first_branch(
        self,
        branches: list[Any],
        rest: dict[str, Any],
        name: str | None,
        depth: int,
        accept: Callable[[Any, Any], bool],
    ) -> Any:
        """A value from the first branch (in a random, recursion-aware order) that works."""
        problem = ValueError("no branch admits a value")
        for branch in self.order(branches, depth):
            try:
                value = self.value({"allOf": [rest, branch]}, name, depth)
            except _Exhausted:
                raise
            except ValueError as exc:  # an impossible branch; the next one may do
                problem = exc
                continue
            if accept(value, branch):
                return value
            problem = ValueError("each branch's value matched another branch too")
        raise problem

    def order(self, branches: list[Any], depth: int) -> list[Any]:
        """Branches to try: deep down the ones that end recursion first, else shuffled."""
        if depth >= _SOFT_DEPTH:
            return sorted(branches, key=schemaops.recursion_risk)
        shuffled = self.rng.sample(branches, len(branches))
        odds = _null_odds(depth)
        return sorted(shuffled, key=lambda b: schemaops.is_null(b) and self.rng.random() >= odds)

    def typed_options(self, schema: Mapping[str, Any], options: list[Any]) -> list[Any]:
        """The `options` (enum or const values) that have the schema's declared type."""
        declared = schema.get("type")
        if declared is None:
            return options
        types = schemaops.as_list(declared)
        typed = [v for v in options if any(schemaops.is_type(v, t) for t in types)]
        if not typed:
            raise ValueError(f"none of {options!r} has the type {declared!r}")
        return typed

    def until(self, make: Callable[[int], Any], ok: Callable[[Any], bool], what: str) -> Any:
        """The first of a few generated values that passes `ok`."""
        problem: ValueError | None = None
        for attempt in range(_ATTEMPTS):
            try:
                value = make(attempt)
            except _Exhausted:
                raise
            except ValueError as exc:
                problem = exc
                continue
            if ok(value):
                return value
        raise ValueError(f"no value satisfies {what} after {_ATTEMPTS} tries") from problem

    # -- objects ----------------------------------------------------------------------------

    def object(self, schema: dict[str, Any], name: str | None, depth: int) -> dict[str, Any]:
        props = schema.get("properties", {})
        required = schema.get("required", [])
        lean = depth >= _SOFT_DEPTH
        chosen = [k for k in props if k in required or (not lean and self.rng.random() < 0.6)]
        chosen += [k for k in required if k not in props]
        keys = self.fit_key_count(schema, chosen, lean, depth)
        dependencies = schema.get("dependentRequired", {})
        for key in keys:  # iterating the growing list reaches dependencies of dependencies
            keys += [k for k in dependencies.get(key, ()) if k not in keys]
        declared = {key: i for i, key in enumerate(props)}
        keys.sort(key=lambda k: declared.get(k, len(declared)))  # the schema's order reads best
        return {key: self.value(self.key_schema(schema, key), key, depth + 1) for key in keys}

    def fit_key_count(
        self, schema: dict[str, Any], keys: list[str], lean: bool, depth: int
    ) -> list[str]:
        """`keys` cut or grown to minProperties..maxProperties; a bare map gets a few entries."""
        props = schema.get("properties", {})
        low, high = schema.get("minProperties", 0), schema.get("maxProperties", math.inf)
        extra = schema.get("additionalProperties")
        if not props and not lean and (isinstance(extra, Mapping) or "patternProperties" in schema):
            low = max(low, min(high, self.rng.randint(1, 3)))
        optional = [k for k in keys if k not in schema.get("required", ())]
        while len(keys) > high and optional:
            keys.remove(optional.pop())
        if len(keys) > high:
            raise ValueError(f"{len(keys)} required properties exceed maxProperties {high}")
        spare = [k for k in props if k not in keys]
        while len(keys) < low:
            keys.append(spare.pop(0) if spare else self.new_key(schema, keys, depth))
        return keys

    def new_key(self, schema: dict[str, Any], taken: list[str], depth: int) -> str:
        """A property name that `propertyNames` and `patternProperties` allow."""
        patterns = list(schema.get("patternProperties", {}))
        closed = schema.get("additionalProperties", True) is False
        if closed and not patterns:
            raise ValueError("minProperties needs more properties than the schema allows")
        names = {"allOf": [{"type": "string"}, schema.get("propertyNames", True)]}

        def make(attempt: int) -> str:
            if "propertyNames" in schema:
                return str(self.value(names, "key", depth + 1))
            if closed:  # a longer name on each try, for patterns like "^x-" that fix little
                return regexgen.matching(self.rng.choice(patterns), self.rng, min(attempt, 8))
            return fakers.word()

        return str(self.until(make, lambda k: k not in taken, "a new property name"))

    def key_schema(self, schema: dict[str, Any], key: str) -> Any:
        """What the value of property `key` must satisfy."""
        parts = [schema["properties"][key]] if key in schema.get("properties", {}) else []
        parts += [s for p, s in schema.get("patternProperties", {}).items() if re.search(p, key)]
        if parts:
            return parts[0] if len(parts) == 1 else {"allOf": parts}
        extra = schema.get("additionalProperties", True)
        if extra is False:
            raise ValueError(f"property {key!r} is required but additionalProperties is false")
        return extra

    # -- arrays -----------------------------------------------------------------------------

    def array(self, schema: dict[str, Any], name: str | None, depth: int) -> list[Any]:
        prefix, rest = schema.get("prefixItems", []), schema.get("items", True)
        if isinstance(rest, list):  # the draft 4-7 tuple form
            prefix, rest = rest, schema.get("additionalItems", True)
        contains = schema.get("contains")
        needed = schema.get("minContains", 1) if contains is not None else 0
        low = max(schema.get("minItems", 0), needed)
        high = min(schema.get("maxItems", math.inf), len(prefix) if rest is False else math.inf)
        unique = schema.get("uniqueItems", False)
        pool = self.finite_values(rest) if unique and not prefix and rest is not False else None
        if pool is not None:
            high = min(high, len(pool))
        if low > high:
            raise ValueError(f"the array needs {low} items but allows at most {high}")
        items: list[Any] = []
        seen: set[str] = set()
        for i in range(self.item_count(low, high, len(prefix), depth)):
            item_schema = prefix[i] if i < len(prefix) else rest
            if i < needed:
                item_schema = {"allOf": [item_schema, contains]}
            if unique:
                item = self.unique_item(
                    item_schema, pool if i >= needed else None, seen, name, depth
                )
                seen.add(schemaops.canonical(item))
            else:
                item = self.value(item_schema, name, depth + 1)
            items.append(item)
        return items

    def item_count(self, low: int, high: float, prefix: int, depth: int) -> int:
        if depth >= _SOFT_DEPTH:
            return low
        # One to three items read naturally; a tuple (prefixItems) is filled out.
        start = max(low, int(min(high, max(1, prefix))))
        return self.rng.randint(start, int(min(high, max(start, 3))))

    def unique_item(
        self, schema: Any, pool: list[Any] | None, seen: set[str], name: str | None, depth: int
    ) -> Any:
        """An item unlike those `seen`, drawn from `pool` when the item's values are few."""
        if pool is not None:
            fresh = [v for v in pool if schemaops.canonical(v) not in seen]
            return copy.deepcopy(self.rng.choice(fresh))
        return self.until(
            lambda _: self.value(schema, name, depth + 1),
            lambda v: schemaops.canonical(v) not in seen,
            "uniqueItems",
        )

    def finite_values(self, schema: Any) -> list[Any] | None:
        """Every value `schema` admits, when that is a short list (enum, const, boolean, null)."""
        flat, unmerged = self.flatten(schema)
        if unmerged or set(flat) & {"anyOf", "oneOf", "not"}:
            return None
        if "const" in flat or "enum" in flat:
            options = [flat["const"]] if "const" in flat else flat["enum"]
            unique = {schemaops.canonical(v): v for v in self.typed_options(flat, options)}
            return list(unique.values())
        types = schemaops.types(flat)
        if types and set(types) <= {"boolean", "null"}:
            return [v for t in types for v in ((True, False) if t == "boolean" else (None,))]
        return None

    # -- scalars ----------------------------------------------------------------------------

    def string(self, schema: dict[str, Any], name: str | None, depth: int) -> str:
        low, high = schema.get("minLength", 0), schema.get("maxLength", math.inf)
        if low > high:
            raise ValueError(f"minLength {low} exceeds maxLength {high}")
        pattern = schema.get("pattern")

        def fits(text: str) -> bool:
            return low <= len(text) <= high and (pattern is None or bool(re.search(pattern, text)))

        fmt = schema.get("format")
        if fmt in fakers.KNOWN_FORMATS:
            return str(self.until(lambda _: fakers.format_value(fmt), fits, f"format {fmt!r}"))
        text = fakers.text(name, schema.get("description") or schema.get("title"))
        if pattern is None:
            return fakers.fit_length(text, low, high)
        return text if fits(text) else regexgen.matching(pattern, self.rng, low, high)

    def numeric(self, schema: dict[str, Any], name: str | None, *, integer: bool) -> float | int:
        kind = "integer" if integer else "number"
        low, low_open, high, high_open = schemaops.limits(schema)
        if integer and not math.isinf(low):
            low = math.floor(low) + 1 if low_open else math.ceil(low)
        if integer and not math.isinf(high):
            high = math.ceil(high) - 1 if high_open else math.floor(high)
        if low > high:
            raise ValueError(f"no {kind} lies between {low} and {high}")
        # The schema's range made finite: 100 wide beside a lone bound, -100..100 with none.
        finite = (low, high)
        if math.isinf(low) and math.isinf(high):
            finite = (-100, 100)
        elif math.isinf(low) or math.isinf(high):
            finite = (high - 100, high) if math.isinf(low) else (low, low + 100)
        fallback = sum(finite) / 2  # when the hint's range shrinks to an excluded end
        hint = fakers.number_range(name, schema.get("description") or schema.get("title"))
        hint_low, hint_high, decimals = hint or ((1, 100, 0) if integer else (1, 100, 2))
        # The name's plausible range where the schema allows it, else the schema's own.
        if max(low, hint_low) <= min(high, hint_high):
            low, high = max(low, hint_low), min(high, hint_high)
        else:
            low, high = finite
        step = schema.get("multipleOf")
        if step is not None:
            first = math.ceil(low / step)
            start = self.rng.randint(first, max(first, math.floor(high / step)))
            # Neighbours too: for some multiples the float quotient is not a whole number.
            ks = [*range(start, start + _ATTEMPTS), *range(start - 1, start - _ATTEMPTS, -1)]
            digits = 1 - math.floor(math.log10(step)) if step < 1 else 0
            candidates = [round(k * step, digits) for k in ks]
        else:
            x = self.rng.uniform(low, high)
            candidates = [round(x, 0 if integer else decimals), math.floor(x), math.ceil(x), x]
            candidates += [math.floor(fallback), math.ceil(fallback), fallback]
        for candidate in candidates:
            whole = integer or (decimals == 0 and candidate == int(candidate))
            value = int(candidate) if whole else candidate
            if schemaops.fits_number(value, schema):
                return value
        raise ValueError(f"no {kind} satisfies {schema!r}")


def _null_odds(depth: int) -> float:
    """How likely an optional (nullable) value is null: rarely near the top, surely deep down."""
    return 0.15 * depth if depth < _SOFT_DEPTH else 1.0


_Builder = Callable[[_Generator, dict[str, Any], str | None, int], Any]
_BUILDERS: dict[str, _Builder] = {
    "object": _Generator.object,
    "array": _Generator.array,
    "string": _Generator.string,
    "number": lambda gen, schema, name, depth: gen.numeric(schema, name, integer=False),
    "integer": lambda gen, schema, name, depth: gen.numeric(schema, name, integer=True),
    "boolean": lambda gen, schema, name, depth: gen.rng.random() < 0.5,
    "null": lambda gen, schema, name, depth: None,
}
