"""Command line: `chat-emulator serve | check | record` (also `python -m emulator`)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from . import settings as config

DESCRIPTION = "An offline emulator of the OpenAI Chat Completions API."
ENV_NOTE = "Every option can also be set as an EMULATOR_* environment variable (flags win)."


def _serve_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="serve the API on HTTP",
        description="Serve POST /v1/chat/completions and GET /v1/models. " + ENV_NOTE,
    )
    serve.add_argument("--host", help="address to bind (default 127.0.0.1, loopback only) [EMULATOR_HOST]")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000) [EMULATOR_PORT]")
    serve.add_argument(
        "--fixtures",
        type=Path,
        action="append",
        metavar="PATH",
        help="YAML fixture file or folder; repeatable [EMULATOR_FIXTURES, comma-separated]",
    )
    serve.add_argument(
        "--seed",
        type=int,
        help="seed for generated replies; the same requests in the same order then get the same "
        "replies (default: random per start) [EMULATOR_SEED]",
    )
    serve.add_argument(
        "--api-key",
        dest="api_keys",
        action="append",
        metavar="KEY",
        help="accept only this Bearer key; repeatable (default: any non-empty key) [EMULATOR_API_KEYS, comma-separated]",
    )
    serve.add_argument(
        "--model",
        dest="models",
        action="append",
        metavar="NAME",
        help="model listed by GET /v1/models; repeatable (default: the common OpenAI models) "
        "[EMULATOR_MODELS, comma-separated]",
    )
    serve.add_argument(
        "--only-listed-models",
        dest="accept_any_model",
        action="store_const",
        const=False,
        help="answer 404 model_not_found for models not listed (default: serve any model name) "
        "[EMULATOR_ACCEPT_ANY_MODEL=false]",
    )
    serve.add_argument(
        "--max-body-bytes",
        type=int,
        metavar="N",
        help="largest request body accepted, else 413 (default 10485760) [EMULATOR_MAX_BODY_BYTES]",
    )
    serve.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="log verbosity (default info) [EMULATOR_LOG_LEVEL]",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command."""
    parser = argparse.ArgumentParser(prog="chat-emulator", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _serve_parser(commands)
    return parser


def settings_from_args(args: argparse.Namespace) -> config.Settings:
    """Settings from the environment, overridden by the flags that were given."""
    overrides = {
        "host": args.host,
        "port": args.port,
        "fixtures": tuple(args.fixtures) if args.fixtures else None,
        "seed": args.seed,
        "api_keys": tuple(args.api_keys) if args.api_keys else None,
        "models": tuple(args.models) if args.models else None,
        "accept_any_model": args.accept_any_model,
        "max_body_bytes": args.max_body_bytes,
        "log_level": args.log_level,
    }
    return config.from_env(**overrides)


def serve(settings: config.Settings) -> None:
    """Run the emulator under uvicorn until interrupted."""
    import uvicorn

    from .app import create_app

    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    # Our own request line replaces uvicorn's access log (it would print every request twice).
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `chat-emulator` script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    if args.command == "serve":
        serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
