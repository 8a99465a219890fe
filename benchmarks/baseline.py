"""The baseline: a bare Starlette app that answers every chat request with fixed bytes.

It reads the body as any app must, answers a fixed chat.completion, or a fixed 50-chunk SSE
stream when the body asks for one. Run under the same uvicorn settings as the emulator.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from .payloads import COMPLETION, STREAM


async def _stream() -> AsyncIterator[bytes]:
    for chunk in STREAM:
        yield chunk


async def chat_completions(request: Request) -> Response:
    """A fixed completion, or a fixed stream when the body says `"stream":true`."""
    body = await request.body()
    if b'"stream":true' in body:
        return StreamingResponse(_stream(), media_type="text/event-stream")
    return Response(COMPLETION, media_type="application/json")


def create_app() -> Starlette:
    """The baseline as an ASGI app (uvicorn factory)."""
    return Starlette(routes=[Route("/v1/chat/completions", chat_completions, methods=["POST"])])


def main() -> None:
    """`python -m benchmarks.baseline --port N`: uvicorn with the keywords emulator.cli.serve uses."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    uvicorn.run(
        "benchmarks.baseline:create_app",
        factory=True,
        host="127.0.0.1",
        port=args.port,
        workers=1,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
