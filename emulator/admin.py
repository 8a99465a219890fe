"""The admin API under /_emulator/: runtime fixtures, the request journal, reset, health.

    POST   /_emulator/fixtures    add fixtures (YAML or JSON: `{fixtures: [...]}`, a list, or one entry)
    GET    /_emulator/fixtures    every fixture in the order tried, with its call count; scenario states
    DELETE /_emulator/fixtures    remove the runtime fixtures (file fixtures stay)
    GET    /_emulator/requests    the journal, oldest first (`?fixture=NAME` keeps that fixture's)
    DELETE /_emulator/requests    empty the journal
    POST   /_emulator/reset       forget everything: journal, runtime fixtures, counters, scenarios
    GET    /_emulator/health      liveness, counts, and the problems of a failed fixture reload

No key is asked for: like WireMock's admin API it is meant for a loopback emulator.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .errors import FixtureError, OpenAIError

if TYPE_CHECKING:
    from .app import Emulator


def admin_routes(emulator: Emulator) -> list[Route]:
    """The /_emulator/* routes, bound to one emulator's state."""

    async def add_fixtures(request: Request) -> Response:
        try:
            handles = emulator.fixtures.add_document(await request.body())
        except FixtureError as exc:
            raise OpenAIError(400, "Invalid fixtures:\n" + str(exc), code="invalid_fixture") from None
        return _json({"added": [handle.name for handle in handles]}, 201)

    async def list_fixtures(request: Request) -> Response:
        return _json({"fixtures": emulator.fixtures.describe(), "scenarios": emulator.fixtures.scenarios()})

    async def delete_fixtures(request: Request) -> Response:
        return _json({"deleted": emulator.fixtures.clear_runtime()})

    async def list_requests(request: Request) -> Response:
        wanted = request.query_params.get("fixture")
        entries = [e.as_dict() for e in emulator.journal if wanted is None or e.fixture == wanted]
        return _json({"requests": entries})

    async def delete_requests(request: Request) -> Response:
        deleted = len(emulator.journal)
        emulator.journal.clear()
        return _json({"deleted": deleted})

    async def reset(request: Request) -> Response:
        emulator.reset()
        return _json({"reset": True})

    async def health(request: Request) -> Response:
        return _json(
            {
                "status": "ok",
                "fixtures": len(emulator.fixtures.fixtures()),
                "requests": len(emulator.journal),
                "fixture_problems": emulator.fixtures.reload_problems,
            }
        )

    return [
        Route("/_emulator/fixtures", add_fixtures, methods=["POST"]),
        Route("/_emulator/fixtures", list_fixtures, methods=["GET"]),
        Route("/_emulator/fixtures", delete_fixtures, methods=["DELETE"]),
        Route("/_emulator/requests", list_requests, methods=["GET"]),
        Route("/_emulator/requests", delete_requests, methods=["DELETE"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
        Route("/_emulator/health", health, methods=["GET"]),
    ]


def _json(content: Any, status: int = 200) -> Response:
    # default=str: a fixture's spec may hold YAML values JSON has no type for (dates).
    return Response(json.dumps(content, indent=2, ensure_ascii=False, default=str), status, media_type="application/json")
