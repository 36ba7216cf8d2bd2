"""`streambench compare` (or `python -m compare`): what streaming buys over buffering, per
framework, size and concurrency. Options are validated first; the I/O lives at this edge."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from shared.settings import Settings

if TYPE_CHECKING:
    from compare.options import CompareOptions

EPILOG = """\
examples:
  streambench compare --quick
  streambench compare --ports aiohttp --rows 100000 --formats text,ndjson --concurrency 1
  streambench compare --target remote=http://bench-host:8080 --out reports/remote
"""


def validate(args: argparse.Namespace, settings: Settings) -> CompareOptions:
    """The run's options, or `OptionError` saying what is wrong."""
    from compare.options import OptionError, options_from_args
    from shared.ports import available_ports

    ports = [(name, reason) for name, _, reason in available_ports()]
    options = options_from_args(args, ports)
    if options.auth and options.targets and not settings.jwt_secret:
        raise OptionError(
            "--auth with --target needs the targets' secret: set STREAMBENCH_JWT_SECRET or --jwt-secret"
        )
    return options


def run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio
    import logging

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from compare import environment
    from compare.options import CompareOptions, OptionError, plan
    from compare.report import write_reports
    from compare.run import estimate_work, run_compare
    from compare.summary import print_summary
    from shared import embedded

    # httpx narrates every request at INFO: thousands of lines that would bury the progress bar.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 180)  # a piped summary keeps its table on one line
    try:
        options = validate(args, settings)
    except (OptionError, ValueError) as error:
        print(f"streambench compare: error: {error}", file=sys.stderr)
        return 2
    out = options.out or Path("reports") / environment.timestamp_folder()
    options = CompareOptions(**{**options.__dict__, "out": out})
    database_url = embedded.database_url(settings)
    cells, _ = plan(options)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("compare", total=estimate_work(options, cells))

        def advance(work: float, label: str) -> None:
            if label:
                progress.update(task, description=label)
            progress.advance(task, work)

        results = asyncio.run(
            run_compare(options, settings, database_url, not settings.database_url, advance)
        )
    results.dump(out / "results.json")
    written = write_reports(results, out)
    # The pages people open; the charts and the rest are beside them.
    shown = [out / "results.json", out / "index.html", out / "summary.md"]
    shown += [p for p in written if p.suffix == ".html" and p.name != "index.html"]
    print_summary(console, results, [str(p) for p in shown])
    print(f"{len(written) + 1} files in {out}", file=sys.stderr)
    return 0 if any(p.verification.passed for p in results.ports) else 1
