"""Scripted latency: what a fixture's `latency` asks for against what a client measures."""

from __future__ import annotations

import http.client
import json
import statistics
import time
from pathlib import Path

from . import servers
from .table import Row

FIRST_TOKEN_MS = 100.0
PER_TOKEN_MS = 10.0
MODEL = "bench-latency"
# 16 tokens of o200k text. The role chunk leaves after first_token_ms, then every token after
# per_token_ms: the first content at 100 + 10 ms, the last at 100 + 16 * 10 = 260 ms.
TEXT = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
TOKENS = 16


def fixture_file(folder: Path) -> Path:
    """One fixture with scripted pacing, answering the model `bench-latency`."""
    entry = {
        "name": "paced",
        "match": {"model": MODEL},
        "reply": {"content": TEXT, "latency": {"first_token_ms": FIRST_TOKEN_MS, "per_token_ms": PER_TOKEN_MS}},
    }
    path = folder / "latency.yaml"
    path.write_text(json.dumps({"fixtures": [entry]}))
    return path


def _request(port: int, stream: bool) -> tuple[float, float]:
    """(seconds to the first content chunk, seconds to the end) for one request."""
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": stream})
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    started = time.perf_counter()
    connection.request("POST", servers.CHAT, body, {"Content-Type": "application/json",
                                                    "Authorization": "Bearer bench"})
    response = connection.getresponse()
    first = None
    if stream:
        for line in response:
            if first is None and b'"content":"' in line and b'"content":""' not in line:
                first = time.perf_counter() - started
    else:
        response.read()
    total = time.perf_counter() - started
    connection.close()
    if response.status != 200:
        raise RuntimeError(f"scripted latency: status {response.status}")
    return (total if first is None else first), total


def rows(folder: Path, samples: int = 5) -> list[Row]:
    """Scripted against measured time to first token and to the end, streamed and not."""
    server = servers.emulator(servers.free_port(), "--fixtures", str(fixture_file(folder)))
    try:
        server.wait_ready(timeout=120)
        _request(server.port, True)  # warm: tokenizer and caches
        streamed = [_request(server.port, True) for _ in range(samples)]
        whole = [_request(server.port, False)[1] for _ in range(samples)]
    finally:
        server.stop()
    total = FIRST_TOKEN_MS + PER_TOKEN_MS * TOKENS
    measured = [
        ("scripted latency, stream: first content chunk", FIRST_TOKEN_MS + PER_TOKEN_MS,
         statistics.median(s[0] for s in streamed)),
        ("scripted latency, stream: last chunk", total, statistics.median(s[1] for s in streamed)),
        ("scripted latency, non-streamed: whole reply", total, statistics.median(whole)),
    ]
    # The baseline column holds what the fixture scripts; the ratio is measured / scripted.
    return [
        Row(name, f"{scripted:.0f} ms (scripted)", f"{seconds * 1000:.0f} ms", seconds * 1000 / scripted, "", None)
        for name, scripted, seconds in measured
    ]
