"""One readable log line per request, with no secret and no body in it."""

from __future__ import annotations

import logging

import httpx
import pytest

SECRET_KEY = "sk-proj-VERYSECRET0123456789abcdefghij"


def test_each_request_logs_one_line_with_status_model_source_and_time(
    http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="emulator")
    http.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    (line,) = [r.getMessage() for r in caplog.records if r.name == "emulator"]
    assert line.startswith("POST /v1/chat/completions 200 model=gpt-4o reply=generated ")
    assert line.endswith("ms")


def test_rejections_are_logged_with_their_status(http: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="emulator")
    http.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": []})
    (line,) = [r.getMessage() for r in caplog.records if r.name == "emulator"]
    assert line.startswith("POST /v1/chat/completions 400 model=gpt-4o reply=error ")


def test_keys_and_message_text_never_reach_the_log(http: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="emulator")
    private = "my private diary entry"
    for authorization in (f"Bearer {SECRET_KEY}", SECRET_KEY):  # accepted, then refused as not Bearer
        http.post(
            "/v1/chat/completions",
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": private}]},
            headers={"Authorization": authorization},
        )
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("emulator"))
    assert logged.count("POST /v1/chat/completions") == 2
    assert SECRET_KEY not in logged and "VERYSECRET" not in logged
    assert private not in logged
