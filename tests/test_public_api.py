"""The package's public surface is small and deliberate."""

from __future__ import annotations

import emulator


def test_the_package_exports_exactly_its_public_names() -> None:
    assert sorted(emulator.__all__) == [
        "BackgroundServer", "Emulator", "EmulatorError", "FixtureError", "FixtureHandle", "OpenAIError",
        "Settings", "create_app",
    ]
    assert all(hasattr(emulator, name) for name in emulator.__all__)


def test_a_server_from_the_public_names_answers_the_sdk() -> None:
    import openai

    with emulator.BackgroundServer(emulator.Settings(port=0, seed=1)) as server:
        server.app.state.emulator.add_fixture({"match": {}, "reply": {"content": "public"}})
        with openai.OpenAI(base_url=server.base_url, api_key="sk-local", max_retries=0) as client:
            reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "public"
