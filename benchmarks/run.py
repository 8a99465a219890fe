"""`make bench`: the emulator against a bare Starlette baseline, side by side, on loopback.

Servers run on one core, the load (wrk, else benchmarks/loadgen.py) on the other. Every
throughput figure is taken in rounds, baseline and emulator interleaved, and each ratio is the
median of the per-round ratios, so a neighbour's load on the machine hits both sides alike.
"""

from __future__ import annotations

import argparse
import compileall
import http.client
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from . import drivers, instructions, latency, loadgen, payloads, plugin, servers
from .drivers import Sample
from .servers import CHAT, Server
from .table import NOT_BUILT, Row, print_table

# More than the emulator keeps of what it worked out from a body (256 accepted bodies, 1,024
# prompt counts), so each of them, sent in turn, comes back to an emulator that forgot it.
NEW_CONVERSATIONS = 4096
REPLAY_TEXT = "It is 18 degrees in Boston with a 70% chance of rain, so take an umbrella."


def machine() -> str:
    """nproc, CPU model, Python version: where the figures come from."""
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown CPU")
    load = os.getloadavg()[0]
    return f"nproc {os.cpu_count()}, {model}, Python {platform.python_version()}, 1-minute load average {load:.2f}"


def fixture_file(folder: Path, count: int, *, contains: bool = False) -> Path:
    """`count` fixtures whose last two answer the benchmark requests; each matches the last user
    text exactly or, with `contains`, by a substring (the registry indexes both)."""

    def said(text: str) -> str | dict[str, str]:
        return {"contains": text} if contains else text

    entries: list[dict[str, Any]] = [
        {"name": f"other-{i}", "match": {"last_user": said(f"Question {i}?")}, "reply": {"content": f"Answer {i}."}}
        for i in range(count - 2)
    ]
    asked = payloads.chat_request()["messages"][1]["content"]
    entries += [
        # Long enough for the request's 48-token limit to cut: a 50-chunk stream.
        {"name": "stream", "match": {"last_user": said(asked), "stream": True}, "reply": {"content": REPLAY_TEXT * 3}},
        {"name": "weather", "match": {"last_user": said(asked)}, "reply": {"content": REPLAY_TEXT}},
    ]
    path = folder / f"fixtures-{count}{'-contains' * contains}.yaml"
    # JSON is YAML: written fast, read by the same loader.
    path.write_text(json.dumps({"fixtures": entries}, indent=1))
    return path


def replays(server: Server, body: bytes) -> bool:
    """Whether the server answers the benchmark request `body` from its fixture."""
    connection = http.client.HTTPConnection(*server.address, timeout=30)
    headers = {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}
    try:
        connection.request("POST", CHAT, body, headers)
        answer = json.loads(connection.getresponse().read())
    finally:
        connection.close()
    return bool(answer.get("choices")) and answer["choices"][0]["message"].get("content") == REPLAY_TEXT


def streaming_request(server: Server, candidates: Iterable[bytes]) -> bytes:
    """The first candidate body whose stream is exactly 50 chunks (checked: wrk cannot count them)."""
    for body in candidates:
        result = loadgen.run(server.address, loadgen.post(CHAT, body), connections=1, max_requests=1, count_events=True)
        if result.events == payloads.STREAM_CHUNKS:
            return body
    raise RuntimeError(f"no candidate request gives a {payloads.STREAM_CHUNKS}-chunk stream")


def interleaved(
    pairs: Sequence[tuple[Callable[[], Sample], Callable[[], Sample]]], rounds: int
) -> list[tuple[list[Sample], list[Sample]]]:
    """Each (baseline, emulator) pair run `rounds` times, alternating which goes first."""
    results: list[tuple[list[Sample], list[Sample]]] = [([], []) for _ in pairs]
    for round_ in range(rounds):
        for (first, second), (firsts, seconds) in zip(pairs, results):
            if round_ % 2:
                seconds.append(second())
                firsts.append(first())
            else:
                firsts.append(first())
                seconds.append(second())
    return results


def median_ratio(base: Sequence[float], emu: Sequence[float]) -> float:
    """The median of the per-round ratios emu/base."""
    return statistics.median(e / b for b, e in zip(base, emu))


def throughput_rows(name: str, base: list[Sample], emu: list[Sample], floor: float) -> list[Row]:
    """Requests/s, p50 and p99 of one scenario."""
    ratio = median_ratio([s.rate for s in base], [s.rate for s in emu])
    rows = [Row(f"{name}: requests/s", _num(base, "rate"), _num(emu, "rate"), ratio, f">= {floor}x", ratio >= floor)]
    for p in ("p50", "p99"):
        r = median_ratio([getattr(s, p) for s in base], [getattr(s, p) for s in emu])
        rows.append(Row(f"{name}: {p} latency", _ms(base, p), _ms(emu, p), r, "", None))
    return rows


def _num(samples: Sequence[Sample], field: str) -> str:
    return f"{statistics.median(getattr(s, field) for s in samples):,.0f}"


def _ms(samples: Sequence[Sample], field: str) -> str:
    return f"{statistics.median(getattr(s, field) for s in samples) * 1000:.2f} ms"


def cold_starts(rounds: int, *, first_run: bool = False) -> tuple[list[float], list[float]]:
    """Seconds from spawn to the first 200, baseline and emulator alternately.

    The emulator keeps a rank table per encoding in its cache directory, written on a machine's
    first run (emulator/tokens.py); `first_run` gives each emulator an empty one, as on a new machine.
    """
    base: list[float] = []
    emu: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(rounds):
            cache = {"XDG_CACHE_HOME": str(Path(folder, str(round_)))} if first_run else None
            makers = ((servers.baseline, base), (partial(servers.emulator, env=cache), emu))
            for make, into in makers[:: -1 if round_ % 2 else 1]:
                server = make(servers.free_port())
                try:
                    into.append(server.wait_ready())
                finally:
                    server.stop()
    return base, emu


def memory(requests: int) -> list[Row]:
    """Resident memory after 1,000 requests and after `requests`, each server fresh."""
    rows = []
    body = loadgen.post(CHAT, payloads.encode(payloads.chat_request()))
    for make in (servers.baseline, servers.emulator):
        server = make(servers.free_port())
        try:
            server.wait_ready()
            loadgen.run(server.address, body, max_requests=1000, duration=120)
            early = server.rss_mib()
            done = loadgen.run(server.address, body, max_requests=requests - 1000, duration=300)
            late = server.rss_mib()
        finally:
            server.stop()
        if done.requests != requests - 1000:
            raise RuntimeError(f"{server.name}: {done.requests} of {requests - 1000} requests answered")
        ratio = late / early
        rows.append(
            Row(f"memory, {server.name}: RSS after {requests:,} / after 1,000", f"{early:.1f} MiB", f"{late:.1f} MiB",
                ratio, "<= 1.1x (flat)", ratio <= 1.1)
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Run every measurement and print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each timed run (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per figure (default 3)")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto",
                        help="wrk when installed (auto), or the Python generator")
    parser.add_argument("--memory-requests", type=int, default=100_000, help="requests before the last RSS reading")
    parser.add_argument("--instructions", type=int, default=0, metavar="N",
                        help="also count the instructions of N requests under valgrind's callgrind (default 0: not)")
    args = parser.parse_args(argv)

    started = time.monotonic()
    # Bytecode as an installed package has it: an editable install run with PYTHONDONTWRITEBYTECODE
    # would compile every module again at each spawn (~0.14 s of the emulator's cold start).
    for package in ("emulator", "benchmarks"):
        compileall.compile_dir(servers.ROOT / package, quiet=1)
    server_cores, load_cores = servers.cores()
    os.sched_setaffinity(0, load_cores)  # this process and the wrk it starts: the load core
    use_wrk = args.loadgen == "wrk" or (args.loadgen == "auto" and drivers.wrk_path() is not None)
    print(f"machine: {machine()}")
    print(f"servers on core {sorted(server_cores)}, load on core {sorted(load_cores)} "
          f"by {'wrk' if use_wrk else 'the Python generator (benchmarks/loadgen.py)'}, "
          f"{drivers.CONNECTIONS} connections, {args.rounds} rounds of {args.seconds:g} s\n")

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as folder:
        running = {
            "baseline": servers.baseline(servers.free_port()),
            "generated": servers.emulator(servers.free_port()),
        }
        for count, contains, key in ((10, False, "10"), (10_000, False, "10k"), (10, True, "10 contains"),
                                     (10_000, True, "10k contains")):
            fixtures = fixture_file(Path(folder), count, contains=contains)
            running[key] = servers.emulator(servers.free_port(), "--fixtures", str(fixtures))
        try:
            for server in running.values():
                server.wait_ready(timeout=120)
            request = payloads.encode(payloads.chat_request())
            fixtures_built = all(replays(server, request) for key, server in running.items() if key.startswith("10"))
            measured, samples = _throughput(running, fixtures_built, args.seconds, args.rounds, use_wrk)
            rows += measured
        finally:
            for server in running.values():
                server.stop()

    base, emu = cold_starts(args.rounds + 2)
    ratio = median_ratio(base, emu)
    rows.append(Row("cold start: spawn to first 200", f"{statistics.median(base) * 1000:.0f} ms",
                    f"{statistics.median(emu) * 1000:.0f} ms", ratio, "<= 2x", ratio <= 2))
    base, emu = cold_starts(args.rounds, first_run=True)
    rows.append(Row("cold start, a machine's first run (no rank table yet)", f"{statistics.median(base) * 1000:.0f} ms",
                    f"{statistics.median(emu) * 1000:.0f} ms", median_ratio(base, emu), "", None))
    rows += plugin.rows()
    with tempfile.TemporaryDirectory() as folder:
        rows += latency.rows(Path(folder))
    rows += memory(args.memory_requests)
    if args.instructions:
        if instructions.valgrind() is None:
            raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
        with tempfile.TemporaryDirectory() as folder:
            rows += instructions.rows(args.instructions, str(fixture_file(Path(folder), 10)))

    print_table(rows)
    loads = [s.load_cpu for s in samples if s.load_cpu is not None]
    if loads:
        busy = max(loads)
        print(f"\nPython load generator: at most {busy:.0%} of its core busy (near 100% would make it the bottleneck)")
    print(f"took {time.monotonic() - started:.0f} s")
    return 0


def _throughput(
    running: dict[str, Server], fixtures_built: bool, seconds: float, rounds: int, use_wrk: bool
) -> tuple[list[Row], list[Sample]]:
    """Generated, replayed and streamed replies, a new conversation each request, and matching
    among 10 and 10,000 fixtures."""

    def run(server: Server, body: bytes | Sequence[bytes], events: int = 0) -> Callable[[], Sample]:
        def sample() -> Sample:
            taken = drivers.drive(server.address, CHAT, body, seconds, events_per_response=events, use_wrk=use_wrk)
            if taken.errors:
                raise RuntimeError(f"{server.name}: {taken.errors} failed responses")
            return taken

        return sample

    base, generated = running["baseline"], running["generated"]
    request = payloads.encode(payloads.chat_request())
    # A fixture streams the 50-chunk reply once fixtures exist; until then, generated structured output.
    if fixtures_built:
        streamer = running["10"]
        limit = payloads.STREAM_CHUNKS - 2
        candidates: Iterable[bytes] = [payloads.encode(payloads.chat_request(stream=True, max_completion_tokens=limit))]
    else:
        streamer = generated
        candidates = (payloads.encode(payloads.stream_request(seed)) for seed in range(20))
    stream_body = streaming_request(streamer, candidates)
    baseline_stream = payloads.encode(payloads.chat_request(stream=True))
    pairs = [
        (run(base, request), run(generated, request)),
        (run(base, baseline_stream, payloads.STREAM_CHUNKS), run(streamer, stream_body, payloads.STREAM_CHUNKS)),
    ]
    warm = [(base, request), (base, baseline_stream), (generated, request), (streamer, stream_body)]
    if fixtures_built:
        few, lots = running["10"], running["10k"]
        few_contains, lots_contains = running["10 contains"], running["10k contains"]
        # A new conversation each request: no body, and no message list, comes again while the
        # emulator still keeps what it worked out from it (accepted bodies, prompt token counts).
        conversations = [payloads.encode(body) for body in payloads.new_conversations(NEW_CONVERSATIONS)]
        if not replays(few, conversations[0]):
            raise RuntimeError("the fixture does not answer the benchmark's new conversations")
        pairs += [
            (run(base, request), run(few, request)),
            (run(few, request), run(lots, request)),
            (run(few_contains, request), run(lots_contains, request)),
            (run(base, conversations), run(few, conversations)),
        ]
        warm += [(few, request), (lots, request), (few_contains, request), (lots_contains, request)]
    for server, body in warm:  # caches filled and code paths taken once before anything counts
        loadgen.run(server.address, loadgen.post(CHAT, body), connections=drivers.CONNECTIONS, duration=0.5)
    results = interleaved(pairs, rounds)

    rows = throughput_rows("generated reply", *results[0], floor=0.5)
    stream_base, stream_emu = results[1]
    ratio = median_ratio([s.events for s in stream_base], [s.events for s in stream_emu])
    source = "fixture" if fixtures_built else "generated"
    rows.append(Row(f"streaming: chunks/s (50-chunk {source} reply)", _num(stream_base, "events"),
                    _num(stream_emu, "events"), ratio, ">= 0.7x", ratio >= 0.7))
    if fixtures_built:
        rows += throughput_rows("fixture replay", *results[2], floor=0.7)
        new_base, new_emu = results[5]
        rows.append(Row("fixture replay, a new conversation each request: requests/s", _num(new_base, "rate"),
                        _num(new_emu, "rate"), median_ratio([s.rate for s in new_base], [s.rate for s in new_emu]),
                        "", None))
        for kind, (with_10, with_10k) in (("exact last_user", results[3]), ("last_user contains", results[4])):
            ratio = median_ratio([s.p50 for s in with_10], [s.p50 for s in with_10k])
            rows.append(Row(f"matching, {kind}: p50, 10,000 fixtures / 10 (baseline: 10)", _ms(with_10, "p50"),
                            _ms(with_10k, "p50"), ratio, "<= 1.2x", ratio <= 1.2))
    else:
        rows.append(Row("fixture replay: requests/s", NOT_BUILT, NOT_BUILT, None, ">= 0.7x", None))
        rows.append(Row("matching: p50, 10,000 fixtures / 10", NOT_BUILT, NOT_BUILT, None, "<= 1.2x", None))
    return rows, [sample for pair in results for side in pair for sample in side]


if __name__ == "__main__":
    sys.exit(main())
