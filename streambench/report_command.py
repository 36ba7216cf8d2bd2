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
  streambench report --diff OLD/results.json NEW/results.json --out /tmp/diff
                          what changed, figure by figure: Markdown to stdout, diff.md and diff.html
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="*", type=Path, metavar="RESULTS.json")
    parser.add_argument(
        "--diff",
        action="store_true",
        help="compare two results files, OLD then NEW, figure by figure",
    )
    parser.add_argument("--out", type=Path, help="folder to write into")


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
    from compare.results import Results

    paths: list[Path] = args.results
    wanted = 2 if args.diff else 1
    if len(paths) != wanted:
        what = "OLD.json NEW.json" if args.diff else "one RESULTS.json"
        print(f"streambench report: expected {what}, got {len(paths)} file(s)", file=stderr)
        return 2
    try:
        loaded = [Results.load(path) for path in paths]
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"streambench report: cannot read results: {error}", file=stderr)
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
        return 0
    out = args.out if args.out is not None else paths[0].resolve().parent
    written = write_reports(loaded[0], out)
    index = out / "index.html"
    print(f"wrote {len(written)} files into {out}; open {index}", file=stdout)
    return 0
