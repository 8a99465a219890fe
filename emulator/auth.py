"""Bearer key check, with the real API's 401 wording."""

from __future__ import annotations

from collections.abc import Collection

from .errors import OpenAIError

MISSING_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank "
    "username) if you're accessing the API from your browser and are prompted for a username and "
    "password. You can obtain an API key from https://platform.openai.com/account/api-keys."
)


def mask_key(key: str) -> str:
    """The key as the real API echoes it: first 8 and last 4 characters kept, stars between."""
    if len(key) <= 12:
        return key
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


def incorrect_key(key: str) -> OpenAIError:
    """401 for a key that is not accepted."""
    return OpenAIError(
        401,
        f"Incorrect API key provided: {mask_key(key)}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )


def bearer_key(authorization: str | None) -> str | None:
    """The key in an `Authorization: Bearer <key>` header, or None."""
    if not authorization:
        return None
    scheme, _, key = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return key.strip() or None


def check_key(authorization: str | None, accepted: Collection[str]) -> str:
    """The caller's key, or a 401: missing, or not among `accepted` (any key when it is empty)."""
    key = bearer_key(authorization)
    if key is None:
        raise OpenAIError(401, MISSING_KEY)
    if accepted and key not in accepted:
        raise incorrect_key(key)
    return key
