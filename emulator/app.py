"""The Starlette wiring: routes, and the one path every chat request takes.

request -> auth -> validate -> fixture or generator -> Reply -> JSON or SSE -> journal
"""

from __future__ import annotations

import itertools
import json
import logging
import secrets
import time
from asyncio import sleep
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from . import render
from . import reply as replies
from .admin import admin_routes
from .auth import check_key
from .errors import SERVER_ERROR, FixtureFault, OpenAIError
from .generate import generate, request_seed
from .journal import Journal, JournalEntry, ReceivedHeaders
from .matching import RequestView
from .models import model_info
from .registry import FixtureHandle, Registry
from .settings import Settings
from .types import Reply, Script
from .validation import parse_body, validate_request

if TYPE_CHECKING:
    from .proxy import Upstream

log = logging.getLogger("emulator")


class Emulator:
    """Everything that outlives a request: settings, fixtures and their state, journal, arrivals.

    >>> emulator = Emulator(Settings())  # FixtureError if a file of settings.fixtures is broken
    >>> handle = emulator.add_fixture({"match": {"last_user": "hi"}, "reply": {"content": "hello"}})
    >>> handle.call_count
    0
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.journal = Journal(settings.journal_size)
        self.fixtures = Registry(settings.fixtures)
        self.crashes: list[BaseException] = []  # our own bugs, for the pytest plugin to surface
        self._arrivals = itertools.count()

    def reset(self) -> None:
        """Forget everything requests and tests left behind: journal, runtime fixtures, counters, scenarios."""
        self.journal.clear()
        self.fixtures.reset()
        self.crashes.clear()
        self._arrivals = itertools.count()

    def add_fixture(self, spec: Mapping[str, Any]) -> FixtureHandle:
        """Add a fixture entry, written as in a file, before the file fixtures; FixtureError if broken."""
        return self.fixtures.add(spec)

    def answer(self, body: dict[str, Any], headers: Mapping[str, str], request_id: str) -> tuple[Script, int]:
        """What to say to a validated request, and the seed its reply draws from.

        The first fixture that matches scripts it; else the generator does, unless strict
        mode turns the miss into a 400 that names the closest fixtures.
        """
        seed = request_seed(body, self.settings.seed, next(self._arrivals))
        view = RequestView(body, headers)
        selected = self.fixtures.select(view)
        if selected is None:
            if self.settings.strict:
                raise self.fixtures.not_found(view)
            return generate(body, seed), seed
        fixture, reply, failing = selected.fixture, selected.reply, selected.failing
        if failing and reply.fault is not None and reply.fault.status is not None:
            raise reply.fault.error(fixture.name, view, request_id)
        return reply.script(f"fixture:{fixture.name}", view, seed, failing), seed


def request_id() -> str:
    """`req_` + 32 hex digits, as the real API's x-request-id."""
    return "req_" + secrets.token_hex(16)


# The headers every real response carries after its request id, organisation and timing (protocol §9.1).
_FIXED_HEADERS = (
    ("openai-version", "2020-10-01"),
    ("x-ratelimit-limit-requests", "10000"),
    ("x-ratelimit-limit-tokens", "30000000"),
    ("x-ratelimit-remaining-requests", "9999"),
    ("x-ratelimit-remaining-tokens", "29999000"),
    ("x-ratelimit-reset-requests", "6ms"),
    ("x-ratelimit-reset-tokens", "2ms"),
    ("access-control-expose-headers", "X-Request-ID"),
)
# The same as raw header pairs, encoded once rather than per request.
_FIXED_RAW_HEADERS = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in _FIXED_HEADERS]


def _processing_ms(started: float) -> str:
    return str(max(1, round((time.perf_counter() - started) * 1000)))


def standard_headers(rid: str, started: float) -> dict[str, str]:
    """The headers every real response carries (protocol §9.1)."""
    return {
        "x-request-id": rid,
        "openai-organization": "user-emulator",
        "openai-processing-ms": _processing_ms(started),
        **dict(_FIXED_HEADERS),
    }


def _answered(
    response_class: type[Response], content: Any, media_type: str, rid: str, started: float,
    extra: Mapping[str, str],
) -> Response:
    """A 200 with the standard headers, and a fixture's `extra` headers over them."""
    if extra:
        return response_class(content, headers={**standard_headers(rid, started), **extra}, media_type=media_type)
    # No extras, the usual case: the standard pairs go in raw, ahead of the content-length and
    # content-type Starlette gave the response (the order a headers dict gives), unencoded per request.
    response = response_class(content, media_type=media_type)
    response.raw_headers[:0] = [
        (b"x-request-id", rid.encode("latin-1")),
        (b"openai-organization", b"user-emulator"),
        (b"openai-processing-ms", _processing_ms(started).encode("latin-1")),
        *_FIXED_RAW_HEADERS,
    ]
    return response


def error_response(error: OpenAIError, rid: str, started: float) -> Response:
    """An OpenAI error envelope with its status and headers."""
    headers = {**standard_headers(rid, started), **error.headers}
    if error.code == "model_not_found":
        # The real 404 comes from another layer: 4-space indent, a newline, charset, no openai-* headers.
        content = json.dumps(error.body(), indent=4) + "\n"
        return Response(content, error.status, {"x-request-id": rid}, "application/json; charset=utf-8")
    content = json.dumps(error.body(), indent=2, ensure_ascii=False)
    return Response(content, error.status, headers, "application/json")


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, or a 413 once it passes `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> OpenAIError:
    return OpenAIError(
        413,
        f"Request body too large: the limit is {limit} bytes.",
        code="request_too_large",
    )


def _log(method: str, path: str, status: int, model: Any, source: str, started: float) -> None:
    """One readable line per request; never the body or a key."""
    ms = (time.perf_counter() - started) * 1000
    log.info("%s %s %d model=%s reply=%s %.1fms", method, path, status, model or "-", source, ms)


def create_app(settings: Settings | None = None, *, upstream: Upstream | None = None) -> Starlette:
    """The emulator as an ASGI app; with `upstream`, a request no fixture matches goes there (record mode)."""
    emulator = Emulator(settings or Settings())

    async def chat_completions(request: Request) -> Response:
        started = time.perf_counter()
        rid = request_id()
        body: Any = None
        try:
            check_key(request.headers.get("authorization"), emulator.settings.api_keys)
            raw = await read_body(request, emulator.settings.max_body_bytes)
            body = parse_body(raw, request.headers.get("content-type"))
            validate_request(body)
            _check_model(body["model"], emulator.settings)
            script, seed = emulator.answer(body, request.headers, rid)
            if upstream is not None and script.source == "generated":
                # serve --record-missing: the real API answers what no fixture does, and is recorded.
                response = await upstream.forward(request, raw, record=True)
                _journal(emulator, request, body, response.status_code, None, {"source": "upstream"}, started)
                _log(request.method, request.scope["path"], response.status_code, body["model"], "upstream", started)
                return response
            reply = replies.build_reply(body, script, seed)
        except OpenAIError as error:
            fixture = error.fixture if isinstance(error, FixtureFault) else None
            _journal(emulator, request, body, error.status, fixture, error.body(), started)
            _log(request.method, request.scope["path"], error.status, body and _model(body), "error", started)
            return error_response(error, rid, started)
        _journal(emulator, request, body, 200, _fixture_name(reply), replies.summary(reply), started)
        _log(request.method, request.scope["path"], 200, body["model"], reply.source, started)
        extra = reply.delivery.headers
        if body.get("stream"):
            options = body.get("stream_options") or {}
            stream = render.sse(
                reply,
                include_usage=bool(options.get("include_usage")),
                obfuscate=options.get("include_obfuscation") is not False,
            )
            return _answered(StreamingResponse, stream, "text/event-stream", rid, started, extra)
        delay = render.completion_delay(reply)
        if delay:  # even sleep(0) costs a turn of the event loop
            await sleep(delay)
        return _answered(Response, render.completion_json(reply), "application/json", rid, started, extra)

    async def list_stored_completions(request: Request) -> Response:
        # A real route (stored completions); the emulator stores none.
        check_key(request.headers.get("authorization"), emulator.settings.api_keys)
        listing: dict[str, Any] = {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}
        return _json(listing, request_id(), time.perf_counter())

    async def list_models(request: Request) -> Response:
        check_key(request.headers.get("authorization"), emulator.settings.api_keys)
        data = [_model_body(m) for m in emulator.settings.models]
        return _json({"object": "list", "data": data}, request_id(), time.perf_counter())

    async def retrieve_model(request: Request) -> Response:
        check_key(request.headers.get("authorization"), emulator.settings.api_keys)
        model = request.path_params["model"]
        if model not in emulator.settings.models:
            raise model_not_found(model)
        return _json(_model_body(model), request_id(), time.perf_counter())

    routes = [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/chat/completions", list_stored_completions, methods=["GET"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", retrieve_model, methods=["GET"]),
        *admin_routes(emulator),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={OpenAIError: _openai_error, HTTPException: _http_error, Exception: _server_error},
    )
    app.state.emulator = emulator
    logging.getLogger("uvicorn.error").addFilter(_SCRIPTED_DISCONNECTS)
    return app


class _ScriptedDisconnectFilter(logging.Filter):
    """uvicorn logs whatever ends a response early; a disconnect a fixture asked for is no crash."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], render.StreamDisconnect))


_SCRIPTED_DISCONNECTS = _ScriptedDisconnectFilter()


def _model(body: Any) -> Any:
    return body.get("model") if isinstance(body, Mapping) else None


def _check_model(model: str, settings: Settings) -> None:
    if not settings.accept_any_model and model not in settings.models:
        raise model_not_found(model)


def model_not_found(model: str) -> OpenAIError:
    """404 for a model the emulator does not serve, in the real wording."""
    return OpenAIError(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
    )


def _model_body(model: str) -> dict[str, Any]:
    info = model_info(model)
    return {"id": info.id, "object": "model", "created": info.created, "owned_by": info.owned_by}


def _json(content: Any, rid: str, started: float) -> Response:
    body = json.dumps(content, indent=2, ensure_ascii=False)
    return Response(body, 200, standard_headers(rid, started), "application/json")


def _fixture_name(reply: Reply) -> str | None:
    return reply.source.removeprefix("fixture:") if reply.source.startswith("fixture:") else None


def _journal(
    emulator: Emulator, request: Request, body: Any, status: int, fixture: str | None, summary: Any, started: float
) -> None:
    emulator.journal.record(
        JournalEntry(
            time=time.time(),
            method=request.method,
            path=request.scope["path"],  # not request.url: building the whole URL costs ~10 us
            headers=ReceivedHeaders(request.scope["headers"]),  # decoded and redacted when read
            body=body,
            status=status,
            fixture=fixture,
            reply=summary,
            duration_ms=(time.perf_counter() - started) * 1000,
        )
    )


async def _openai_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OpenAIError)
    return error_response(exc, request_id(), time.perf_counter())


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods answer as the real API does: 404 Invalid URL."""
    assert isinstance(exc, HTTPException)
    error = OpenAIError(exc.status_code if exc.status_code != 405 else 404, f"Invalid URL ({request.method} {request.url.path})")
    return error_response(error, request_id(), time.perf_counter())


async def _server_error(request: Request, exc: Exception) -> Response:
    """A bug of ours: logged with its traceback, answered with the real 500 and no traceback."""
    if isinstance(exc, render.StreamDisconnect):
        log.info("%s %s: connection dropped mid-stream, as a fixture asked", request.method, request.url.path)
        return Response(status_code=500)  # never sent: the stream's headers went out already
    rid = request_id()
    log.exception("unhandled error for %s %s (%s)", request.method, request.url.path, rid)
    request.app.state.emulator.crashes.append(exc)
    error = OpenAIError(500, SERVER_ERROR.format(request_id=rid), type="server_error")
    return error_response(error, rid, time.perf_counter())
