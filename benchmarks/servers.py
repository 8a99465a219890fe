"""Server processes for the benchmark: spawned, pinned to one core, timed to their first 200."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import loadgen, payloads

ROOT = Path(__file__).resolve().parent.parent
CHAT = "/v1/chat/completions"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cores() -> tuple[set[int], set[int]]:
    """(server cores, load cores): one core each when there are two or more, else the same one."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return set(available), set(available)
    return {available[0]}, {available[1]}


def first_status(port: int, request: bytes, timeout: float = 1.0) -> int:
    """The status of one request on a fresh connection, or 0 if nobody answers yet."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(request)
            head = sock.recv(64)
            return int(head[9:12]) if head.startswith(b"HTTP/1.1 ") else 0
    except OSError:
        return 0


class Server:
    """One server process on a loopback port, pinned to the server core."""

    def __init__(
        self, name: str, argv: Sequence[str], port: int, env: Mapping[str, str] | None = None,
        launcher: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.port = port
        self.address = ("127.0.0.1", port)
        # A file, not a pipe: a full pipe would stall a chatty server.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (open while the process runs; stop() closes it)
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [*launcher, sys.executable, *argv],  # launcher: valgrind, for instructions.py
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            env={**os.environ, **(env or {})},
        )
        os.sched_setaffinity(self.process.pid, cores()[0])

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Seconds from spawn to the first 200 on a chat request."""
        request = loadgen.post(CHAT, payloads.encode(payloads.chat_request()))
        deadline = self.started + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.output()[-2000:]}")
            if first_status(self.port, request) == 200:
                return time.perf_counter() - self.started
            time.sleep(0.002)
        raise RuntimeError(f"{self.name} gave no 200 within {timeout} s")

    def output(self) -> str:
        """What the server wrote to stderr so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def rss_mib(self) -> float:
        """Resident memory of the server process, in MiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def stop(self, timeout: float = 5.0) -> str:
        """Stop the process (SIGTERM, then SIGKILL after `timeout` seconds); what it wrote to stderr."""
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        output = self.output()
        self.log.close()
        return output


def baseline(port: int, *, launcher: Sequence[str] = ()) -> Server:
    """The bare Starlette app."""
    return Server("baseline", ["-m", "benchmarks.baseline", "--port", str(port)], port, launcher=launcher)


def emulator(port: int, *extra: str, env: Mapping[str, str] | None = None, launcher: Sequence[str] = ()) -> Server:
    """The emulator, logging warnings only (as the baseline: no line per request)."""
    argv = ["-m", "emulator", "serve", "--port", str(port), "--seed", "1", "--log-level", "warning", *extra]
    return Server("emulator", argv, port, env, launcher)
