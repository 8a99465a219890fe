"""The benchmark's load generators count right and send what they are given, and `serve --workers 2` serves."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from benchmarks import drivers, loadgen, payloads, plugin, servers


class _Counting(BaseHTTPRequestHandler):
    """Keep-alive answers: a JSON body by Content-Length, or 3 SSE events chunked for /stream."""

    protocol_version = "HTTP/1.1"
    seen = 0
    bodies: ClassVar[list[bytes]] = []  # what the handlers read, in order
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with _Counting.lock:
            _Counting.seen += 1
            _Counting.bodies.append(body)
        if self.path == "/stream":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for data in (b'data: {"n":1}\n\n', b'data: {"n":2}\n\n', b'data: {"n":3}\n\n', b"data: [DONE]\n\n", b""):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            return
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def tiny_server() -> Iterator[tuple[str, int]]:
    """A threaded HTTP/1.1 server on a free loopback port that counts the requests it reads."""
    _Counting.seen = 0
    _Counting.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ("127.0.0.1", server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_the_load_generator_counts_every_request_it_sends(tiny_server: tuple[str, int]) -> None:
    result = loadgen.run(tiny_server, loadgen.post("/", b"{}"), connections=4, max_requests=57, duration=60)
    assert result.requests == _Counting.seen == 57
    assert result.errors == 0
    assert len(result.latencies) == 57


def test_the_load_generator_counts_sse_events_of_chunked_replies(tiny_server: tuple[str, int]) -> None:
    result = loadgen.run(
        tiny_server, loadgen.post("/stream", b"{}"), connections=3, max_requests=10, duration=60, count_events=True
    )
    assert (result.requests, result.events, _Counting.seen) == (10, 30, 10)


def test_the_load_generator_sends_several_requests_in_turn(tiny_server: tuple[str, int]) -> None:
    requests = [loadgen.post("/", b'{"n":%d}' % n) for n in range(3)]
    result = loadgen.run(tiny_server, requests, connections=2, max_requests=9, duration=60)
    assert result.requests == 9
    assert sorted(_Counting.bodies) == sorted([b'{"n":0}', b'{"n":1}', b'{"n":2}'] * 3)


@pytest.mark.skipif(drivers.wrk_path() is None, reason="wrk is not installed")
def test_wrk_sends_several_bodies_in_turn(tiny_server: tuple[str, int]) -> None:
    bodies = [b'{"n":%d}' % n for n in range(3)]
    sample = drivers.drive(tiny_server, "/", bodies, 1, use_wrk=True)
    assert sample.errors == 0
    counts = [_Counting.bodies.count(body) for body in bodies]
    assert sum(counts) == _Counting.seen > 30
    assert max(counts) - min(counts) <= drivers.CONNECTIONS  # in turn: each within a round of the others


def test_the_new_conversations_are_all_different_and_as_long_as_the_usual_request() -> None:
    usual = payloads.encode(payloads.chat_request())
    conversations = [payloads.encode(body) for body in payloads.new_conversations(1000)]
    assert len(set(conversations)) == 1000
    assert {len(body) for body in conversations} == {len(usual)}


_NESTED_FIXTURES = """
import time

import pytest


@pytest.fixture
def inner():
    time.sleep(0.2)


@pytest.fixture
def outer(inner):
    time.sleep(0.3)


def test_0(outer):
    pass
"""


def test_the_plugin_benchmark_times_a_fixture_without_those_it_takes(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text(plugin._TIMING_CONFTEST)
    (tmp_path / "test_nested.py").write_text(_NESTED_FIXTURES)
    timings = plugin._timings(tmp_path, "-p", "no:emulator", "-p", "no:faker", "test_nested.py")
    fixtures = timings["fixtures"]
    assert 0.3 <= fixtures["outer"] < 0.5  # 0.5 or more would hold inner's 0.2 s
    assert fixtures["inner"] >= 0.2
    assert timings["setups"][0] >= 0.5


def _status(port: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(
            "POST", "/v1/chat/completions", payloads.encode(payloads.chat_request()),
            {"Authorization": "Bearer sk-test", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        assert json.loads(response.read())["object"] == "chat.completion"
        return response.status
    finally:
        connection.close()


def test_serve_with_two_workers_answers_requests() -> None:
    port = servers.free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve", "--port", str(port), "--workers", "2", "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while servers.first_status(port, loadgen.post("/v1/chat/completions", b"{}")) == 0:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            assert time.monotonic() < deadline, "serve --workers 2 never answered"
            time.sleep(0.05)
        assert [_status(port) for _ in range(6)] == [200] * 6
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the supervisor and its two workers
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if process.stderr:
            process.stderr.close()
