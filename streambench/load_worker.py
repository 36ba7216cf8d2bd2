"""`streambench load-worker --master HOST:PORT`: one Locust worker for `streambench compare
--load locust`, started by hand on each machine that sends load (the comparator starts its local
ones the same way)."""

from __future__ import annotations

import argparse
import os
import sys

from shared.settings import Settings

HELP = "join a `compare --load locust` master and send the rounds it announces"
EPILOG = """\
examples:
  streambench load-worker --master bench-host:5557   on each load machine, after
  streambench compare --load locust --workers 0 --expect-workers 2 --master-bind 0.0.0.0:5557
                                                      on bench-host
"""
# The worker module's own default (compare/load/locust/worker.py), repeated so that building
# the parser imports nothing of Locust's.
CONNECT_SECONDS = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--master", required=True, metavar="HOST:PORT", help="the master's address")
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=CONNECT_SECONDS,
        metavar="SECONDS",
        help=f"give up (one line, status 1) when the master has not answered within this many "
        f"seconds (default: {CONNECT_SECONDS:.0f})",
    )
    parser.epilog = EPILOG


def run(args: argparse.Namespace, settings: Settings) -> int:
    # Locust monkey-patches the standard library for gevent as it loads, which is sound only
    # before anything else did I/O: the worker runs as a fresh interpreter of its own.
    argv = [sys.executable, "-m", "compare.load.locust.worker", "--master", args.master]
    argv += ["--connect-timeout", str(args.connect_timeout)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)
