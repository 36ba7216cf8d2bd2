"""`streambench report`: render a stored results file again, or diff two of them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from shared.settings import Settings

EPILOG = """\
examples:
  streambench report reports/RUN/results.json --out /tmp/report
                          the reports of a stored run again, into /tmp/report
  streambench report reports/RUN/results.json --overwrite
                          again beside the results, replacing the reports there
  streambench report --diff OLD/results.json NEW/results.json --out /tmp/diff
                          what changed, figure by figure: Markdown to stdout, diff.md and diff.html
  streambench report --diff OLD/results.json NEW/results.json --fail-on-regression
                          exit 1 when a figure got clearly worse (CI)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="*", type=Path, metavar="RESULTS.json")
    parser.add_argument(
        "--diff",
        action="store_true",
        help="compare two results files, OLD then NEW, figure by figure",
    )
    parser.add_argument("--out", type=Path, help="folder to write into")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace reports already in the folder (without --out: the one beside RESULTS.json)",
    )
    parser.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="with --diff: exit 1 when a figure got worse by more than the noise of either run "
        "(the verdicts' rule), unless the new run's machine was clearly busier",
    )


def run(
    args: argparse.Namespace,
    settings: Settings | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    # Looked up per call, not bound at import: a test's (or caller's) redirection must count.
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    from compare.report import render_diff_html, render_diff_markdown, write_reports
    from compare.report.diff import regressions
    from compare.report.html import page_file
    from compare.report.pages import SUMMARY
    from compare.results import Results, ResultsFileError

    paths: list[Path] = args.results
    wanted = 2 if args.diff else 1
    if len(paths) != wanted:
        what = "OLD.json NEW.json" if args.diff else "one RESULTS.json"
        print(f"streambench report: expected {what}, got {len(paths)} file(s)", file=stderr)
        return 2
    if args.fail_on_regression and not args.diff:
        print("streambench report: --fail-on-regression needs --diff OLD NEW", file=stderr)
        return 2
    try:
        loaded = [Results.load(path) for path in paths]
    except ResultsFileError as error:
        print(f"streambench report: {error}", file=stderr)
        return 2
    if args.diff:
        old, new = loaded
        text = render_diff_markdown(old, new)
        stdout.write(text)
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "diff.md").write_text(text, encoding="utf-8")
            (args.out / "diff.html").write_text(render_diff_html(old, new), encoding="utf-8")
            print(f"wrote {args.out / 'diff.md'} and {args.out / 'diff.html'}", file=stderr)
        if args.fail_on_regression:
            worse = regressions(old, new)
            for change in worse:
                print(
                    f"REGRESSION {change.metric.heading}: {change.scenario.port} "
                    f"/{change.scenario.endpoint}?source={change.scenario.source} "
                    f"{change.scenario.rows:,} rows {change.scenario.format} "
                    f"x{change.scenario.concurrency}: {change.verdict()}",
                    file=stderr,
                )
            print(
                f"{len(worse)} regression(s) beyond the noise" if worse else "no regression",
                file=stderr,
            )
            return 1 if worse else 0
        return 0
    out = args.out if args.out is not None else paths[0].resolve().parent
    index = out / page_file(SUMMARY)
    if index.exists() and not args.overwrite:
        print(
            f"streambench report: {out} already holds reports ({index.name}); give --out DIR to "
            "write elsewhere, or --overwrite to replace them",
            file=stderr,
        )
        return 2
    written = write_reports(loaded[0], out)
    print(f"wrote {len(written)} files into {out}; open {index}", file=stdout)
    return 0
