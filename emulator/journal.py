"""The request journal: what came in, what answered it, what went out."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

# Headers whose values never reach the journal or the logs.
SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "cookie", "openai-api-key"})


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with secret values replaced."""
    return {k: ("[redacted]" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


class ReceivedHeaders(Mapping[str, str]):
    """A request's headers as the server received them (ASGI's raw name/value byte pairs), decoded
    and redacted only when read: a journal entry is written for every request, read for few.
    As a dict of Starlette's Headers: a repeated name keeps its first value."""

    __slots__ = ("_decoded", "_raw")

    def __init__(self, raw: Iterable[tuple[bytes, bytes]]) -> None:
        self._raw = raw
        self._decoded: dict[str, str] | None = None

    def _headers(self) -> dict[str, str]:
        if self._decoded is None:
            decoded: dict[str, str] = {}
            for name, value in self._raw:
                decoded.setdefault(name.decode("latin-1"), value.decode("latin-1"))
            self._decoded = redact_headers(decoded)
        return self._decoded

    def __getitem__(self, name: str) -> str:
        return self._headers()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._headers())

    def __len__(self) -> int:
        return len(self._headers())

    def __repr__(self) -> str:
        return repr(self._headers())


@dataclass(frozen=True)
class JournalEntry:
    """One request the emulator answered."""

    time: float
    method: str
    path: str
    headers: Mapping[str, str]
    body: Any  # the parsed JSON body, or None
    status: int
    fixture: str | None  # name of the fixture that answered, if one did
    reply: Mapping[str, Any] | None  # reply.summary(), or the error body
    duration_ms: float = 0.0

    @property
    def messages(self) -> list[Mapping[str, Any]]:
        """The request's messages ([] when there are none)."""
        return list((self.body or {}).get("messages") or []) if isinstance(self.body, Mapping) else []

    def as_dict(self) -> dict[str, Any]:
        """The entry as /_emulator/requests lists it."""
        return {
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "headers": dict(self.headers),
            "body": self.body,
            "status": self.status,
            "fixture": self.fixture,
            "reply": self.reply,
            "duration_ms": self.duration_ms,
        }


@dataclass
class Journal:
    """A bounded, thread-safe list of the latest entries."""

    size: int = 1000
    _entries: deque[JournalEntry] = field(init=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._entries = deque(maxlen=self.size)

    def record(self, entry: JournalEntry) -> None:
        """Keep `entry`, dropping the oldest beyond `size`."""
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[JournalEntry]:
        """A snapshot, oldest first."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(self.entries())

