"""The emulator never touches the network: a child server with every non-loopback connection refused."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.seed_examples import SEED_BASIC, SEED_IMAGE, SEED_TOOLS

SUPPORT = Path(__file__).parent / "support"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def offline_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`python -m emulator serve` in a child process whose sockets may only reach loopback."""
    port = _free_port()
    log = tmp_path_factory.mktemp("offline") / "server.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SUPPORT), os.environ.get("PYTHONPATH", "")])}
    env.pop("EMULATOR_FIXTURES", None)
    with log.open("w") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "emulator", "serve", "--port", str(port), "--seed", "3"],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 20
            while True:
                try:
                    httpx.get(url + "/v1/models", headers={"Authorization": "Bearer k"}).raise_for_status()
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or child.poll() is not None:
                        raise RuntimeError(log.read_text()) from None
                    time.sleep(0.05)
            yield url + "/v1", log
        finally:
            child.terminate()
            child.wait(timeout=10)


def test_the_guard_really_refuses_other_hosts() -> None:
    code = "import socket; socket.create_connection(('192.0.2.1', 80), timeout=1)"
    env = {**os.environ, "PYTHONPATH": str(SUPPORT)}
    result = subprocess.run([sys.executable, "-c", code], env=env, check=False, capture_output=True, text=True)
    assert result.returncode != 0 and "BLOCKED" in result.stderr


def test_seed_examples_work_with_the_network_cut_off(offline_server: tuple[str, Path]) -> None:
    base_url, log = offline_server
    with openai.OpenAI(base_url=base_url, api_key="sk-offline", max_retries=0) as sdk:
        for body in (SEED_BASIC, SEED_IMAGE, SEED_TOOLS):
            assert sdk.chat.completions.create(**body).choices
        stream = sdk.chat.completions.create(**SEED_BASIC, stream=True)
        assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
        for model in ("gpt-4", "gpt-4o"):  # both encodings load from bundled files
            assert sdk.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}]).usage
    assert "BLOCKED" not in log.read_text()
