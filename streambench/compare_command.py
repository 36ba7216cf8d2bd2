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
  streambench compare --fail-if 'chunked.ttfb>10ms' --fail-if 'standard.memory>2x-body' \\
                      --fail-if 'x-floor>3' --fail-if 'errors>0'   exit 1 on a broken budget
  streambench compare --ports aiohttp --rows 100000 --formats text,ndjson --concurrency 1
  streambench compare --target remote=http://bench-host:8080 --out reports/remote
"""


def validate(args: argparse.Namespace, settings: Settings) -> CompareOptions:
    """The run's options, or `OptionError` saying what is wrong."""
    from compare.options import OptionError, options_from_args
    from shared.pairs import available_pairs

    pairs = available_pairs()
    defaults = [name for name, pair, _ in pairs if pair is not None and pair.default]
    options = options_from_args(args, [(name, reason) for name, _, reason in pairs], defaults)
    if options.auth and options.targets and not settings.jwt_secret:
        raise OptionError(
            "--auth with --target needs the targets' secret: set STREAMBENCH_JWT_SECRET or --jwt-secret"
        )
    return options


def run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio
    import dataclasses
    import logging

    from rich.console import Console

    from compare import environment
    from compare.budgets import check_budgets
    from compare.export import write_csv
    from compare.options import OptionError, plan
    from compare.report import write_reports
    from compare.run import estimate_work, run_compare
    from compare.summary import print_summary
    from shared import embedded

    from .preflight import require_database
    from .progress import progress_for

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
    require_database(database_url)  # one line and status 1, not a traceback minutes later
    cells, _ = plan(options)
    with progress_for(console, estimate_work(options, cells), sys.stderr) as progress:
        results = asyncio.run(
            run_compare(options, settings, database_url, not settings.database_url, progress)
        )
    results.dump(out / "results.json")
    write_csv(results, out / "results.csv")
    written = write_reports(results, out)
    # The pages people open; the charts and the rest are beside them.
    shown = [out / "results.json", out / "results.csv", out / "index.html", out / "summary.md"]
    shown += [p for p in written if p.suffix == ".html" and p.name != "index.html"]
    print_summary(console, results, [str(p) for p in shown])
    print(f"{len(written) + 2} files in {out}", file=sys.stderr)
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
