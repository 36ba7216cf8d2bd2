"""The small commands: db, seed, serve, token and ports. Each imports what it uses when it runs."""

from __future__ import annotations

import argparse
import asyncio
import sys

from shared.settings import Settings


def db(args: argparse.Namespace, settings: Settings) -> int:
    from shared import embedded

    if args.stop:
        stopped = embedded.stop(embedded.data_dir(settings))
        print("stopped" if stopped else "not running")
        return 0
    print(embedded.database_url(settings))
    return 0


def seed(args: argparse.Namespace, settings: Settings) -> int:
    import asyncpg
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from shared import embedded
    from shared.seed import seed as fill

    from .preflight import require_database

    rows = args.rows if args.rows is not None else settings.default_rows
    url = embedded.database_url(settings)
    require_database(url)

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

                result = await fill(connection, rows, follow)
        finally:
            await connection.close()
        action = f"inserted {result.inserted:,}" if result.inserted else "already seeded"
        print(f"messages holds {result.rows:,} rows ({action}, {result.seconds:.2f} s)")

    asyncio.run(run())
    return 0


def serve(args: argparse.Namespace, settings: Settings) -> int:
    from shared import embedded
    from shared.database import database_problem
    from shared.layers import LayerUnavailable, choose_layer
    from shared.ports import PortUnavailable, load_port
    from shared.servers import ServerUnavailable, check_http
    from shared.settings import redact_url

    from .preflight import announce_when_listening, print_line, require_free_port

    try:
        port = load_port(args.framework)
        check_http(port.server(args.server), args.http or settings.http)
        choose_layer(args.layer or settings.layer, port.layers, port.name)
    except (PortUnavailable, ServerUnavailable, LayerUnavailable) as error:
        print(f"streambench serve: {error}", file=sys.stderr)
        return 2
    require_free_port(args.host, args.port)
    settings = settings.replace(
        database_url=embedded.database_url(settings),
        access_log=args.access_log or None,
        metrics=args.metrics or None,
        layer=args.layer,
        http=args.http,
    )
    say = print_line("serve")
    assert settings.database_url is not None
    problem = database_problem(settings.database_url)
    if problem is not None:
        # The contract has the port start anyway and answer 503 until the database is back.
        say(
            f"the database at {redact_url(settings.database_url)} is unreachable ({problem}); "
            "serving anyway: /healthz and the data routes answer 503 until it answers"
        )
    announce_when_listening(args.host, args.port, say)
    port.run(settings, args.host, args.port, args.server)
    return 0


def token(args: argparse.Namespace, settings: Settings) -> int:
    from shared.auth import make_token

    if not settings.jwt_secret:
        print(
            "streambench token: set STREAMBENCH_JWT_SECRET (or --jwt-secret) first", file=sys.stderr
        )
        return 2
    print(make_token(settings.jwt_secret, ttl=args.ttl))
    return 0


def ports(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console
    from rich.table import Table

    from shared.ports import available_ports, registered_ports
    from shared.servers import ServerUnavailable, load_server

    table = Table("port", "framework", "servers (default first)", "data layers", "status")
    targets = registered_ports()
    for name, descriptor, reason in available_ports():
        if descriptor is None:
            table.add_row(name, targets[name], "", "", f"[red]unavailable[/]: {reason}")
            continue
        servers = []
        for server_name in descriptor.servers():
            try:
                server = load_server(server_name)
            except ServerUnavailable:
                continue
            # HTTP/2 beside a server that speaks it (`compare --http 1.1,2`, `serve --http 2`).
            versions = " (+HTTP/2)" if "2" in server.http_versions else ""
            servers.append(f"{server.name} {server.version()}{versions}")
        framework = f"{descriptor.framework} {descriptor.framework_version()}"
        layers = ", ".join(descriptor.data_layers())
        table.add_row(name, framework, ", ".join(servers), layers, "[green]available[/]")
    Console().print(table)
    return 0
