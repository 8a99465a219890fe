"""Fixture entries: read from YAML (or JSON, or a dict), checked, compiled once.

A file holds `fixtures:`, a list of entries. Each entry is compiled into a frozen Fixture:
its `match` into checks (matching.py), its `reply` or `sequence` into ScriptedReplies whose
templates and faults are resolved at load, so answering a request only fills in values.
Every problem is reported as `file:line: message`; the registry (registry.py) keeps the
state that requests leave behind.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from . import located
from .errors import SERVER_ERROR, FixtureError, FixtureFault
from .generate import choice_rng, generate, tool_calls
from .located import Invalid, KeyPath, Problems, fields, integer, kind, number, string, within
from .matching import Match, RequestView, compile_match
from .types import Delivery, Draft, DraftToolCall, FinishReason, Latency, Script, StreamFault, Usage

ENTRY_KEYS = (
    "name", "match", "reply", "sequence", "priority", "times", "scenario", "when_state", "required_state", "new_state",
)
REPLY_KEYS = (
    "content", "tool_calls", "refusal", "finish_reason", "usage", "generate", "latency", "chunking", "fault",
)
TOOL_CALL_KEYS = ("name", "arguments", "id")
LATENCY_KEYS = ("first_token_ms", "per_token_ms", "tokens_per_second", "jitter_ms")
CHUNKING_KEYS = ("tokens_per_chunk",)
FAULT_KEYS = ("status", "message", "type", "code", "headers", "fail_times", "kind", "after_chunks")
STREAM_FAULTS = ("error", "disconnect", "malformed")
USAGE_KEYS = tuple(f.name for f in dataclasses.fields(Usage))
FINISH_REASONS: tuple[FinishReason, ...] = get_args(FinishReason)
TEMPLATE_VARIABLES = ("last_user", "model", "system", "tool_result")  # and metadata.<key>
INITIAL_STATE = "Started"  # every scenario's state before a fixture moves it (WireMock's name)

_PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")

# Default wording of scripted errors (protocol §8); other statuses need a `message`.
RATE_LIMITED = (
    "Rate limit reached for {model} in organization org-emulator on requests per min (RPM): Limit 60, Used 60, "
    "Requested 1. Please try again in {wait}. Visit https://platform.openai.com/account/rate-limits to learn more."
)
OVERLOADED = "The engine is currently overloaded, please try again later"
_DEFAULT_ERRORS: dict[int, tuple[str, str, str | None]] = {
    429: (RATE_LIMITED, "requests", "rate_limit_exceeded"),
    500: (SERVER_ERROR, "server_error", None),
    503: (OVERLOADED, "server_error", None),
}


@dataclass(frozen=True)
class Template:
    """Text with `{{ variable }}` placeholders, split once: literals at even places, names at odd."""

    parts: tuple[str, ...]

    def render(self, view: RequestView) -> str:
        """The text with the request's values put in."""
        if len(self.parts) == 1:
            return self.parts[0]
        return "".join(part if i % 2 == 0 else _variable(view, part) for i, part in enumerate(self.parts))


def _variable(view: RequestView, name: str) -> str:
    if name == "last_user":
        return view.last_user
    if name == "model":
        return view.model
    if name == "system":
        return "\n".join(view.system)
    if name == "tool_result":
        return view.tool_results[-1] if view.tool_results else ""
    return str(view.metadata.get(name.removeprefix("metadata."), ""))


def compile_template(raw: Any) -> Template:
    """A string with known placeholders only."""
    parts = tuple(_PLACEHOLDER.split(string(raw)))
    for name in parts[1::2]:
        if name not in TEMPLATE_VARIABLES and not re.fullmatch(r"metadata\.\S+", name):
            known = ", ".join((*TEMPLATE_VARIABLES, "metadata.<key>"))
            raise Invalid(f"unknown template variable {{{{ {name} }}}} (known: {known})")
    return Template(parts)


@dataclass(frozen=True)
class ScriptedCall:
    """A tool call a fixture makes; no arguments means generated (or `{}` without `generate`)."""

    name: str
    arguments: str | None
    id: str | None


@dataclass(frozen=True)
class Fault:
    """What goes wrong before the reply is given: an HTTP error, or a stream fault."""

    fail_times: int | None  # how many requests fail before the reply is given; None: all of them
    status: int | None = None
    message: str | None = None
    type: str | None = None
    code: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    stream: StreamFault | None = None

    def applies(self, view: RequestView) -> bool:
        """A stream fault needs a stream to break; an HTTP error fails any request."""
        return self.status is not None or view.stream

    def error(self, fixture: str, view: RequestView, request_id: str) -> FixtureFault:
        """The scripted error, in the catalogue's wording unless the fixture gives its own."""
        status = self.status or 500
        message, type_, code = _DEFAULT_ERRORS.get(status, ("", "", None))
        if self.message is None:
            wait = self.headers.get("retry-after", "1")
            message = message.format(model=view.model, request_id=request_id, wait=f"{wait}s")
        return FixtureFault(
            status,
            self.message or message,
            type=self.type or type_ or ("server_error" if status >= 500 else "invalid_request_error"),
            code=self.code or code,
            headers=self.headers,
            fixture=fixture,
        )


@dataclass(frozen=True)
class ScriptedReply:
    """One `reply` (or one step of a `sequence`), compiled."""

    contents: tuple[Template, ...] = ()
    refusal: Template | None = None
    tool_calls: tuple[ScriptedCall, ...] = ()
    finish_reason: FinishReason | None = None
    usage: Mapping[str, int] | None = None
    generate: bool = False
    delivery: Delivery = field(default_factory=Delivery)
    fault: Fault | None = None

    def script(self, source: str, view: RequestView, seed: int, failing: bool) -> Script:
        """What to send, with the fault's stream break when this request is one that fails."""
        delivery = self.delivery
        if failing and self.fault is not None and self.fault.stream is not None:
            delivery = dataclasses.replace(delivery, fault=self.fault.stream)
        return Script(drafts=self._drafts(view, seed), source=source, delivery=delivery, usage=self.usage)

    def _drafts(self, view: RequestView, seed: int) -> tuple[Draft, ...]:
        says_nothing = not (self.contents or self.refusal or self.tool_calls)
        if says_nothing and self.generate:
            generated = generate(dict(view.body), seed).drafts
            if self.finish_reason is None:
                return generated
            return tuple(dataclasses.replace(d, finish_reason=self.finish_reason) for d in generated)
        calls = tuple(DraftToolCall(call.name, self._arguments(call, view, seed), call.id) for call in self.tool_calls)
        refusal = self.refusal.render(view) if self.refusal else None
        texts: list[str | None]
        if self.contents:
            texts = [template.render(view) for template in self.contents]
        elif calls or refusal is not None:
            texts = [None]  # a tool-call turn or a refusal carries no text
        else:
            texts = [""]  # a reply that gives nothing says it as empty text
        return tuple(
            Draft(content=text, refusal=refusal, tool_calls=calls, finish_reason=self.finish_reason) for text in texts
        )

    def _arguments(self, call: ScriptedCall, view: RequestView, seed: int) -> str:
        """The call's arguments; when it gives none, generated to fit the offered tool, or `{}`."""
        if call.arguments is not None:
            return call.arguments
        if self.generate:
            # The generator's own call of this function, as when tool_choice names it.
            named = {**view.body, "tool_choice": {"type": "function", "function": {"name": call.name}}}
            generated = tool_calls(named, choice_rng(seed, 0))
            if generated:
                return generated[0].arguments
        return "{}"


@dataclass(frozen=True, eq=False)
class Fixture:
    """One fixture entry. Compared by identity: two equal entries are still two fixtures."""

    name: str
    match: Match
    replies: tuple[ScriptedReply, ...]  # one for `reply`, the steps of a `sequence`
    source: str  # where it was written: `file.yaml:12`, `request body:3`, or `runtime`
    spec: Mapping[str, Any]  # the entry as written, for GET /_emulator/fixtures
    priority: int = 0
    times: int | None = None
    scenario: str | None = None
    when_state: str | None = None
    new_state: str | None = None


# --- reading ------------------------------------------------------------------------------


def compile_entries(
    problems: Problems, path: KeyPath, entries: Any, origin: str, default_names: Iterator[str] | None = None
) -> list[Fixture]:
    """Every entry of a list compiled, problems recorded for those that do not compile."""
    if not isinstance(entries, list):
        problems.report(path, f"expected a list of fixture entries, got {kind(entries)}")
        return []
    compiled = (compile_entry(problems, (*path, i), raw, origin, default_names) for i, raw in enumerate(entries))
    return [fixture for fixture in compiled if fixture is not None]


def name_clashes(fixtures: Iterable[Fixture], taken: Mapping[str, Fixture] | None = None) -> list[str]:
    """A problem for each fixture whose name an earlier one (or one in `taken`) already has."""
    seen = dict(taken or {})
    problems = []
    for fixture in fixtures:
        if fixture.name in seen:
            problems.append(f"{fixture.source}: name {fixture.name!r} is already used at {seen[fixture.name].source}")
        seen.setdefault(fixture.name, fixture)
    return problems


def compile_entry(
    problems: Problems, path: KeyPath, raw: Any, origin: str, default_names: Iterator[str] | None = None
) -> Fixture | None:
    """One entry compiled, or None with its problems recorded.

    An entry needs a `name` unless `default_names` supplies one (fixtures added at run time).
    """
    before = len(problems)
    line = located.line_at(problems.root, path)
    source = f"{origin}:{line}" if line else origin
    known = problems.fields(path, raw, ENTRY_KEYS)
    if known is None:
        return None
    if "name" in known:
        name = problems.attempt((*path, "name"), string, known["name"])
    elif default_names is not None:
        name = next(default_names)
    else:
        name = None
        problems.report(path, "no `name` (the journal and strict-mode messages call the fixture by it)")
    if "match" not in known:
        problems.report(path, "no `match` (write `match: {}` to answer every request)")
    match = compile_match(problems, (*path, "match"), known.get("match", {}))
    if ("reply" in known) == ("sequence" in known):
        problems.report(path, "give either `reply` or `sequence`" + (", not both" if "reply" in known else ""))
    replies = _replies(problems, path, known)
    priority = problems.attempt((*path, "priority"), integer, known.get("priority", 0))
    times = _optional(problems, path, known, "times", lambda v: integer(v, 1))
    scenario = _optional(problems, path, known, "scenario", string)
    if "when_state" in known and "required_state" in known:
        problems.report(path, "`required_state` is another name for `when_state`: give one of them")
    state_key = "required_state" if "required_state" in known else "when_state"
    when_state = _optional(problems, path, known, state_key, string)
    new_state = _optional(problems, path, known, "new_state", string)
    if scenario is None and (when_state or new_state):
        problems.report(path, f"`{state_key if when_state else 'new_state'}` needs a `scenario`")
    if len(problems) > before or match is None or name is None:
        return None
    return Fixture(
        name=name,
        match=match,
        replies=tuple(replies),
        source=source,
        spec=raw,
        priority=priority or 0,
        times=times,
        scenario=scenario,
        when_state=when_state,
        new_state=new_state,
    )


def _optional(problems: Problems, path: KeyPath, known: Mapping[str, Any], key: str, read: Any) -> Any:
    return problems.attempt((*path, key), read, known[key]) if key in known else None


def _replies(problems: Problems, path: KeyPath, known: Mapping[str, Any]) -> list[ScriptedReply]:
    if "reply" in known:
        return [_reply(problems, (*path, "reply"), known["reply"])]
    steps = known.get("sequence")
    if not isinstance(steps, list) or not steps:
        if "sequence" in known:
            problems.report((*path, "sequence"), f"expected a non-empty list of replies, got {kind(steps)}")
        return []
    return [_reply(problems, (*path, "sequence", i), step) for i, step in enumerate(steps)]


def _reply(problems: Problems, path: KeyPath, raw: Any) -> ScriptedReply:
    known = problems.fields(path, raw, REPLY_KEYS) or {}
    contents = known.get("content")
    return ScriptedReply(
        contents=tuple(problems.attempt((*path, "content"), _contents, contents) or ()) if "content" in known else (),
        refusal=_optional(problems, path, known, "refusal", compile_template),
        tool_calls=tuple(_optional(problems, path, known, "tool_calls", _tool_calls) or ()),
        finish_reason=_optional(problems, path, known, "finish_reason", _finish_reason),
        usage=_optional(problems, path, known, "usage", _usage),
        generate=bool(_optional(problems, path, known, "generate", located.boolean)),
        delivery=Delivery(
            latency=_optional(problems, path, known, "latency", _latency) or Latency(),
            tokens_per_chunk=(_optional(problems, path, known, "chunking", _chunking) or 1),
        ),
        fault=_optional(problems, path, known, "fault", _fault),
    )


def _contents(raw: Any) -> list[Template]:
    """One text, or a list of texts (one per choice)."""
    if isinstance(raw, list):
        if not raw:
            raise Invalid("expected a text or a non-empty list of texts (one per choice), got an empty list")
        return [within(i, compile_template, text) for i, text in enumerate(raw)]
    return [compile_template(raw)]


def _tool_calls(raw: Any) -> list[ScriptedCall]:
    if not isinstance(raw, list) or not raw:
        raise Invalid(f"expected a non-empty list of {{name, arguments}}, got {kind(raw)}")
    return [within(i, _tool_call, call) for i, call in enumerate(raw)]


def _tool_call(raw: Any) -> ScriptedCall:
    known = fields(raw, TOOL_CALL_KEYS)
    if "name" not in known:
        raise Invalid("a tool call needs a `name`")
    arguments = known.get("arguments")
    if isinstance(arguments, dict):
        arguments = json.dumps(arguments, ensure_ascii=False, default=str)  # YAML dates become strings
    elif arguments is not None and not isinstance(arguments, str):
        raise Invalid(f"expected a mapping or a JSON string, got {kind(arguments)}", ("arguments",))
    ident = within("id", string, known["id"]) if "id" in known else None
    return ScriptedCall(within("name", string, known["name"]), arguments, ident)


def _finish_reason(raw: Any) -> FinishReason:
    for reason in FINISH_REASONS:
        if raw == reason:
            return reason
    raise Invalid(f"expected one of {', '.join(FINISH_REASONS)}, got {raw!r}")


def _usage(raw: Any) -> dict[str, int]:
    if isinstance(raw, dict) and "total_tokens" in raw:
        raise Invalid("total_tokens is always prompt_tokens + completion_tokens: set those instead", ("total_tokens",))
    known = fields(raw, USAGE_KEYS)
    return {key: within(key, lambda v: integer(v, 0), value) for key, value in known.items()}


def _latency(raw: Any) -> Latency:
    known = fields(raw, LATENCY_KEYS)
    millis = {key: within(key, number, value) for key, value in known.items()}
    if "tokens_per_second" in millis:
        if "per_token_ms" in millis:
            raise Invalid("give per_token_ms or tokens_per_second, not both", ("tokens_per_second",))
        if millis["tokens_per_second"] <= 0:
            raise Invalid("expected a number > 0", ("tokens_per_second",))
        millis["per_token_ms"] = 1000 / millis.pop("tokens_per_second")
    return Latency(**millis)


def _chunking(raw: Any) -> int:
    return int(within("tokens_per_chunk", lambda v: integer(v, 1), fields(raw, CHUNKING_KEYS).get("tokens_per_chunk", 1)))


def _fault(raw: Any) -> Fault:
    known = fields(raw, FAULT_KEYS)
    if ("status" in known) == ("kind" in known):
        raise Invalid("a fault is either an HTTP `status` or a stream `kind` (error, disconnect, malformed)")
    fail_times = within("fail_times", lambda v: integer(v, 1), known["fail_times"]) if "fail_times" in known else None
    message, type_, code = (within(key, string, known[key]) if key in known else None for key in ("message", "type", "code"))
    if "kind" in known:
        return Fault(fail_times, stream=_stream_fault(known, message, type_, code))
    status = within("status", lambda v: integer(v, 400), known["status"])
    if status > 599:
        raise Invalid(f"expected an error status (400-599), got {status}", ("status",))
    if status not in _DEFAULT_ERRORS and message is None:
        raise Invalid(f"status {status} has no default message: give `message`", ("status",))
    if "after_chunks" in known:
        raise Invalid("`after_chunks` belongs to a stream fault (`kind`), not to a `status`", ("after_chunks",))
    headers = within("headers", _headers, known.get("headers", {}))
    return Fault(fail_times, status=status, message=message, type=type_, code=code, headers=headers)


def _stream_fault(known: Mapping[str, Any], message: str | None, type_: str | None, code: str | None) -> StreamFault:
    fault_kind = known["kind"]
    if fault_kind not in STREAM_FAULTS:
        raise Invalid(f"expected one of {', '.join(STREAM_FAULTS)}, got {fault_kind!r}", ("kind",))
    for key in ("headers", *(("message", "type", "code") if fault_kind != "error" else ())):
        if key in known:
            raise Invalid(f"`{key}` does not apply to a {fault_kind} fault", (key,))
    fault = StreamFault(kind=fault_kind, after_chunks=within("after_chunks", lambda v: integer(v, 0), known.get("after_chunks", 0)))
    return dataclasses.replace(
        fault, message=message or fault.message, type=type_ or fault.type, code=code if code is not None else fault.code
    )


def _headers(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise Invalid(f"expected a mapping of header names to values, got {kind(raw)}")
    headers = {}
    for name, value in raw.items():
        if isinstance(value, bool):
            value = str(value).lower()  # YAML's `x-should-retry: false` means the header "false"
        elif isinstance(value, int | float):
            value = str(value)
        headers[str(name).lower()] = within(name, string, value)
    return headers


# --- files --------------------------------------------------------------------------------


def yaml_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Each path given, folders expanded to their *.yaml / *.yml files in name order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        else:
            yield path


def parse_document(
    problems: Problems, document: Any, origin: str, default_names: Iterator[str] | None = None
) -> list[Fixture]:
    """The fixtures of a whole document: `fixtures:` and its list."""
    top = problems.fields((), document, ("fixtures",))
    if top is None:
        return []
    if "fixtures" not in top:
        problems.report((), "no `fixtures:` list")
        return []
    return compile_entries(problems, ("fixtures",), top["fixtures"], origin, default_names)


def read_file(path: Path) -> tuple[list[Fixture], list[str]]:
    """The fixtures of one file, and its problems."""
    problems = Problems(str(path))
    try:
        problems.root = located.load(path.read_bytes())
    except OSError as exc:
        return [], [f"{path}: cannot read: {exc.strerror or exc}"]
    except Invalid as exc:
        problems.add((), exc.message, exc.line)
        return [], problems.items
    return parse_document(problems, problems.root, str(path)), problems.items


def load_files(paths: Iterable[Path]) -> list[Fixture]:
    """Every fixture of every file, in order; FixtureError listing all problems of all files."""
    fixtures: list[Fixture] = []
    problems: list[str] = []
    for path in yaml_files(paths):
        found, trouble = read_file(path)
        fixtures += found
        problems += trouble
    problems += name_clashes(fixtures)
    if problems:
        raise FixtureError(problems)
    return fixtures


def fixture_problems(paths: Sequence[Path]) -> tuple[list[str], int]:
    """Every problem of the fixture files under `paths`, and how many fixtures they hold."""
    try:
        return [], len(load_files(paths))
    except FixtureError as exc:
        return exc.problems, 0
