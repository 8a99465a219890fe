"""Command line: `chat-emulator serve | check | record` (also `python -m emulator`)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import settings as config

if TYPE_CHECKING:
    from .app import EmulatorApp

DESCRIPTION = "An offline emulator of the OpenAI Chat Completions API."
ENV_NOTE = "Every option can also be set as an EMULATOR_* environment variable (flags win)."
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
RECORDED = Path("recorded.yaml")  # where `record` and `serve --record-missing` write by default


def _serve_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="serve the API on HTTP",
        description="Serve POST /v1/chat/completions and GET /v1/models. " + ENV_NOTE,
    )
    _listening_arguments(serve)
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
        metavar="N",
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
        "--workers",
        type=int,
        default=os.environ.get("EMULATOR_WORKERS", "1"),
        metavar="N",
        help="worker processes (default 1). Each worker keeps its own state: the request journal, "
        "fixtures added at run time, scenario and sequence positions, and the arrival count that "
        "varies unseeded replies; a /_emulator/* call reaches one worker only. Use one worker for "
        "tests that read or reset that state [EMULATOR_WORKERS]",
    )
    serve.add_argument(
        "--strict",
        action="store_const",
        const=True,
        help="answer a request no fixture matches with a 400 naming the closest fixtures, instead of "
        "a generated reply [EMULATOR_STRICT=true]",
    )
    serve.add_argument(
        "--journal-size",
        type=int,
        metavar="N",
        help="requests kept for GET /_emulator/requests, oldest dropped first (default 1000) [EMULATOR_JOURNAL_SIZE]",
    )
    missing = serve.add_argument_group(
        "record missing",
        "Forward the requests no fixture matches to a real API and write each exchange as a fixture "
        "(README, Record mode). These options have no EMULATOR_* variables.",
    )
    missing.add_argument(
        "--record-missing",
        action="store_true",
        help="forward requests no fixture matches to --upstream and record them (one process: not with --strict "
        "or --workers)",
    )
    _recording_arguments(missing, "--record-out")


def _record_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    record = commands.add_parser(
        "record",
        help="forward to a real API and write the exchanges as fixtures",
        description="Forward every request to a real OpenAI-compatible API, unchanged, and write each chat "
        "completion exchange as a replayable fixture: the file is rewritten after every exchange, keys "
        "and key-like strings never reach it. Replay it with `serve --fixtures FILE`.",
    )
    _listening_arguments(record)
    _recording_arguments(record, "--out")


def _listening_arguments(parser: argparse.ArgumentParser) -> None:
    """The options `serve` and `record` share: where to listen, how much to log."""
    parser.add_argument("--host", help="address to bind (default 127.0.0.1, loopback only) [EMULATOR_HOST]")
    parser.add_argument("--port", type=int, help="port to listen on (default 8000) [EMULATOR_PORT]")
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="log verbosity (default info) [EMULATOR_LOG_LEVEL]",
    )


def _recording_arguments(parser: argparse._ActionsContainer, out_flag: str) -> None:
    """The options `record` and `serve --record-missing` share."""
    parser.add_argument(
        "--upstream",
        metavar="URL",
        required=out_flag == "--out",
        help="the real API's base URL as the SDK takes it, ending in /v1 (e.g. https://api.openai.com/v1); "
        "the caller's Authorization goes there as it came",
    )
    parser.add_argument(
        out_flag,
        dest="record_out",
        type=Path,
        metavar="FILE",
        help=f"YAML fixture file to write (default {RECORDED}); an existing one needs --force",
    )
    parser.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    parser.add_argument(
        "--normalize",
        action="append",
        metavar="REGEX",
        help="a volatile value that match text holds as this regex, so a replay with another value still "
        "matches; repeatable, added to the defaults (UUIDs, timestamps, API ids, hex digests)",
    )
    parser.add_argument(
        "--keep-timing",
        action="store_true",
        help="also record the latency (first_token_ms, per_token_ms) and chunking the upstream streamed with",
    )


def _check_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = commands.add_parser(
        "check",
        help="check fixture files",
        description="Check YAML fixture files (or folders of them): every problem as file:line: message. "
        "Exit status 1 when there is one.",
    )
    check.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="fixture file or folder")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command."""
    parser = argparse.ArgumentParser(prog="chat-emulator", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _serve_parser(commands)
    _check_parser(commands)
    _record_parser(commands)
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
        "strict": args.strict,
        "journal_size": args.journal_size,
        "log_level": args.log_level,
    }
    return config.from_env(**overrides)


def app_from_env() -> EmulatorApp:
    """The app a uvicorn worker builds: its settings come from the EMULATOR_* variables serve() set."""
    from .app import create_app

    settings = config.from_env()
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT)
    return create_app(settings)


def _environment(settings: config.Settings) -> dict[str, str]:
    """`settings` as EMULATOR_* variables, which every worker process inherits."""
    env = {}
    for name, value in dataclasses.asdict(settings).items():
        if value is None:
            continue
        if isinstance(value, tuple):
            value = ",".join(str(item) for item in value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        env[config.ENV_PREFIX + name.upper()] = str(value)
    return env


def serve(settings: config.Settings, workers: int = 1) -> None:
    """Run the emulator under uvicorn until interrupted, in `workers` processes.

    Each worker builds its own app from the environment (a factory import string), so the
    seed and every other setting are the same in all of them, and all state is per worker.
    """
    import uvicorn

    os.environ.update(_environment(settings))
    # Our own request line replaces uvicorn's access log (it would print every request twice).
    # benchmarks/baseline.py runs the baseline with these same keywords: keep them in step.
    uvicorn.run(
        "emulator.cli:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level=settings.log_level,
        access_log=False,
    )


def check(paths: Sequence[Path]) -> int:
    """`check`: print every problem of the fixture files; 1 if there is one, else 0."""
    from .fixtures import fixture_problems

    problems, count = fixture_problems(paths)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem{'s' * (len(problems) != 1)} found")
        return 1
    print(f"ok: {count} fixture{'s' * (count != 1)}")
    return 0


def record(args: argparse.Namespace, settings: config.Settings, *, missing_only: bool) -> int:
    """`record`, or `serve --record-missing` (`missing_only`): forward, record, until interrupted.

    One process, running the app object itself: there is one file to write, and the recorder
    that writes it must see every exchange.
    """
    import uvicorn

    from .app import create_app
    from .proxy import Upstream, recorder_app
    from .record import Recorder, RecordError

    out = args.record_out or RECORDED
    try:
        recorder = Recorder(
            out, upstream=args.upstream, normalize=args.normalize or (), keep_timing=args.keep_timing, force=args.force
        )
    except RecordError as exc:
        print(f"chat-emulator: {exc}", file=sys.stderr)
        return 2
    upstream = Upstream(args.upstream, recorder)
    app = create_app(settings, upstream=upstream) if missing_only else recorder_app(upstream)
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT)
    logging.getLogger("emulator").info("recording %s into %s", args.upstream, out)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False)
    return 0


def _recording_problem(args: argparse.Namespace, settings: config.Settings) -> str | None:
    """What is wrong with the recording flags given, if anything."""
    if args.command == "serve" and not args.record_missing:
        given = args.upstream or args.record_out or args.normalize or args.keep_timing or args.force
        return "--upstream, --record-out, --normalize, --keep-timing and --force need --record-missing" if given else None
    if args.command == "serve" and (settings.strict or args.workers != 1):
        return "--record-missing runs one process that forwards what no fixture matches: not with --strict or --workers"
    if not args.upstream:
        return "--record-missing needs --upstream URL"
    if not args.upstream.startswith(("http://", "https://")):
        return f"--upstream {args.upstream!r}: expected an http:// or https:// URL ending in /v1"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `chat-emulator` script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "check":
        return check(args.paths)
    try:
        if args.command == "record":
            settings = config.from_env(host=args.host, port=args.port, log_level=args.log_level)
        else:
            settings = settings_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    problem = _recording_problem(args, settings)
    if problem:
        parser.error(problem)
    if args.command == "record":
        return record(args, settings, missing_only=False)
    if args.command == "serve":
        from .fixtures import fixture_problems

        # Checked here, before uvicorn imports the app in its workers, so a broken file is a
        # clean report and exit status 2, not a traceback from inside the server.
        problems, _ = fixture_problems(settings.fixtures)
        if problems:
            print("\n".join(problems), file=sys.stderr)
            print("The emulator did not start: mend the fixtures above.", file=sys.stderr)
            return 2
        if args.record_missing:
            return record(args, settings, missing_only=True)
        serve(settings, workers=args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
