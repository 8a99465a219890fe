"""Instructions a server spends on one request, counted by valgrind's callgrind.

Wall-clock ratios on a shared machine move by a third between runs; an instruction count does
not: the same code, request and interpreter give the same count whatever else the machine
does. It leaves out what the CPU's caches add on the wire, so it is a check on a change, not a
figure for the targets.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable

from . import loadgen, payloads, servers
from .servers import CHAT, Server
from .table import Row

WARM_UP = 200  # requests before counting: caches filled, the fast encoder built
_COLLECTED = re.compile(r"Collected : (\d+)")


def valgrind() -> str | None:
    """valgrind's path, if installed."""
    return shutil.which("valgrind")


def per_request(make: Callable[..., Server], requests: int, *extra: str) -> float:
    """The server's instructions a request: a run of WARM_UP + `requests` less one of WARM_UP."""
    body = loadgen.post(CHAT, payloads.encode(payloads.chat_request()))
    totals = []
    for count in (WARM_UP, WARM_UP + requests):
        launcher = ("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null")
        server = make(servers.free_port(), *extra, launcher=launcher)
        try:
            server.wait_ready(timeout=300)
            done = loadgen.run(server.address, body, connections=1, max_requests=count, duration=600)
        finally:
            output = server.stop(timeout=120)  # callgrind writes its total as the server exits
        if done.requests != count:
            raise RuntimeError(f"{server.name} under callgrind: {done.requests} of {count} requests answered")
        found = _COLLECTED.findall(output)
        if not found:
            raise RuntimeError(f"callgrind printed no total for {server.name}:\n{output[-2000:]}")
        totals.append(int(found[-1]))
    return (totals[1] - totals[0]) / requests


def rows(requests: int, fixtures: str) -> list[Row]:
    """Instructions a request, the baseline's against a generated and a replayed reply's."""
    baseline = per_request(servers.baseline, requests)
    out = []
    for name, extra in (("generated reply", ()), ("fixture replay", ("--fixtures", fixtures))):
        emulator = per_request(servers.emulator, requests, *extra)
        out.append(
            Row(f"{name}: instructions a request (callgrind; ratio baseline/emulator)", f"{baseline / 1000:,.0f}k",
                f"{emulator / 1000:,.0f}k", baseline / emulator, "", None)
        )
    return out
