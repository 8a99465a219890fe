"""Errors.

Two kinds, kept apart:

    OpenAIError        a request the emulator rejects; becomes the wire envelope
                       {"error": {"message", "type", "param", "code"}} with its status.
      └─ FixtureFault  an error a fixture scripts (`fault: {status: 429}`); names the fixture.
    EmulatorError      our own configuration is wrong (a fixture file, a flag).
      └─ FixtureError  names the file, line and entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The real API's 500 wording (protocol §8), for our own bugs and for scripted 500s.
SERVER_ERROR = (
    "The server had an error processing your request. Sorry about that! You can retry your request, "
    "or contact us through our help center at help.openai.com if you keep seeing this error. "
    "(Please include the request ID {request_id} in your email.)"
)


class OpenAIError(Exception):
    """A rejection the client sees as an OpenAI error body with this status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The wire body, keys in the real API's order."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def __repr__(self) -> str:
        return f"OpenAIError({self.status}, {self.message!r}, param={self.param!r}, code={self.code!r})"


class FixtureFault(OpenAIError):
    """An error a fixture's `fault` asked for; `fixture` names the fixture for the journal."""

    def __init__(self, status: int, message: str, *, fixture: str, **fields: Any) -> None:
        super().__init__(status, message, **fields)
        self.fixture = fixture


def invalid_request(message: str, param: str | None = None, code: str | None = None) -> OpenAIError:
    """A 400 invalid_request_error."""
    return OpenAIError(400, message, param=param, code=code)


class EmulatorError(Exception):
    """The emulator's own configuration is wrong."""


class FixtureError(EmulatorError):
    """A fixture file is broken; `problems` holds `file:line: message` strings."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
