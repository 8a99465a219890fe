"""Record mode: exchanges with a real OpenAI-compatible API, written as replayable fixtures.

proxy.py forwards each request upstream and hands the finished exchange to a Recorder. The
Recorder has it turned into a fixture entry (exchange.py), checks that the entry replays,
and rewrites the whole file atomically after every exchange, so stopping the recorder at any
moment loses nothing and every version of the file passes `check`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from .errors import EmulatorError
from .exchange import FAULT_HEADERS, USAGE_FIELDS, Exchange, fills_in, fixture_reply, request_match
from .fixtures import compile_entry
from .located import Problems
from .matching import RequestView
from .scrub import DEFAULT_NORMALIZERS, Scrubber

# Exchange and the field tables moved to exchange.py with the code that reads an exchange;
# they are still importable from here.
__all__ = ["FAULT_HEADERS", "USAGE_FIELDS", "Exchange", "RecordError", "Recorder"]

log = logging.getLogger("emulator")


class RecordError(EmulatorError):
    """Recording cannot start: the output file exists, or a --normalize regex is broken."""


class _Dumper(yaml.SafeDumper):
    """Block style for text of several lines, so a recorded reply reads as it was said."""


def _text(dumper: yaml.SafeDumper, value: str) -> Any:
    # Other styles write NEL (U+0085) as it is, and a YAML reader takes it for a line break.
    style = '"' if "\x85" in value else "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


class Recorder:
    """Writes each recorded exchange as a fixture entry of one YAML file.

    The file is rewritten whole and atomically after every exchange; an empty, valid one is
    written at once, so the path is known to be writable before any request comes. The same
    match recorded again becomes a `sequence`, replayed in the order it was recorded.

    >>> recorder = Recorder(Path("recorded.yaml"), upstream="https://api.openai.com/v1")
    >>> recorder.add(exchange)   # the fixture's name, or None when the exchange was not recordable
    'recorded-1'
    """

    def __init__(
        self,
        path: Path,
        *,
        upstream: str,
        normalize: Sequence[str] = (),
        keep_timing: bool = False,
        force: bool = False,
    ) -> None:
        if path.exists() and not force:
            raise RecordError(f"{path} already exists: give --force to overwrite it, or another file")
        try:
            self._scrub = Scrubber([*DEFAULT_NORMALIZERS, *normalize])
        except re.error as exc:
            raise RecordError(f"--normalize {exc.pattern!r} is not a regex: {exc}") from None
        self.path = path
        self._keep_timing = keep_timing
        self._entries: list[dict[str, Any]] = []
        self._by_match: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        # Userinfo in the URL would be a password in the file.
        shown = re.sub(r"//[^/@]*@", "//", upstream)
        self._header = (
            f"# Recorded by chat-emulator from {shown} on {time.strftime('%Y-%m-%d %H:%M:%S')}.\n"
            f"# Replay: python -m emulator serve --fixtures {path.name}\n"
        )
        try:
            self._write()
        except OSError as exc:
            raise RecordError(f"cannot write {path}: {exc.strerror or exc}") from None

    def add(self, exchange: Exchange) -> str | None:
        """Record one exchange; the name of the fixture that now answers it, or None if skipped."""
        body = exchange.request
        if not (isinstance(body, Mapping) and isinstance(body.get("model"), str) and body.get("messages")):
            # Without a model and messages a fixture would match far more than this request.
            log.warning("not recorded: the request has no model or no messages (status %d)", exchange.status)
            return None
        with self._lock:
            self._scrub.add_key(exchange.api_key)
            reply = fixture_reply(exchange, self._scrub, self._keep_timing)
            if reply is None:
                log.warning("not recorded: a %d response that is neither a chat completion nor an error", exchange.status)
                return None
            if fills_in(reply):
                log.warning("not recorded: the reply holds {{ … }}, which a fixture cannot say as it stands")
                return None
            view = RequestView(body)
            name = self._store(request_match(view, self._scrub), reply, view)
            if name is not None:
                self._write()
        if name is not None:
            log.info("recorded %s (status %d) in %s", name, exchange.status, self.path)
        return name

    def _store(self, match: dict[str, Any], reply: dict[str, Any], view: RequestView) -> str | None:
        """Add the entry, or one more step to the entry with this match; its name, None if it fails."""
        key = json.dumps(match, sort_keys=True)
        old = self._by_match.get(key)
        if old is None:
            entry: dict[str, Any] = {"name": f"{self.path.stem}-{len(self._entries) + 1}", "match": match, "reply": reply}
        else:
            steps = old["sequence"] if "sequence" in old else [old["reply"]]
            entry = {"name": old["name"], "match": match, "sequence": [*steps, reply]}
        problems = self._problems(entry, view)
        if problems:
            log.warning("not recorded: the entry would not replay:\n%s", "\n".join(problems))
            return None
        if old is None:
            self._entries.append(entry)
        else:
            self._entries[self._entries.index(old)] = entry
        self._by_match[key] = entry
        return str(entry["name"])

    def _problems(self, entry: Mapping[str, Any], view: RequestView) -> list[str]:
        """What `check` would say of the entry, and whether it fails to match its own request."""
        problems = Problems(str(self.path), entry)
        fixture = compile_entry(problems, (), entry, str(self.path))
        if fixture is not None and not fixture.match.holds(view):
            problems.report(("match",), "does not match the recorded request: " + "; ".join(fixture.match.misses(view)))
        return problems.items

    def _write(self) -> None:
        """Replace the file with every entry so far, atomically: a reader sees the old or the new."""
        text = self._header + yaml.dump(
            {"fixtures": self._entries}, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
        )
        # The temporary name ends in .tmp: a registry reloading the folder never reads it half-written.
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
