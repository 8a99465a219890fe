"""chat-emulator: an offline emulator of the OpenAI Chat Completions API.

    from emulator import BackgroundServer, Settings

    with BackgroundServer(Settings(port=0, seed=1)) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-local")

What is not exported here may change without notice.
"""

from .app import Emulator, create_app
from .errors import EmulatorError, FixtureError, OpenAIError
from .registry import FixtureHandle
from .server import BackgroundServer
from .settings import Settings

__all__ = [
    "BackgroundServer",
    "Emulator",
    "EmulatorError",
    "FixtureError",
    "FixtureHandle",
    "OpenAIError",
    "Settings",
    "create_app",
]
