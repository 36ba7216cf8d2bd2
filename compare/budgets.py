"""Budgets (`--fail-if`): conditions on a run's figures that fail it, in the manner of k6 thresholds.

Pure: an expression is parsed into a `Budget`, and a budget is checked against `Results`.

    EXPR   = [SCOPE "."]... FIGURE [":" STAT] OP NUMBER [UNIT]
    SCOPE  = an endpoint (standard, chunked), a source (fetch, cursor, copy, keyset), a format
             (text, ndjson, csv, json), a data layer (asyncpg, psycopg, ...), a port's name
             (`port@server`, every layer it ran on), a contender's (`port@server+layer`), a
             read rate (`max`, `1MB/s`; without one, every rate), an HTTP version (`h1` for
             HTTP/1.1, `h2` for HTTP/2; without one, both) or a content coding (`none`, `gzip`,
             `zstd`; without one, every coding); several narrow it further
    FIGURE = ttfb | headers | total | cpu    a time:  UNIT ms, s or min (a bare number is seconds)
           | cpu-per-mb                      the server's CPU per MB of decoded body, a time
           | conn-seconds | transaction-age  connection-seconds per request, the oldest open
           | abort                           transaction, an abort's cost (its slower kind): times
           | memory                          a size:  UNIT B, kB, MB, GB, KiB, MiB, GiB, or x-body
                                             (multiples of the response body's size)
           | wire                            the bytes that arrived (compressed when asked), a size
           | x-floor | x-body-floor          total time over the rows floor / the body floor
           | ratio                           compression ratio, decoded bytes over wire bytes
           | errors                          failed requests, a count
           | ttfb-p99                        first byte's 99th percentile over every request
           | fds                             the server's open files at a round's peak, a count
           | fairness                        fastest stream's throughput over the slowest's
           | starved                         streams that began after another had finished
                                             (streamed responses only: /chunked)
    STAT   = median (the default) | p95 | min | max
    OP     = > | >= | < | <=

A budget is broken by every scenario in its scope whose figure meets the condition, and by every
scenario in scope where the figure was not measured (a budget that cannot be checked does not
pass silently); one that matches no scenario at all is broken too, since it is most likely a typo,
unless what it names is not offered (`sqlalchemy-orm.copy...`: no COPY through an ORM), which is
never held against a budget. Examples: `chunked.ttfb>10ms`, `standard.memory>2x-body`,
`x-floor>3`, `errors>0`, `aiohttp@aiohttp.copy.total:p95>=1.5s`, `sqlalchemy-orm.chunked.x-floor>4`,
`1MB/s.keyset.conn-seconds>0.5s`, `max.chunked.ttfb>10ms`, `h2.chunked.ttfb>20ms`,
`gzip.chunked.ttfb>20ms`, `zstd.ratio<3`. A budget on `h2` alone where no pair spoke HTTP/2 is
about what was not offered, and kept.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from shared.compression import CODINGS

from .read_rates import ReadRateError, format_rate, parse_read_rate
from .results import (
    ENDPOINTS,
    NO_COMPRESSION,
    SOURCES,
    NotOffered,
    Results,
    Scenario,
    Stats,
    http_label,
)

FigureKind = Literal["time", "size", "ratio", "count"]
ScopeKind = Literal["endpoint", "source", "format", "layer", "name", "rate", "http", "compression"]
# The scope words of the HTTP versions: short, and free of the dot that separates scope words.
HTTP_SCOPES: dict[str, str] = {"h1": "1.1", "h2": "2"}
# The content codings a scope word may name (compare/options.py's --compression choices).
COMPRESSIONS = (NO_COMPRESSION, *CODINGS)
FIGURES: dict[str, FigureKind] = {
    "ttfb": "time",
    "headers": "time",
    "total": "time",
    "cpu": "time",
    "cpu-per-mb": "time",
    "wire": "size",
    "ratio": "ratio",
    "conn-seconds": "time",
    "transaction-age": "time",
    "abort": "time",
    "memory": "size",
    "x-floor": "ratio",
    "x-body-floor": "ratio",
    "errors": "count",
    "ttfb-p99": "time",
    "fds": "count",
    "fairness": "ratio",
    "starved": "count",
}
STATS = ("median", "p95", "min", "max")
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_TIME_UNITS = {"ms": 1e-3, "s": 1.0, "min": 60.0}
_SIZE_UNITS = {
    "b": 1.0,
    "kb": 1e3,
    "mb": 1e6,
    "gb": 1e9,
    "kib": 1024.0,
    "mib": 1024.0**2,
    "gib": 1024.0**3,
}
_EXPRESSION = re.compile(
    r"^\s*(?P<left>[A-Za-z0-9_.:@+/-]+?)\s*(?P<op>>=|<=|>|<)\s*"
    r"(?P<number>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>[A-Za-z-]*)\s*$"
)
GRAMMAR = (
    "[SCOPE.]FIGURE[:STAT] OP NUMBER[UNIT]; FIGURE is ttfb, headers, total, cpu, cpu-per-mb, "
    "conn-seconds, transaction-age, abort, ttfb-p99 (ms, s, min), memory, wire (B, kB, MB, MiB, "
    "x-body), x-floor, x-body-floor, ratio, fairness (ratios), errors, fds or starved (counts); "
    "SCOPE an endpoint, source, format, data layer, port, read rate (max, 1MB/s), HTTP version "
    "(h1, h2) or coding (none, gzip, zstd); STAT median, p95, min or max; OP >, >=, < or <="
)


class BudgetError(ValueError):
    """An expression that is not a budget; the message says what is wrong and the grammar."""


@dataclass(frozen=True)
class Budget:
    """One parsed `--fail-if`: the scenarios it scopes, the figure and the limit (base units)."""

    text: str
    scope: tuple[str, ...]
    figure: str
    stat: str
    op: str
    limit: float
    per_body: bool = False  # memory in multiples of the body size
    # What each scope word is: endpoint, source, format, layer, or name (a port or contender).
    kinds: tuple[ScopeKind, ...] = ()

    def matches(self, scenario: Scenario) -> bool:
        if self.figure == "abort" and scenario.abort is None:
            return False  # measured once per /chunked source, rate and format, at most rows
        fields = {
            scenario.endpoint, scenario.source, scenario.format, scenario.port,
            scenario.contender, scenario.layer,
        }  # fmt: skip
        return all(
            _rate(word) == scenario.read_rate
            if kind == "rate"
            else HTTP_SCOPES[word] == scenario.http
            if kind == "http"
            else word == scenario.compression
            if kind == "compression"
            else word in fields
            for word, kind in zip(
                self.scope, self.kinds or ("name",) * len(self.scope), strict=True
            )
        )

    def only_not_offered(self, entry: NotOffered) -> bool:
        """Whether this budget's scope lies within what `entry` leaves out: every endpoint and
        format of its source, and every source too when the port does not serve the layer.
        The scope must name the entry (its layer, source or contender): a budget on every
        scenario, or on an endpoint, is not about what was left out."""
        if not any(kind in ("source", "layer", "name", "http") for kind in self.kinds):
            return False
        if entry.http is not None and "http" not in self.kinds:
            return False  # an HTTP version left out answers only a budget that names one
        for word, kind in zip(self.scope, self.kinds, strict=True):
            if kind == "http" and entry.http != HTTP_SCOPES[word]:
                return False

            if kind == "source" and entry.source not in (None, word):
                return False
            if kind == "layer" and word != entry.layer:
                return False
            if kind == "name" and word not in (entry.port, entry.contender):
                return False
        return True


@dataclass(frozen=True)
class Breach:
    budget: Budget
    scenario: Scenario | None
    measured: str  # the figure as read, or why it could not be

    def line(self) -> str:
        if self.scenario is None:
            return f"--fail-if {self.budget.text}: {self.measured}"
        s = self.scenario
        where = (
            f"{s.contender} /{s.endpoint}?source={s.source} {s.rows:,} rows {s.format} "
            f"x{s.concurrency}"
        )
        if s.read_rate is not None:
            where += f" read at {format_rate(s.read_rate)}"
        if s.http != "1.1":
            where += f" over {http_label(s.http)}"
        if s.compression != NO_COMPRESSION:
            where += f" {s.compression}"
        return f"--fail-if {self.budget.text}: {where}: {self.measured}"


def parse_budget(
    text: str, ports: Iterable[str], formats: Iterable[str], layers: Iterable[str] = ()
) -> Budget:
    """`text` as a budget; scope words must be an endpoint, source, format, one of `layers` or
    one of `ports` (port and contender names)."""
    match = _EXPRESSION.match(text)
    if not match:
        raise BudgetError(f"--fail-if {text!r}: expected {GRAMMAR}")
    left, op = match["left"], match["op"]
    number, unit = float(match["number"]), match["unit"]
    figure_part, _, stat = left.partition(":")
    stat = stat or "median"
    if stat not in STATS:
        raise BudgetError(
            f"--fail-if {text!r}: statistic {stat!r} is not one of {', '.join(STATS)}"
        )
    words = figure_part.split(".")
    # Figure names hold dashes, never dots: the last word is the figure.
    figure, scope = words[-1], tuple(words[:-1])
    if figure not in FIGURES:
        raise BudgetError(
            f"--fail-if {text!r}: unknown figure {figure!r}; expected one of {', '.join(FIGURES)}"
        )
    known: dict[str, ScopeKind] = {
        **dict.fromkeys(ports, "name"),
        **dict.fromkeys(layers, "layer"),
        **dict.fromkeys(formats, "format"),
        **dict.fromkeys(SOURCES, "source"),
        **dict.fromkeys(ENDPOINTS, "endpoint"),
        **dict.fromkeys(HTTP_SCOPES, "http"),
        **dict.fromkeys(COMPRESSIONS, "compression"),
    }
    for word in scope:
        if word not in known and _is_rate(word):
            known[word] = "rate"
        if word not in known:
            raise BudgetError(
                f"--fail-if {text!r}: {word!r} is no endpoint, source, format, data layer, "
                f"port, read rate, HTTP version or coding (known: {', '.join(sorted(known))}, or a rate "
                "such as max or 1MB/s)"
            )
    kind = FIGURES[figure]
    limit, per_body = _limit(text, kind, number, unit)
    kinds = tuple(known[word] for word in scope)
    return Budget(text.strip(), scope, figure, stat, op, limit, per_body, kinds)


def _is_rate(word: str) -> bool:
    try:
        parse_read_rate(word)
    except ReadRateError:
        return False
    return True


def _rate(word: str) -> float | None:
    return parse_read_rate(word)


def _limit(text: str, kind: FigureKind, number: float, unit: str) -> tuple[float, bool]:
    lowered = unit.lower()
    if kind == "time":
        if not unit:
            return number, False
        if lowered in _TIME_UNITS:
            return number * _TIME_UNITS[lowered], False
        raise BudgetError(f"--fail-if {text!r}: a time takes ms, s or min, not {unit!r}")
    if kind == "size":
        if lowered == "x-body":
            return number, True
        if not unit:
            return number, False
        if lowered in _SIZE_UNITS:
            return number * _SIZE_UNITS[lowered], False
        raise BudgetError(
            f"--fail-if {text!r}: a size takes B, kB, MB, GB, KiB, MiB, GiB or x-body, not {unit!r}"
        )
    if unit and not (kind == "ratio" and lowered == "x"):
        raise BudgetError(f"--fail-if {text!r}: {kind}s take a bare number, not {unit!r}")
    return number, False


def _figure(scenario: Scenario, budget: Budget) -> Stats | float | None:
    figure = budget.figure
    if figure == "ttfb":
        return scenario.ttfb
    if figure == "headers":
        return scenario.headers
    if figure == "total":
        return scenario.total
    if figure == "cpu":
        return scenario.server.cpu_seconds
    if figure == "cpu-per-mb":
        return scenario.cpu_seconds_per_megabyte
    if figure == "wire":
        return None if scenario.bytes is None else float(scenario.bytes)
    if figure == "ratio":
        return scenario.compression_ratio
    if figure == "memory":
        return scenario.server.peak_memory_growth_bytes
    if figure == "x-floor":
        return scenario.floor_ratio
    if figure == "x-body-floor":
        return scenario.body_floor_ratio
    if figure == "conn-seconds":
        return None if scenario.database is None else scenario.database.connection_seconds
    if figure == "transaction-age":
        return None if scenario.database is None else scenario.database.transaction_age_max
    if figure == "abort":
        return None if scenario.abort is None else scenario.abort.worst
    streams = scenario.streams
    if figure == "ttfb-p99":
        return None if streams is None else streams.ttfb_p99
    if figure == "fds":
        return None if streams is None else streams.open_files
    if figure == "fairness":
        return None if streams is None else streams.spread
    if figure == "starved":
        return None if streams is None or streams.starved is None else float(streams.starved)
    return float(scenario.errors)


def _reading(budget: Budget, scenario: Scenario) -> tuple[float | None, str]:
    """The value the budget compares, and how to print it."""
    value = _figure(scenario, budget)
    if value is None:
        return None, f"{budget.figure} was not measured"
    if isinstance(value, Stats):
        number: float = getattr(value, budget.stat)
    elif budget.stat != "median":
        return None, f"{budget.figure} is one figure per scenario, it has no {budget.stat}"
    else:
        number = value
    kind = FIGURES[budget.figure]
    if budget.per_body:
        body = scenario.body_bytes  # decoded: what the rows take, whatever the coding
        if not body:
            return None, "the body size is not known"
        shown = f"{_size(number)}, {number / body:.2f}x the {_size(body)} body"
        return number / body, shown
    if kind == "time":
        return number, f"{budget.stat} {number * 1000:.1f} ms"
    if kind == "size":
        return number, f"{budget.stat} {_size(number)}"
    # A figure with a spread says which of its statistics was held against the budget.
    stat = f"{budget.stat} " if isinstance(value, Stats) else ""
    if kind == "ratio":
        return number, f"{stat}{number:.2f}x"
    return number, f"{stat}{number:.0f}"


def check_budgets(budgets: Sequence[Budget], results: Results) -> list[Breach]:
    """Every (budget, scenario) that breaks a budget, in budget then scenario order."""
    breaches: list[Breach] = []
    for budget in budgets:
        scoped = [s for s in results.scenarios if budget.matches(s)]
        if not scoped:
            if not not_offered_for(budget, results):
                breaches.append(Breach(budget, None, "matched no measured scenario"))
            continue
        compare = _OPERATORS[budget.op]
        for scenario in scoped:
            value, shown = _reading(budget, scenario)
            if value is None or compare(value, budget.limit):
                breaches.append(Breach(budget, scenario, shown))
    return breaches


def not_offered_for(budget: Budget, results: Results) -> list[NotOffered]:
    """What the run left out as not offered that the budget's scope names: a budget about
    those alone is kept, there being nothing to hold against it."""
    return [entry for entry in results.not_offered if budget.only_not_offered(entry)]


def _size(value: float) -> str:
    if abs(value) >= 1e6:
        return f"{value / 1e6:.1f} MB"
    if abs(value) >= 1e3:
        return f"{value / 1e3:.1f} kB"
    return f"{value:.0f} B"
