"""Drive a server for a while and say what it sustained: wrk when installed, else loadgen."""

from __future__ import annotations

import re
import shutil
import string
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import loadgen

CONNECTIONS = 8  # enough to keep one server core busy; the same for both servers


@dataclass(frozen=True)
class Sample:
    """What one timed run sustained."""

    rate: float  # responses per second
    events: float  # SSE events per second (0 for non-streamed replies)
    p50: float  # latency, seconds
    p99: float
    errors: int
    load_cpu: float | None  # the Python generator's share of its core (None for wrk)


def wrk_path() -> str | None:
    """wrk's path, if installed."""
    return shutil.which("wrk")


def drive(
    address: tuple[str, int], path: str, body: bytes | Sequence[bytes], seconds: float, *,
    events_per_response: int = 0, use_wrk: bool,
) -> Sample:
    """POST `body` (or each of several bodies in turn) to `path` for `seconds` on CONNECTIONS
    keep-alive connections."""
    bodies = [body] if isinstance(body, bytes) else list(body)
    if use_wrk:
        return _wrk(address, path, bodies, seconds, events_per_response)
    requests = [loadgen.post(path, each) for each in bodies]
    counting = events_per_response > 0
    result = loadgen.run(address, requests, connections=CONNECTIONS, duration=seconds, count_events=counting)
    return Sample(
        rate=result.rate,
        events=result.event_rate,
        p50=result.percentile(50),
        p99=result.percentile(99),
        errors=result.errors,
        load_cpu=result.cpu_share,
    )


# One body: wrk builds the request once. Several (one a line): each request is the next of them,
# built in `init`, once wrk has set the Host header.
_LUA = string.Template("""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
local bodies = {}
for line in io.lines("$bodies") do bodies[#bodies + 1] = line end
if #bodies == 1 then
  wrk.body = bodies[1]
else
  local requests, sent = {}, 0
  function init(args)
    for i, body in ipairs(bodies) do requests[i] = wrk.format(nil, nil, nil, body) end
  end
  function request()
    sent = sent % #requests + 1
    return requests[sent]
  end
end
""")
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _wrk(address: tuple[str, int], path: str, bodies: list[bytes], seconds: float, events_per_response: int) -> Sample:
    if any(b"\n" in body for body in bodies):
        raise ValueError("wrk takes its bodies one a line: a body must be compact JSON")
    with tempfile.TemporaryDirectory() as folder:
        body_file = Path(folder, "bodies.jsonl")
        body_file.write_bytes(b"\n".join(bodies) + b"\n")
        script = Path(folder, "post.lua")
        script.write_text(_LUA.substitute(bodies=body_file))
        command = [
            "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--latency", "-s", str(script),
            f"http://{address[0]}:{address[1]}{path}",
        ]
        out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    rate = float(_find(r"Requests/sec:\s+([\d.]+)", out))
    errors = int(_find(r"Non-2xx or 3xx responses:\s+(\d+)", out, "0"))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return Sample(
        rate=rate,
        events=rate * events_per_response,
        p50=_latency(_find(r"(?m)^\s+50%\s+(\S+)$", out)),
        p99=_latency(_find(r"(?m)^\s+99%\s+(\S+)$", out)),
        errors=errors,
        load_cpu=None,
    )


def _find(pattern: str, text: str, default: str | None = None) -> str:
    found = re.search(pattern, text)
    if found:
        return found.group(1)
    if default is None:
        raise RuntimeError(f"wrk printed no {pattern!r}:\n{text}")
    return default


def _latency(text: str) -> float:
    """`1.25ms` -> 0.00125."""
    number, unit = re.fullmatch(r"([\d.]+)([a-z]+)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]
