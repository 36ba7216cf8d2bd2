"""What one comparator run measures: its options, validated, and the scenario matrix they give.

Pure: the registry of ports comes in as an argument, nothing is started here.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from shared.encoders import FORMATS

from .results import ENDPOINTS, Endpoint

DEFAULT_ROWS = (10_000, 100_000, 500_000)
DEFAULT_FORMATS = ("text",)
DEFAULT_CONCURRENCY = (1, 8, 32)
DEFAULT_REPEATS = 5
DEFAULT_BATCH = 1_000
WARMUP_ROUNDS = 1
QUICK_ROWS = (1_000, 10_000)
QUICK_CONCURRENCY = (1, 4)
QUICK_REPEATS = 2
# Unless --concurrency is given, a concurrency runs only where rows x concurrency stays within
# this many rows per round: concurrency 32 of 500,000 rows would take minutes on two cores.
ROUND_ROW_BUDGET = 1_000_000

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class OptionError(ValueError):
    """An option the comparator cannot run with; the message says what to give instead."""


@dataclass(frozen=True)
class Target:
    """An already-running server measured as it is: no process is started for it."""

    name: str
    url: str


@dataclass(frozen=True)
class CompareOptions:
    ports: tuple[str, ...]
    targets: tuple[Target, ...]
    rows: tuple[int, ...]
    formats: tuple[str, ...]
    concurrency: tuple[int, ...]
    repeats: int
    batch: int
    auth: bool
    quick: bool
    out: Path | None
    shape: bool
    warmup: int = WARMUP_ROUNDS

    @property
    def names(self) -> tuple[str, ...]:
        return self.ports + tuple(t.name for t in self.targets)


@dataclass(frozen=True)
class Cell:
    """One scenario of the matrix, for every port alike."""

    endpoint: Endpoint
    rows: int
    format: str
    concurrency: int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ports", help="comma list of ports (default: every available port)")
    parser.add_argument("--rows", help=f"comma list of row counts (default: {_join(DEFAULT_ROWS)})")
    parser.add_argument(
        "--formats", help=f"comma list of {', '.join(FORMATS)} (default: {_join(DEFAULT_FORMATS)})"
    )
    parser.add_argument(
        "--concurrency",
        help=f"comma list of simultaneous requests (default: {_join(DEFAULT_CONCURRENCY)}, "
        f"each only where rows x concurrency <= {ROUND_ROW_BUDGET:,})",
    )
    parser.add_argument(
        "--repeats", help=f"measured rounds per scenario (default: {DEFAULT_REPEATS})"
    )
    parser.add_argument("--batch", help=f"rows per chunk on /chunked (default: {DEFAULT_BATCH})")
    parser.add_argument(
        "--auth", action="store_true", help="turn JWT auth on and send Authorization: JWT <token>"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a small matrix: 1,000 and 10,000 rows, concurrency 1 and 4, 2 repeats",
    )
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="measure an already-running server (repeatable); no process is started",
    )
    parser.add_argument("--out", type=Path, help="results folder (default: reports/<UTC time>/)")


def options_from_args(
    args: argparse.Namespace, available: Sequence[tuple[str, str | None]]
) -> CompareOptions:
    """Validate the parsed arguments. `available` is every registered port as (name, reason it
    cannot be used or None)."""
    targets = tuple(parse_target(raw) for raw in args.target)
    usable = [name for name, reason in available if reason is None]
    if args.ports is not None:
        ports = tuple(_names(args.ports, "--ports"))
        reasons = dict(available)
        for name in ports:
            if name not in reasons:
                raise OptionError(
                    f"--ports: unknown port {name!r}; available: {', '.join(usable) or 'none'}"
                )
            if reasons[name] is not None:
                raise OptionError(f"--ports: port {name!r} is unavailable: {reasons[name]}")
    elif targets:
        ports = ()  # only the targets: starting local servers was not asked for
    else:
        ports = tuple(usable)
    _unique((*ports, *(t.name for t in targets)), "port and target names")
    if not ports and not targets:
        raise OptionError("no port to measure: none is available and no --target was given")

    quick = bool(args.quick)
    rows = (
        _integers(args.rows, "--rows", minimum=1)
        if args.rows is not None
        else (QUICK_ROWS if quick else DEFAULT_ROWS)
    )
    formats = (
        tuple(_names(args.formats, "--formats")) if args.formats is not None else DEFAULT_FORMATS
    )
    for name in formats:
        if name not in FORMATS:
            raise OptionError(f"--formats: unknown format {name!r}; expected {', '.join(FORMATS)}")
    if args.concurrency is not None:
        concurrency = _integers(args.concurrency, "--concurrency", minimum=1)
    else:
        concurrency = QUICK_CONCURRENCY if quick else DEFAULT_CONCURRENCY
    repeats = (
        _integer(args.repeats, "--repeats", 1)
        if args.repeats is not None
        else (QUICK_REPEATS if quick else DEFAULT_REPEATS)
    )
    batch = _integer(args.batch, "--batch", 1) if args.batch is not None else DEFAULT_BATCH
    return CompareOptions(
        ports=ports,
        targets=targets,
        rows=tuple(sorted(set(rows))),
        formats=tuple(dict.fromkeys(formats)),
        concurrency=tuple(sorted(set(concurrency))),
        repeats=repeats,
        batch=batch,
        auth=bool(args.auth),
        quick=quick,
        out=args.out,
        shape=args.concurrency is None,
    )


def parse_target(raw: str) -> Target:
    name, sep, url = raw.partition("=")
    name, url = name.strip(), url.strip().rstrip("/")
    if not sep or not name or not url:
        raise OptionError(f"--target: expected NAME=URL, got {raw!r}")
    if not _NAME.match(name):
        raise OptionError(f"--target: name {name!r} must be letters, digits, '.', '_' or '-'")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OptionError(f"--target {name}: {url!r} is not an http:// or https:// URL")
    try:
        parts.port  # noqa: B018 (a bad port number raises here)
    except ValueError:
        raise OptionError(f"--target {name}: bad port in {url!r}") from None
    if parts.query or parts.fragment:
        raise OptionError(f"--target {name}: give the server's base URL, not {url!r}")
    return Target(name, url)


def plan(options: CompareOptions) -> tuple[list[Cell], str]:
    """The scenario cells in run order, and a note on how the matrix was shaped."""
    cells: list[Cell] = []
    skipped: list[str] = []
    for rows in options.rows:
        for format in options.formats:
            for concurrency in options.concurrency:
                first = concurrency == options.concurrency[0]
                if options.shape and not first and rows * concurrency > ROUND_ROW_BUDGET:
                    skipped.append(f"{rows:,} rows x {concurrency}")
                    continue
                cells.extend(Cell(endpoint, rows, format, concurrency) for endpoint in ENDPOINTS)
    notes = [
        "fresh server processes per (endpoint, rows, format), concurrency rising within; "
        "memory growth is each round's peak RSS over the fresh process's RSS",
        "ports interleaved round by round",
        f"{options.warmup} warm-up round(s) per scenario, not counted",
    ]
    if skipped:
        notes.append(
            f"concurrency above {options.concurrency[0]} only where rows x concurrency <= "
            f"{ROUND_ROW_BUDGET:,}; left out: " + ", ".join(dict.fromkeys(skipped))
        )
    return cells, "; ".join(notes)


def _items(raw: str, option: str, what: str) -> list[str]:
    """A comma list's items; an empty item (`1,,2`, a trailing comma) is a typo, not a default."""
    parts = [part.strip() for part in raw.split(",")]
    if not any(parts):
        raise OptionError(f"{option}: give at least one {what}")
    if not all(parts):
        raise OptionError(f"{option}: empty item in {raw!r}")
    return parts


def _names(raw: str, option: str) -> list[str]:
    names = _items(raw, option, "name")
    _unique(names, option)
    return names


def _integers(raw: str, option: str, minimum: int) -> tuple[int, ...]:
    return tuple(_integer(part, option, minimum) for part in _items(raw, option, "number"))


def _integer(raw: str, option: str, minimum: int) -> int:
    try:
        value = int(str(raw).replace("_", ""))
    except ValueError:
        raise OptionError(f"{option}: {raw!r} is not a whole number") from None
    if value < minimum:
        raise OptionError(f"{option}: {value} is below {minimum}")
    return value


def _unique(names: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise OptionError(f"{what}: {name!r} given twice")
        seen.add(name)


def _join(values: Iterable[object]) -> str:
    return ",".join(str(v) for v in values)
