"""The model catalogue: which models are listed, their snapshot names, families and encodings."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

Encoding = Literal["o200k_base", "cl100k_base"]


@dataclass(frozen=True)
class ModelInfo:
    """What the emulator knows of one model name."""

    id: str
    snapshot: str  # what the response's `model` says
    created: int
    owned_by: str = "system"


# Alias -> dated snapshot, as the real API resolves them in responses.
SNAPSHOTS: dict[str, str] = {
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-4-turbo": "gpt-4-turbo-2024-04-09",
    "gpt-4": "gpt-4-0613",
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
    "o1": "o1-2024-12-17",
    "o3": "o3-2025-04-16",
    "o3-mini": "o3-mini-2025-01-31",
    "o4-mini": "o4-mini-2025-04-16",
    "gpt-5": "gpt-5-2025-08-07",
    "gpt-5-mini": "gpt-5-mini-2025-08-07",
    "gpt-5-nano": "gpt-5-nano-2025-08-07",
}

# Creation times of the listed models (unix seconds), for GET /v1/models.
CREATED: dict[str, int] = {
    "gpt-4o": 1715367049,
    "gpt-4o-mini": 1721172741,
    "gpt-4.1": 1744316542,
    "gpt-4.1-mini": 1744318173,
    "gpt-4.1-nano": 1744321707,
    "gpt-4-turbo": 1712361441,
    "gpt-4": 1687882411,
    "gpt-3.5-turbo": 1677610602,
    "o1": 1734375816,
    "o3": 1744225308,
    "o3-mini": 1737146383,
    "o4-mini": 1744225351,
    "gpt-5": 1754425777,
    "gpt-5-mini": 1754425928,
    "gpt-5-nano": 1754426384,
}

DEFAULT_MODELS: tuple[str, ...] = tuple(SNAPSHOTS)


def snapshot(model: str) -> str:
    """The dated name a response reports for `model` (unknown names are reported as sent)."""
    return SNAPSHOTS.get(model, model)


@lru_cache(maxsize=1024)  # every request asks; clients send a handful of names
def base_name(model: str) -> str:
    """The alias a model or snapshot name belongs to (`gpt-4o-2024-08-06` -> `gpt-4o`)."""
    if model in SNAPSHOTS:
        return model
    # Fine-tunes look like ft:gpt-4o-mini-2024-07-18:org::id
    name = model[3:].split(":", 1)[0] if model.startswith("ft:") else model
    best = ""
    for alias in SNAPSHOTS:
        if (name == alias or name.startswith(alias + "-")) and len(alias) > len(best):
            best = alias
    return best or name


@lru_cache(maxsize=1024)  # asked for every request, by validation and the token counts alike
def is_reasoning(model: str) -> bool:
    """o-series and gpt-5 models: no max_tokens, only the default temperature, reasoning_effort allowed."""
    name = base_name(model)
    return name.startswith(("o1", "o3", "o4", "gpt-5"))


@lru_cache(maxsize=1024)  # twice a request: the prompt count and the reply's pieces
def encoding_for(model: str) -> Encoding:
    """The tokenizer of a model: o200k_base for gpt-4o, gpt-4.1, o-series and gpt-5; else cl100k_base."""
    name = base_name(model)
    if name.startswith(("gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4", "chatgpt-4o")):
        return "o200k_base"
    return "cl100k_base" if name.startswith(("gpt-4", "gpt-3.5")) else "o200k_base"


@lru_cache(maxsize=1024)
def system_fingerprint(model: str) -> str | None:
    """`fp_` + 10 hex for most models; null for the gpt-5 family, as the real API sends.

    The fingerprint names a backend configuration, so it stays the same from request to request
    of a model (the live API's changes only when OpenAI changes the backend): here, one per model.
    """
    if base_name(model).startswith("gpt-5"):
        return None
    return "fp_" + hashlib.blake2b(snapshot(model).encode(), digest_size=5).hexdigest()


def model_info(model: str) -> ModelInfo:
    """Catalogue entry for a listed model id."""
    return ModelInfo(id=model, snapshot=snapshot(model), created=CREATED.get(model, 1700000000))
