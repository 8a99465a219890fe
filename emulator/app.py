"""The Starlette wiring: routes, and the one path every chat request takes.

request -> auth -> validate -> fixture or generator -> Reply -> JSON or SSE -> journal
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from asyncio import sleep
from collections.abc import AsyncIterator, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from . import render
from . import reply as replies
from .admin import admin_routes
from .auth import check_key
from .errors import SERVER_ERROR, FixtureFault, OpenAIError
from .generate import generate, request_seed
from .ids import request_id
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
        # Every request counts as an arrival, so the seed of a generated reply does not depend
        # on how many fixture replies came before it, whether or not those drew a seed.
        arrival = next(self._arrivals)
        view = RequestView(body, headers)
        selected = self.fixtures.select(view)
        if selected is None:
            if self.settings.strict:
                raise self.fixtures.not_found(view)
            seed = request_seed(body, self.settings.seed, arrival)
            return generate(body, seed), seed
        fixture, reply, failing = selected.fixture, selected.reply, selected.failing
        if failing and reply.fault is not None and reply.fault.status is not None:
            raise reply.fault.error(fixture.name, view, request_id)
        # Only a reply that generates, and logprobs, draw from the seed: the rest skip its 3.4 us.
        drawn = reply.generate or bool(body.get("logprobs"))
        seed = request_seed(body, self.settings.seed, arrival) if drawn else 0
        return reply.script(f"fixture:{fixture.name}", view, seed, failing), seed


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


def _head(content: bytes | AsyncIterator[bytes], rid: str, started: float, extra: Mapping[str, str]) -> RawHeaders:
    """A 200's raw headers: the standard ones, a fixture's `extra` over them, then the content's
    length (for bytes) and type, as Starlette would set them."""
    if extra:  # rare: Starlette's own rules decide what a fixture's headers replace
        headers = {**standard_headers(rid, started), **extra}
        if isinstance(content, bytes):
            return Response(content, headers=headers, media_type="application/json").raw_headers
        return StreamingResponse(content, headers=headers, media_type="text/event-stream").raw_headers
    # The usual case: prebuilt pairs, in the order Starlette gives a headers dict, nothing encoded twice.
    rid_pair = (b"x-request-id", rid.encode("latin-1"))
    ms_pair = (b"openai-processing-ms", _processing_ms(started).encode("latin-1"))
    if isinstance(content, bytes):
        length = (b"content-length", b"%d" % len(content))
        return [rid_pair, _ORGANIZATION, ms_pair, *_FIXED_RAW_HEADERS, length, _JSON_TYPE]
    return [rid_pair, _ORGANIZATION, ms_pair, *_FIXED_RAW_HEADERS, _SSE_TYPE]


RawHeaders = list[tuple[bytes, bytes]]
_ORGANIZATION = (b"openai-organization", b"user-emulator")
_JSON_TYPE = (b"content-type", b"application/json")
_SSE_TYPE = (b"content-type", b"text/event-stream; charset=utf-8")


async def _send_json(head: RawHeaders, body: bytes, scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": head})
    await send({"type": "http.response.body", "body": body})


_FRAMING = frozenset(("content-length", "transfer-encoding"))


def error_response(error: OpenAIError, rid: str, started: float) -> Response:
    """An OpenAI error envelope with its status and headers (a fault's over the standard ones)."""
    headers = standard_headers(rid, started)
    if error.headers:
        # but not the body's framing: a fixture's content-length would break the response
        headers.update((name, value) for name, value in error.headers.items() if name.lower() not in _FRAMING)
    if error.code == "model_not_found":
        # The real 404 comes from another layer: 4-space indent, a newline, charset, no openai-* headers.
        content = json.dumps(error.body(), indent=4) + "\n"
        return Response(content, error.status, {"x-request-id": rid}, "application/json; charset=utf-8")
    content = json.dumps(error.body(), indent=2, ensure_ascii=False)
    return Response(content, error.status, headers, "application/json")


async def read_body(receive: Receive, declared: str | None, limit: int) -> bytes | None:
    """The raw body, None if the client left first, or a 413 once it passes `limit` bytes."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> OpenAIError:
    return OpenAIError(
        413,
        f"Request body too large: the limit is {limit} bytes.",
        code="request_too_large",
    )


def _log(status: int, model: Any, source: str, started: float) -> None:
    """One readable line per chat request; never the body or a key."""
    ms = (time.perf_counter() - started) * 1000
    log.info("POST %s %d model=%s reply=%s %.1fms", CHAT_PATH, status, model or "-", source, ms)


CHAT_PATH = "/v1/chat/completions"


class EmulatorApp:
    """The emulator as an ASGI app: `POST /v1/chat/completions` takes a short path of its own,
    Starlette routes everything else.

    Starlette's middleware, router and Request/Response layers cost a bare app ~26 us a
    request on loopback (6,300 against 7,400 requests/s, BENCHMARKS.md); the chat route is
    what every test and load test hits, so it goes around them. It keeps their behaviour: the
    same 404s and redirects for other paths and methods, the real 500 for a bug of ours.
    """

    def __init__(self, emulator: Emulator, upstream: Upstream | None) -> None:
        self.emulator = emulator
        self.upstream = upstream
        self.routes = Starlette(
            routes=_routes(emulator),
            exception_handlers={OpenAIError: _openai_error, HTTPException: _http_error, Exception: _server_error},
        )
        self.routes.state.emulator = emulator
        self.state = self.routes.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and route_path(scope) == CHAT_PATH:
            await self.chat_completions(scope, receive, send)
        else:
            await self.routes(scope, receive, send)

    async def chat_completions(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one chat request; a bug of ours is logged, kept for the pytest plugin, and answered 500."""
        started = time.perf_counter()
        rid = request_id()
        try:
            response = await self._respond(scope, receive, rid, started)
            if response is not None:
                await response(scope, receive, send)
        except render.StreamDisconnect:
            log.info("POST %s: connection dropped mid-stream, as a fixture asked", CHAT_PATH)
            raise  # uvicorn drops the connection, which is what the fixture asked for
        except Exception as exc:
            bug = exc.__cause__ if isinstance(exc, _Streaming) and exc.__cause__ is not None else exc
            log.error("unhandled error for POST %s (%s)", CHAT_PATH, rid, exc_info=bug)
            self.emulator.crashes.append(bug)
            if bug is not exc:
                raise bug from None  # the head went out: only dropping the connection can say so
            await error_response(server_bug(rid), rid, started)(scope, receive, send)

    async def _respond(self, scope: Scope, receive: Receive, rid: str, started: float) -> ASGIApp | None:
        """The response to send, None if the client left before its body arrived."""
        emulator = self.emulator
        authorization, content_type, content_length = _request_headers(scope["headers"])
        raw: bytes | None = None
        body: Any = None  # set once the body parses as a JSON object
        try:
            check_key(authorization, emulator.settings.api_keys)
            raw = await read_body(receive, content_length, emulator.settings.max_body_bytes)
            if raw is None:
                log.info("POST %s: the client left before its body arrived", CHAT_PATH)
                return None
            body = parse_body(raw, content_type)
            validate_request(body, raw)
            _check_model(body["model"], emulator.settings)
            script, seed = emulator.answer(body, Headers(raw=scope["headers"]), rid)
            if self.upstream is not None and script.source == "generated":
                # serve --record-missing: the real API answers what no fixture does, and is recorded.
                response = await self.upstream.forward(Request(scope, receive), raw, record=True)
                _journal(emulator, scope, raw, response.status_code, None, {"source": "upstream"}, started)
                _log(response.status_code, body["model"], "upstream", started)
                return response
            reply = replies.build_reply(body, script, seed)
        except OpenAIError as error:
            fixture = error.fixture if isinstance(error, FixtureFault) else None
            _journal(emulator, scope, raw if body is not None else None, error.status, fixture, error.body(), started)
            _log(error.status, body and _model(body), "error", started)
            return error_response(error, rid, started)
        _journal(emulator, scope, raw, 200, _fixture_name(reply), replies.summary(reply), started)
        _log(200, body["model"], reply.source, started)
        extra = reply.delivery.headers
        if body.get("stream"):
            options = body.get("stream_options") or {}
            events = render.sse(
                reply,
                include_usage=bool(options.get("include_usage")),
                obfuscate=options.get("include_obfuscation") is not False,
            )
            return partial(_stream, _head(events, rid, started, extra), events, paced=render.paced(reply))
        delay = render.completion_delay(reply)
        if delay:  # even sleep(0) costs a turn of the event loop
            await sleep(delay)
        content = render.completion_json(reply)
        return partial(_send_json, _head(content, rid, started, extra), content)


class _Streaming(Exception):
    """A bug raised after a stream's head was sent (its cause is the bug)."""


async def _stream(
    head: RawHeaders, events: AsyncIterator[bytes], scope: Scope, receive: Receive, send: Send, *,
    paced: bool,
) -> None:
    """Send the head, then each event as it comes; a paced stream stops at once if the client leaves.

    An unpaced stream runs to its end in one go (uvicorn drops what a gone client would get),
    so only a paced one pays for a task that listens for the disconnect.
    """
    await send({"type": "http.response.start", "status": 200, "headers": head})
    # Only a paced stream asks for its task (asyncio's): an unpaced one runs under any event loop.
    streaming = asyncio.current_task() if paced else None
    left = False

    async def watch() -> None:
        nonlocal left
        while (await receive())["type"] != "http.disconnect":
            pass
        left = True
        if streaming is not None:
            streaming.cancel()

    watcher = asyncio.create_task(watch()) if streaming is not None else None
    try:
        async for event in events:
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except asyncio.CancelledError:
        if not left or streaming is None:
            raise
        streaming.uncancel()  # the client left: nothing more to send, nothing went wrong
    except render.StreamDisconnect:
        raise
    except Exception as exc:
        raise _Streaming() from exc
    finally:
        if watcher is not None:
            watcher.cancel()


def _request_headers(raw: list[tuple[bytes, bytes]]) -> tuple[str | None, str | None, str | None]:
    """Authorization, content-type and content-length, in one pass (a look-up each costs 5x more)."""
    wanted: dict[bytes, str] = {}
    for name, value in raw:
        if name in _WANTED and name not in wanted:  # the first of a repeated header, as Starlette reads it
            wanted[name] = value.decode("latin-1")
    return wanted.get(b"authorization"), wanted.get(b"content-type"), wanted.get(b"content-length")


_WANTED = frozenset((b"authorization", b"content-type", b"content-length"))


def route_path(scope: Scope) -> str:
    """The path as Starlette routes it: without the root path the app is mounted at."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


def create_app(settings: Settings | None = None, *, upstream: Upstream | None = None) -> EmulatorApp:
    """The emulator as an ASGI app; with `upstream`, a request no fixture matches goes there (record mode)."""
    app = EmulatorApp(Emulator(settings or Settings()), upstream)
    logging.getLogger("uvicorn.error").addFilter(_SCRIPTED_DISCONNECTS)
    return app


def _routes(emulator: Emulator) -> list[BaseRoute]:
    """Every route but the chat POST, which EmulatorApp answers before routing."""

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

    return [
        Route(CHAT_PATH, list_stored_completions, methods=["GET"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", retrieve_model, methods=["GET"]),
        *admin_routes(emulator),
    ]


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
    emulator: Emulator, scope: Scope, raw_body: bytes | None, status: int, fixture: str | None, summary: Any,
    started: float,
) -> None:
    """Journal the request; `raw_body` is its body when that parsed as a JSON object, else None."""
    entry = JournalEntry(  # positional (journal.py), each field named after it
        time.time(),  # time
        scope["method"],  # method
        scope["path"],  # path
        ReceivedHeaders(scope["headers"]),  # headers, decoded and redacted when read
        raw_body,  # raw_body
        status,  # status
        fixture,  # fixture
        summary,  # reply
        (time.perf_counter() - started) * 1000,  # duration_ms
    )
    emulator.journal.record(entry)


async def _openai_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OpenAIError)
    return error_response(exc, request_id(), time.perf_counter())


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods answer as the real API does: 404 Invalid URL."""
    assert isinstance(exc, HTTPException)
    error = OpenAIError(exc.status_code if exc.status_code != 405 else 404, f"Invalid URL ({request.method} {request.url.path})")
    return error_response(error, request_id(), time.perf_counter())


def server_bug(rid: str) -> OpenAIError:
    """The real API's 500, naming the request id and nothing of the bug."""
    return OpenAIError(500, SERVER_ERROR.format(request_id=rid), type="server_error")


async def _server_error(request: Request, exc: Exception) -> Response:
    """A bug of ours: logged with its traceback, answered with the real 500 and no traceback."""
    rid = request_id()
    log.exception("unhandled error for %s %s (%s)", request.method, request.url.path, rid)
    request.app.state.emulator.crashes.append(exc)
    return error_response(server_bug(rid), rid, time.perf_counter())
