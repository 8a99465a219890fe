"""A bounded HTTP/1.1 load generator on raw non-blocking sockets (the fallback when wrk is absent).

Closed loop: each keep-alive connection sends the request (or the next of several), waits for
the whole response, records its latency and sends again, until the duration or the request
count runs out. One epoll loop, no asyncio and no HTTP library, so the generator costs a few
microseconds a request; `Result.cpu_share` says how busy it was (near 1.0 would mean it was
the bottleneck).
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Result:
    """What one run measured."""

    requests: int = 0  # complete responses with status 200
    errors: int = 0  # other statuses, and connections the server closed
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # the generator's own CPU time
    events: int = 0  # SSE `data:` events in the responses, `data: [DONE]` excluded
    latencies: list[float] = field(default_factory=list)  # seconds, one per 200 response

    @property
    def rate(self) -> float:
        """Responses per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def event_rate(self) -> float:
        """SSE events per second."""
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def cpu_share(self) -> float:
        """The generator's CPU time over the wall time: how close it came to being the bottleneck."""
        return self.cpu_seconds / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """The latency below which `p` percent of responses came, in seconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def post(path: str, body: bytes) -> bytes:
    """The raw bytes of a keep-alive JSON POST to loopback."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sk-bench\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class _Connection:
    """One keep-alive connection and the response it is reading."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.started = 0.0
        self.buffer = bytearray()
        self.body_start = -1
        self.length = -1  # Content-Length, or -1 for a chunked body
        self.cursor = 0  # where the next chunk-size line starts
        self.status = 0

    def send(self, request: bytes) -> None:
        """Start the next request (small requests fit the socket buffer in one send)."""
        self.buffer.clear()
        self.body_start = -1
        self.started = time.perf_counter()
        if self.sock.send(request) != len(request):
            raise RuntimeError("the request did not fit in one send")

    def complete(self) -> bool:
        """Whether the buffer holds the whole response."""
        buffer = self.buffer
        if self.body_start < 0:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return False
            head = bytes(buffer[:end]).lower()
            self.status = int(head[9:12])
            self.body_start = self.cursor = end + 4
            at = head.find(b"\r\ncontent-length:")
            if at < 0:
                self.length = -1
            else:
                line_end = head.find(b"\r\n", at + 2)
                self.length = int(head[at + 17 : line_end if line_end >= 0 else None])
        if self.length >= 0:
            return len(buffer) - self.body_start >= self.length
        # Parse the chunk sizes only once the last-chunk marker may have come: cheap per read.
        if not buffer.endswith(b"0\r\n\r\n"):
            return False
        while True:
            line_end = buffer.find(b"\r\n", self.cursor)
            if line_end < 0:
                return False
            size = int(buffer[self.cursor : line_end], 16)
            next_line = line_end + 2 + size + 2
            if len(buffer) < next_line:
                return False
            if size == 0:
                return True
            self.cursor = next_line


def run(
    address: tuple[str, int],
    request: bytes | Sequence[bytes],
    *,
    connections: int = 8,
    duration: float = 5.0,
    max_requests: int | None = None,
    count_events: bool = False,
) -> Result:
    """Drive `address` with `request` (or several, sent in turn) on `connections` keep-alive
    connections, bounded in time and count."""
    requests = [request] if isinstance(request, bytes) else list(request)
    poller = select.epoll()
    open_connections: dict[int, _Connection] = {}
    result = Result()
    budget = max_requests if max_requests is not None else 1 << 62
    cpu_start = time.process_time()
    start = time.perf_counter()
    deadline = start + duration
    sent = 0
    try:
        for _ in range(min(connections, budget)):
            connection = _Connection(address)
            open_connections[connection.sock.fileno()] = connection
            poller.register(connection.sock.fileno(), select.EPOLLIN)
            connection.send(requests[sent % len(requests)])
            sent += 1
        busy = len(open_connections)
        while busy:
            # The deadline bounds the run even if a server stops answering.
            if time.perf_counter() > deadline + 5.0:
                break
            for fd, _ in poller.poll(1.0):
                connection = open_connections[fd]
                data = connection.sock.recv(65536)
                if not data:
                    result.errors += 1
                    poller.unregister(fd)
                    busy -= 1
                    continue
                connection.buffer += data
                if not connection.complete():
                    continue
                now = time.perf_counter()
                if connection.status == 200:
                    result.requests += 1
                    result.latencies.append(now - connection.started)
                    if count_events:
                        body = connection.buffer[connection.body_start :]
                        result.events += body.count(b"data: ") - body.count(b"data: [DONE]")
                else:
                    result.errors += 1
                if sent < budget and now < deadline:
                    connection.send(requests[sent % len(requests)])
                    sent += 1
                else:
                    busy -= 1
    finally:
        result.seconds = time.perf_counter() - start
        result.cpu_seconds = time.process_time() - cpu_start
        for connection in open_connections.values():
            connection.sock.close()
        poller.close()
    return result
