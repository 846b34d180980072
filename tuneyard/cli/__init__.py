"""Command line: tuneyard serve | worker | migrate | token create|list|revoke | import | export-schema."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import pydantic

from tuneyard.cli.serve import serve, worker
from tuneyard.cli.services import import_file, migrate
from tuneyard.cli.tokens import token_create, token_list, token_revoke
from tuneyard.core.config import Settings
from tuneyard.core.principal import Role


def export_schema(args: argparse.Namespace, settings: Settings) -> int:
    from tuneyard.schema import schema

    text = schema.as_str() + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tuneyard", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve_cmd = commands.add_parser("serve", help="serve the API (bundled PostgreSQL and Redis unless URLs are set)")
    serve_cmd.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    serve_cmd.add_argument("--port", type=int, default=None, help="port to listen on (default 8000)")
    serve_cmd.add_argument(
        "--workers", type=int, default=None, help="job worker processes to run beside the API (default 1; 0: none)"
    )
    serve_cmd.add_argument(
        "--log-format", choices=["text", "json"], default=None, help="text, or one JSON object a line (default: text)"
    )
    serve_cmd.set_defaults(handler=serve)

    worker_cmd = commands.add_parser("worker", help="run job workers (needs TUNEYARD_DATABASE_URL and _REDIS_URL)")
    worker_cmd.add_argument("--processes", type=int, default=1, help="worker processes (default 1)")
    worker_cmd.add_argument("--threads", type=int, default=None, help="jobs each process runs at once (default 2)")
    worker_cmd.add_argument(
        "--queues",
        default=None,
        help="only these job queues, comma-separated (e.g. finetune for a GPU host; default TUNEYARD_WORKER_QUEUES, "
        "else all)",
    )
    worker_cmd.add_argument(
        "--exclude-queues",
        default=None,
        help="leave these job queues to other hosts, comma-separated (e.g. finetune; default "
        "TUNEYARD_WORKER_EXCLUDE_QUEUES, else none)",
    )
    worker_cmd.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    worker_cmd.set_defaults(handler=worker)

    commands.add_parser("migrate", help="apply pending database migrations").set_defaults(handler=migrate)

    token_cmd = commands.add_parser("token", help="manage API tokens")
    token_commands = token_cmd.add_subparsers(dest="token_command", required=True)
    installation = argparse.ArgumentParser(add_help=False)
    installation.add_argument(
        "--init",
        action="store_true",
        help="without TUNEYARD_DATABASE_URL: create a new installation in TUNEYARD_HOME if it has none "
        "(without it, a home with no installation is an error)",
    )
    create_cmd = token_commands.add_parser(
        "create", parents=[installation], help="create a token and print it on stdout (shown once)"
    )
    create_cmd.add_argument("--role", required=True, choices=[r.name for r in Role])
    create_cmd.add_argument("--name", required=True, help="who or what the token is for (1 to 100 characters)")
    create_cmd.set_defaults(handler=token_create)
    list_cmd = token_commands.add_parser(
        "list", parents=[installation], help="list every token, newest first (never a secret)"
    )
    list_cmd.set_defaults(handler=token_list)
    revoke_cmd = token_commands.add_parser(
        "revoke", parents=[installation], help="revoke a token: servers refuse it within TUNEYARD_TOKEN_CACHE_SECONDS"
    )
    revoke_cmd.add_argument("id", help="the token's id (see `tuneyard token list`)")
    revoke_cmd.set_defaults(handler=token_revoke)

    import_cmd = commands.add_parser(
        "import", help="import a JSONL file of examples as an IMPORT job, all or nothing (see README: Import)"
    )
    import_cmd.add_argument("file", help="the file: one JSON object a line, with the fields of ExampleInput")
    import_cmd.add_argument("--detach", action="store_true", help="print the job's id and return at once")
    import_cmd.set_defaults(handler=import_file)

    schema_cmd = commands.add_parser("export-schema", help="write the GraphQL SDL")
    schema_cmd.add_argument("--output", "-o", default="schema.graphql", help="file to write, or - for stdout")
    schema_cmd.set_defaults(handler=export_schema)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    # RabbitMQ's client logs every connection step, and a traceback for each idle connection the server dropped
    # (which Dramatiq reopens at the next send). What matters surfaces anyway: a lost consumer in Dramatiq's log, a
    # send that failed as UNAVAILABLE.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    try:
        settings = Settings()
    except pydantic.ValidationError as error:
        for problem in error.errors():
            name = "TUNEYARD_" + "_".join(str(part) for part in problem["loc"]).upper()
            print(f"tuneyard: {name}: {problem['msg']}", file=sys.stderr)  # never the value: it may be a secret
        return 2
    if getattr(args, "host", None) is None and hasattr(args, "host"):
        args.host = settings.host
    if getattr(args, "port", None) is None and hasattr(args, "port"):
        args.port = settings.port
    return int(args.handler(args, settings))
