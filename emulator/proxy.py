"""Forwarding to a real OpenAI-compatible API, for `record` and `serve --record-missing`.

A request goes upstream as it came, the caller's Authorization included; the answer comes
back as the upstream gave it (status, body, headers), a stream chunk by chunk as each chunk
arrives. A chat exchange, once complete, goes to the Recorder (record.py), which writes it
as a fixture.
"""

from __future__ import annotations

import codecs
import json
import logging
import time
from collections.abc import AsyncIterator, Callable

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from .app import error_response, route_path
from .auth import bearer_key
from .errors import OpenAIError
from .exchange import Exchange
from .ids import request_id
from .record import Recorder

log = logging.getLogger("emulator")

# Headers that describe one connection, or that httpx sets itself: it decodes the body, so the
# upstream's encoding and length do not describe the bytes the client gets.
HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "host", "content-length", "accept-encoding", "content-encoding",
    }
)
NOT_RETURNED = HOP_BY_HOP | {"set-cookie"}  # the upstream's cookies are for its domain, not ours
TIMEOUT = httpx.Timeout(600.0, connect=10.0)  # the SDK's own: a long completion takes minutes


class Upstream:
    """A real OpenAI-compatible API, and the Recorder its chat exchanges are written by.

    >>> upstream = Upstream("https://api.openai.com/v1", Recorder(Path("recorded.yaml"), upstream=...))
    >>> app = recorder_app(upstream)   # forward everything; or create_app(settings, upstream=upstream)
    """

    def __init__(self, base_url: str, recorder: Recorder) -> None:
        self.base_url = base_url.rstrip("/")
        self.recorder = recorder
        # One TLS context for every request: building one reads the CA bundle (milliseconds).
        self._tls = httpx.create_ssl_context()

    async def forward(self, request: Request, body: bytes, *, record: bool) -> Response:
        """The upstream's answer to `request`, whose body was read as `body`; recorded if `record`."""
        # The path below the prefix the app is mounted at: the upstream knows only its own routes.
        url = self.base_url + route_path(request.scope).removeprefix("/v1")
        if request.url.query:
            url += "?" + request.url.query
        headers = {name: value for name, value in request.headers.items() if name not in HOP_BY_HOP}
        # A client per request, closed with it: no pooled connection outlives the server.
        client = httpx.AsyncClient(verify=self._tls, timeout=TIMEOUT)
        started = time.perf_counter()
        try:
            outgoing = client.build_request(request.method, url, headers=headers, content=body)
            response = await client.send(outgoing, stream=True)
        except httpx.HTTPError as exc:
            await client.aclose()
            log.warning("upstream %s did not answer: %s", url, exc)
            error = OpenAIError(502, f"The upstream API at {self.base_url} did not answer: {exc}", type="server_error")
            return error_response(error, request_id(), started)
        returned = {name: value for name, value in response.headers.items() if name not in NOT_RETURNED}

        def done(content: bytes, events: tuple[tuple[float, str], ...]) -> None:
            if not record:
                return
            exchange = Exchange(
                request=_json(body),
                api_key=bearer_key(request.headers.get("authorization")),
                status=response.status_code,
                headers=dict(response.headers),
                body=content,
                events=events,
                elapsed_ms=(time.perf_counter() - started) * 1000,
            )
            try:
                self.recorder.add(exchange)
            except OSError as exc:
                # The client still gets its answer; the file keeps what it had.
                log.error("could not write %s: %s", self.recorder.path, exc)

        if response.status_code == 200 and response.headers.get("content-type", "").startswith("text/event-stream"):
            relay = _relay(client, response, started, lambda events: done(b"", events))
            return StreamingResponse(relay, response.status_code, returned)
        try:
            content = await response.aread()
        finally:
            await response.aclose()
            await client.aclose()
        done(content, ())
        return Response(content, response.status_code, returned)


async def _relay(
    client: httpx.AsyncClient,
    response: httpx.Response,
    started: float,
    done: Callable[[tuple[tuple[float, str], ...]], None],
) -> AsyncIterator[bytes]:
    """The stream's bytes as they arrive; `done` is called with its events once it is complete.

    Complete means `[DONE]` or an error event: the file is written before the client reads
    that event, since a client may hang up as soon as it has (the Python SDK does).
    """
    events = _Events()
    recorded = False
    try:
        async for chunk in response.aiter_bytes():
            if events.feed(chunk, (time.perf_counter() - started) * 1000) and not recorded:
                done(tuple(events.items))
                recorded = True
            yield chunk
        if not recorded:
            done(tuple(events.items))  # the upstream ended the stream its own way
    finally:
        await response.aclose()
        await client.aclose()


class _Events:
    """The `data:` payloads of an SSE stream as each event completes, with the ms it arrived at."""

    def __init__(self) -> None:
        self.items: list[tuple[float, str]] = []
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""

    def feed(self, chunk: bytes, ms: float) -> bool:
        """Take the next bytes; whether the stream has ended (`[DONE]`, or an error event)."""
        self._buffer = (self._buffer + self._decoder.decode(chunk)).replace("\r\n", "\n")
        *blocks, self._buffer = self._buffer.split("\n\n")
        ended = False
        for block in blocks:
            lines = [line[5:].removeprefix(" ") for line in block.split("\n") if line.startswith("data:")]
            if lines:
                data = "\n".join(lines)
                self.items.append((ms, data))
                ended = ended or data == "[DONE]" or _is_error(data)
        return ended


def _is_error(data: str) -> bool:
    """Whether an event's payload is an error object (checked cheaply before it is parsed)."""
    if '"error"' not in data:
        return False
    parsed = _json(data)
    return isinstance(parsed, dict) and "error" in parsed


def _json(raw: str | bytes) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def recorder_app(upstream: Upstream) -> Starlette:
    """The `record` command's app: every request forwarded, chat completions recorded too."""

    async def chat_completions(request: Request) -> Response:
        return await upstream.forward(request, await request.body(), record=True)

    async def anything_else(request: Request) -> Response:
        # The models list and the rest pass through, so a client that looks around still works.
        return await upstream.forward(request, await request.body(), record=False)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/{path:path}", anything_else, methods=methods),
        ]
    )
