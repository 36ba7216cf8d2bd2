"""Which measurements a report shows, and the environment block every report carries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..read_rates import format_rate
from ..results import (
    DEFAULT_HTTP,
    DEFAULT_SOURCE,
    ENDPOINTS,
    NO_COMPRESSION,
    SOURCES,
    PortResult,
    Results,
    Scenario,
    http_label,
)
from . import _format


@dataclass(frozen=True)
class View:
    """A lookup over one run's scenarios plus the choices every figure shares.

    Charts use the first format of the matrix and its lowest concurrency unless a figure is about
    concurrency; the arrival curves use the configured default row count when it was measured.
    """

    results: Results
    format: str
    concurrency: int
    default_rows: int
    throughput_rows: int

    @classmethod
    def of(cls, results: Results) -> View:
        """The view of a run's scenarios at its fastest read rate (compare/report/slow_readers.py
        shows the others)."""
        results = results.at_read_rate(results.base_read_rate)
        # One HTTP version: the others are set beside it in their own section (http_versions.py).
        results = results.at_http(results.base_http)
        # Identity bodies when they were measured: the compression section shows the codings.
        results = results.at_compression(results.base_compression)
        formats = results.matrix.formats or tuple(sorted({s.format for s in results.scenarios}))
        fmt = formats[0] if formats else "text"
        levels = sorted({s.concurrency for s in results.scenarios} or {1})
        base = levels[0]
        measured_rows = sorted(
            {s.rows for s in results.scenarios if s.format == fmt and s.concurrency == base}
        )
        wanted = results.settings.get("default_rows")
        if isinstance(wanted, int) and wanted in measured_rows:
            default_rows = wanted
        else:
            default_rows = measured_rows[-1] if measured_rows else 0
        return cls(results, fmt, base, default_rows, _throughput_rows(results, fmt, default_rows))

    def find(
        self,
        port: str,
        endpoint: str,
        rows: int,
        concurrency: int | None = None,
        fmt: str | None = None,
        source: str | None = None,
    ) -> Scenario | None:
        """One scenario; without `source`, the endpoint's own default source."""
        key = (
            port,
            endpoint,
            source or DEFAULT_SOURCE[endpoint],
            rows,
            fmt or self.format,
            self.concurrency if concurrency is None else concurrency,
        )
        return next((s for s in self.results.scenarios if s.key[:6] == key), None)

    def rows_for(self, ports: Sequence[str]) -> list[int]:
        return sorted(
            {
                s.rows
                for s in self.results.scenarios
                if s.contender in ports
                and s.format == self.format
                and s.concurrency == self.concurrency
            }
        )

    def concurrency_levels(self, ports: Sequence[str]) -> list[int]:
        return sorted(
            {
                s.concurrency
                for s in self.results.scenarios
                if s.contender in ports
                and s.format == self.format
                and s.rows == self.throughput_rows
            }
        )

    @property
    def timed_ports(self) -> list[str]:
        return [p.contender for p in self.results.ports if p.timed]

    @property
    def failed_ports(self) -> list[PortResult]:
        return [p for p in self.results.ports if not p.timed]

    def port(self, name: str) -> PortResult | None:
        return next((p for p in self.results.ports if p.contender == name), None)

    def colour(self, port: str) -> int:
        """A port's colour, the same on every chart of every page: its place in the run."""
        names = [p.contender for p in self.results.ports]
        return names.index(port) if port in names else len(names)

    def routes(self, ports: Sequence[str]) -> list[tuple[str, str]]:
        """The (endpoint, source) series a chart draws. The summary, comparing ports, keeps to
        each endpoint's own source (streamed against buffered); a port's page shows every source
        measured."""
        if len(ports) > 1:
            return [(e, DEFAULT_SOURCE[e]) for e in ENDPOINTS]
        found = {(s.endpoint, s.source) for s in self.results.scenarios if s.contender in ports}
        return [(e, src) for e in ENDPOINTS for src in SOURCES if (e, src) in found]

    def series_name(self, port: str, endpoint: str, ports: Sequence[str], source: str = "") -> str:
        route = endpoint if len(ports) > 1 else f"{endpoint}/{source or DEFAULT_SOURCE[endpoint]}"
        return route if len(ports) == 1 else f"{port} {route}"


def line_style(endpoint: str, source: str) -> str:
    """One line style per endpoint and source, the same everywhere: solid for the streamed
    endpoint's own cursor, dashed for the buffered endpoint's own fetch."""
    return LINE_STYLES.get((endpoint, source), "sparse")


LINE_STYLES: dict[tuple[str, str], str] = {
    ("chunked", "cursor"): "",
    ("standard", "fetch"): "dash",
    ("chunked", "copy"): "dot",
    ("standard", "copy"): "dashdot",
    ("chunked", "fetch"): "longdash",
    ("standard", "cursor"): "sparse",
    ("chunked", "keyset"): "longshort",
    ("standard", "keyset"): "pairs",
}


def _throughput_rows(results: Results, fmt: str, default_rows: int) -> int:
    """The row count measured at the most concurrency levels, the default one on a tie."""
    levels: dict[int, set[int]] = {}
    for scenario in results.scenarios:
        if scenario.format == fmt:
            levels.setdefault(scenario.rows, set()).add(scenario.concurrency)
    if not levels:
        return default_rows
    return max(levels, key=lambda r: (len(levels[r]), r == default_rows, r))


def scenario_label(scenario: Scenario, *, with_port: bool = True) -> str:
    parts = [scenario.contender] if with_port else []
    parts += [
        f"{scenario.endpoint}/{scenario.source}",
        f"{_format.rows(scenario.rows)} rows",
        scenario.format,
        f"concurrency {scenario.concurrency}",
    ]
    if scenario.read_rate is not None:
        # The same cell read at another rate is another scenario: the label must tell them apart.
        parts.append(f"read at {format_rate(scenario.read_rate)}")
    if scenario.http != DEFAULT_HTTP:
        parts.append(f"over {http_label(scenario.http)}")
    if scenario.compression != NO_COMPRESSION:
        parts.append(scenario.compression)
    return ", ".join(parts)


def ceiling_text(results: Results) -> str:
    """The client's ceiling for each body at each concurrency it was measured at: the median
    total per request, reading the same bytes from memory as many at a time."""
    if not results.client_ceiling:
        return "not measured"
    texts = []
    for http in dict.fromkeys(c.http for c in results.client_ceiling):
        measured = [c for c in results.client_ceiling if c.http == http]
        bodies = dict.fromkeys((c.rows, c.format) for c in measured)
        parts = [
            f"{_format.rows(rows)} rows {fmt}: "
            + ", ".join(
                f"x{c.concurrency} {_format.seconds(c.total.median)}"
                for c in results.ceilings_for(rows, fmt, http=http)
            )
            for rows, fmt in bodies
        ]
        over = "" if http == DEFAULT_HTTP else f" over {http_label(http)}"
        texts.append(
            f"{measured[0].client}{over} reading the same bytes from memory, median per "
            "request; " + "; ".join(parts)
        )
    return ". ".join(texts)


def environment_items(results: Results) -> list[tuple[str, str]]:
    """The environment block: machine, versions, database, commit, settings, layout, matrix."""
    env = results.environment
    info = results.streambench
    machine = ", ".join(
        part
        for part in (
            env.platform,
            env.cpu_model,
            f"{env.cpu_count} CPUs" if env.cpu_count else None,
            _format.size(env.memory_bytes) + " memory" if env.memory_bytes else None,
        )
        if part
    )
    commit = info.commit or "unknown"
    if info.dirty:
        commit += " (uncommitted changes)"
    ports = "; ".join(
        f"{p.contender}: {p.framework} on {p.server}"
        + (f", data layer {p.layer}" if p.layer is not None else "")
        for p in results.ports
    )
    database = env.database
    db_text = f"PostgreSQL {database.server_version or 'version unknown'} at {database.url}"
    if database.embedded:
        db_text += " (embedded)"
    matrix = results.matrix
    matrix_text = (
        f"ports {', '.join(matrix.ports)}; rows {', '.join(_format.count(r) for r in matrix.rows)}; "
        f"formats {', '.join(matrix.formats)}; concurrency {', '.join(map(str, matrix.concurrency))}; "
        f"endpoints {', '.join(matrix.endpoints)}; "
        f"sources {', '.join(matrix.sources) or 'each endpoint its own'}; "
        f"data layers {', '.join(matrix.layers)}; "
        f"{matrix.repeats} repeats after {matrix.warmup} "
        f"warm-up; batch {matrix.batch:,}" + ("; quick run" if matrix.quick else "")
    )
    if matrix.note:
        matrix_text += f". {matrix.note}"
    return [
        ("run", results.created_at + _duration(results.duration_seconds)),
        ("machine", machine),
        ("python", env.python),
        ("client", env.client),
        ("load generator", generator_text(results)),
        ("client ceiling", ceiling_text(results)),
        (
            "libraries",
            ", ".join(f"{k} {v}" for k, v in sorted(env.libraries.items())) or "not recorded",
        ),
        ("ports", ports),
        ("database", db_text),
        ("streambench", f"{info.version}, commit {commit}"),
        ("settings", _settings_text(results.settings.items())),
        ("layout", env.layout or "not recorded"),
        ("load", load_text(results)),
        ("matrix", matrix_text),
    ]


def generator_text(results: Results) -> str:
    """What sent the rounds, what that cost it, and whether it shared the servers' machine."""
    matrix = results.matrix
    if matrix.load == "in-process" or (matrix.client_processes == 0 and matrix.load == "processes"):
        what = "the comparator's own process"
    elif matrix.load == "processes":
        count = matrix.client_processes
        what = (
            f"{count} client worker processes, started together"
            if count > 1
            else "1 client worker process"
        )
    else:
        what = matrix.load
    figures = [s.client for s in results.scenarios if s.client is not None]
    shares = [f.cpu_share.median for f in figures if f.cpu_share is not None]
    if shares:
        what += (
            f"; the busiest client process used {min(shares):.0%}–{max(shares):.0%} of a core "
            "over a median round"
        )
    loads = [f.load for f in figures if f.load is not None]
    if loads:
        what += f"; client machine load {min(loads):.2f}–{max(loads):.2f}"
    if any(f.same_machine for f in figures):
        cores = f"{results.environment.cpu_count} CPUs" if results.environment.cpu_count else "CPUs"
        what += (
            f". Client and servers shared this machine's {cores}: what the client used, the "
            "servers and the database could not"
        )
    return what


def load_text(results: Results) -> str:
    """The 1-minute load average around the run and after each scenario: how busy the machine
    was besides the run, which moves every figure."""
    env = results.environment
    ends = [
        f"{label} {value:.2f}"
        for label, value in (("at the start", env.load_before), ("at the end", env.load_after))
        if value is not None
    ]
    per_scenario = [s.load for s in results.scenarios if s.load is not None]
    if per_scenario:
        ends.append(f"after each scenario {min(per_scenario):.2f}–{max(per_scenario):.2f}")
    if not ends:
        return "not recorded"
    cores = f" on {env.cpu_count} CPUs" if env.cpu_count else ""
    return f"1-minute load average{cores}: " + ", ".join(ends)


def _duration(value: float | None) -> str:
    return "" if value is None else f", took {value:.0f} s"


def _settings_text(items: Iterable[tuple[str, object]]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(items))
