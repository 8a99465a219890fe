"""The request journal: what came in, what answered it, what went out."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .validation import read_json

# Headers whose values never reach the journal or the logs.
SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "cookie", "openai-api-key"})

_G = TypeVar("_G")
_V = TypeVar("_V")


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with secret values replaced."""
    return {k: ("[redacted]" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


class ReadLater(Mapping[str, _V], Generic[_G, _V]):
    """A mapping worked out, by `_work_out`, from what it was given when first read: a journal
    entry is written for every request, and read for few."""

    __slots__ = ("_given", "_worked_out")

    def __init__(self, given: _G) -> None:
        self._given = given
        self._worked_out: dict[str, _V] | None = None

    def _work_out(self, given: _G) -> dict[str, _V]:
        raise NotImplementedError

    def _mapping(self) -> dict[str, _V]:
        if self._worked_out is None:
            self._worked_out = self._work_out(self._given)
        return self._worked_out

    def __getitem__(self, key: str) -> _V:
        return self._mapping()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping())

    def __len__(self) -> int:
        return len(self._mapping())

    def __repr__(self) -> str:
        return repr(self._mapping())


class ReceivedHeaders(ReadLater[Iterable[tuple[bytes, bytes]], str]):
    """A request's headers as the server received them (ASGI's raw name/value byte pairs), decoded
    and redacted when read. As a dict of Starlette's Headers: a repeated name keeps its first value."""

    __slots__ = ()

    def _work_out(self, given: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
        decoded: dict[str, str] = {}
        for name, value in given:
            decoded.setdefault(name.decode("latin-1"), value.decode("latin-1"))
        return redact_headers(decoded)


_UNREAD: Any = object()  # the body, before it is first read


# Written for every request, read for few: slotted, not frozen, whose __init__ sets each field
# through object.__setattr__ (1.7 us against 0.5 us an entry); built with positional arguments,
# as types.py says why (1.1 us against 0.45 us).
@dataclass(slots=True)
class JournalEntry:
    """One request the emulator answered; `body` is parsed from `raw_body` when first read.

    An entry keeps the body's bytes rather than the request's parsed body: one object for
    each of the journal's requests rather than one for each value. The journal outlives the
    memory caches, so each request's values, freed as it ends, are the next one's (measured:
    524 misses of a 2 MB cache a request at 1000 entries kept, 125 so; BENCHMARKS.md).
    """

    time: float
    method: str
    path: str
    headers: Mapping[str, str]
    raw_body: bytes | None  # the body as it came, when it parsed as a JSON object; else None
    status: int
    fixture: str | None  # name of the fixture that answered, if one did
    reply: Mapping[str, Any] | None  # reply.summary(), or the error body
    duration_ms: float = 0.0
    _body: Any = field(default=_UNREAD, init=False, repr=False, compare=False)

    @property
    def body(self) -> Any:
        """The parsed JSON body, or None."""
        if self._body is _UNREAD:
            self._body = None if self.raw_body is None else read_json(self.raw_body)
        return self._body

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
            "reply": None if self.reply is None else dict(self.reply),
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

