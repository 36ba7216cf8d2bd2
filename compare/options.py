"""What one comparator run measures: its options, validated, and the scenario matrix they give.

Pure: the registry of ports comes in as an argument, nothing is started here.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from shared.compression import CODINGS, IDENTITY
from shared.encoders import FORMATS
from shared.layers import DEFAULT_LAYER, SHARED_LAYERS, LayerSpec

from .budgets import GRAMMAR, Budget, BudgetError, parse_budget
from .capacity import estimated_held_bytes
from .clients import CLIENTS, DEFAULT_CLIENT
from .layers import LayerError, LocalContender, chosen_layers, plan_contenders
from .load.choice import LoadOptionError, LocustOptions, add_load_arguments, load_choice
from .load.engines import DEFAULT_ENGINE
from .load.processes import default_client_processes
from .read_rates import ReadRateError, format_rate, parse_read_rates
from .results import (
    DEFAULT_HTTP,
    DEFAULT_SOURCE,
    ENDPOINTS,
    HTTP_VERSIONS,
    NO_COMPRESSION,
    SOURCES,
    Endpoint,
    NotOffered,
    Source,
    http_label,
)

DEFAULT_ROWS = (10_000, 100_000, 500_000)
# The content codings a cell may ask for (`Accept-Encoding`); `none` asks for identity.
COMPRESSIONS: tuple[str, ...] = (NO_COMPRESSION, *CODINGS)
DEFAULT_FORMATS = ("text",)
# Every way of reading the rows that holds a connection per request, on both endpoints: which
# one to use is the question the default run answers. `keyset` (a query per batch) is asked
# for by name: it answers the slow readers' question (--read-rate). Empty would mean each
# endpoint's own (standard: fetch, chunked: cursor).
DEFAULT_SOURCES: tuple[Source, ...] = ("fetch", "cursor", "copy")
DEFAULT_CONCURRENCY = (1, 8, 32)
DEFAULT_REPEATS = 5
DEFAULT_BATCH = 1_000
WARMUP_ROUNDS = 1
QUICK_ROWS = (1_000, 10_000)
QUICK_CONCURRENCY = (1, 4)
QUICK_REPEATS = 2
# Besides every port on its default server, the default run measures the reference ASGI port on
# the other ASGI servers: the server's share of a result, at the cost of two contenders.
DEFAULT_EXTRA_PAIRS = ("starlette@granian", "starlette@hypercorn")
# Unless --concurrency is given, a concurrency runs only where rows x concurrency stays within
# this many rows per round. With three sources and seven contenders, 100,000 rows x 8 alone
# took 97 s of a 290 s default run here; without it the run keeps about 3 minutes.
ROUND_ROW_BUDGET = 320_000
# A local server whose resident memory passes this has its round stopped (a pair that buffers
# what a slow reader has not taken yet would otherwise grow until the machine swaps).
DEFAULT_MEMORY_CAP = 4 * 1024**3

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
    endpoints: tuple[Endpoint, ...]
    sources: tuple[Source, ...]  # empty: each endpoint's default
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
    budgets: tuple[Budget, ...] = ()
    reuse_servers: bool = False
    layers: tuple[str, ...] = (DEFAULT_LAYER,)
    # Each of `ports` on each of `layers` it can serve, and what the layers do not offer.
    contenders: tuple[LocalContender, ...] = ()
    not_offered: tuple[NotOffered, ...] = ()
    # Bytes per second each reader reads at, fastest first; None: as fast as it can.
    read_rates: tuple[float | None, ...] = (None,)
    memory_cap_bytes: int = DEFAULT_MEMORY_CAP
    # The HTTP client that reads every body (compare/clients/).
    client: str = DEFAULT_CLIENT
    # What sends the rounds (compare/load/engines.py), and over how many client processes of
    # this machine (0: the comparator's own).
    load: str = DEFAULT_ENGINE
    client_processes: int = 1
    # Requests each stream of a round sends one after another (1: all start together).
    requests_per_stream: int = 1
    # --load locust: its workers and master (compare/load/locust/).
    locust: LocustOptions = field(default_factory=LocustOptions)
    # The HTTP versions each scenario runs over (--http), HTTP/1.1 first.
    http: tuple[str, ...] = (DEFAULT_HTTP,)
    # The content codings each cell is asked in (--compression), `none` first when given.
    compression: tuple[str, ...] = (NO_COMPRESSION,)

    @property
    def names(self) -> tuple[str, ...]:
        return self.ports + tuple(t.name for t in self.targets)

    @property
    def contender_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.contenders) + tuple(t.name for t in self.targets)


@dataclass(frozen=True)
class Cell:
    """One scenario of the matrix, for every port alike."""

    endpoint: Endpoint
    rows: int
    format: str
    concurrency: int
    source: Source = "fetch"
    read_rate: float | None = None  # bytes per second each request is read at; None: max
    http: str = DEFAULT_HTTP  # "2": h2c, the concurrency as streams of one connection
    compression: str = NO_COMPRESSION  # the content coding asked for; `none`: identity

    def headers(self) -> dict[str, str]:
        """The request headers the cell itself sets. `Accept-Encoding` always: both clients
        would otherwise send their own default (httpx `gzip, deflate, zstd`, aiohttp `gzip,
        deflate`), and an uncompressed cell must ask for identity in so many words."""
        coding = IDENTITY if self.compression == NO_COMPRESSION else self.compression
        return {"Accept-Encoding": coding}

    def params(self, batch: int) -> dict[str, str]:
        """The query string. `source` only when it is not the endpoint's default, so a port that
        predates the parameter is measured the same way as before."""
        params = {"rows": str(self.rows), "format": self.format, "batch": str(batch)}
        if self.source != DEFAULT_SOURCE[self.endpoint]:
            params["source"] = self.source
        return params

    @property
    def label(self) -> str:
        label = (
            f"{self.endpoint}/{self.source} {self.rows:,} rows {self.format} x{self.concurrency}"
        )
        if self.compression != NO_COMPRESSION:
            label = f"{label} {self.compression}"
        if self.read_rate is not None:
            label = f"{label} at {format_rate(self.read_rate)}"
        return label if self.http == DEFAULT_HTTP else f"{label} over {http_label(self.http)}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ports",
        help="comma list of ports, or port@server pairs (default: every port on its default "
        f"server, plus {', '.join(DEFAULT_EXTRA_PAIRS)})",
    )
    parser.add_argument(
        "--servers",
        help="comma list of servers: each port runs on each of them that can serve it "
        "(default: each port's default server)",
    )
    parser.add_argument("--endpoints", help=f"comma list of {', '.join(ENDPOINTS)} (default: both)")
    parser.add_argument(
        "--sources",
        help=f"comma list of ways to read the rows, {', '.join(SOURCES)} (default: "
        + (
            _join(DEFAULT_SOURCES)
            if DEFAULT_SOURCES
            else "each endpoint's own, fetch for standard and cursor for chunked"
        )
        + ")",
    )
    parser.add_argument(
        "--layers",
        help="comma list of data layers the servers read the rows through, each port on each "
        f"layer it serves in a process of its own: {', '.join(SHARED_LAYERS)}, or a port's own "
        f"(`streambench ports` lists them; default: {DEFAULT_LAYER})",
    )
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
        help="a small matrix: 1,000 and 10,000 rows, concurrency 1 and 4, 2 repeats, and "
        "--reuse-servers",
    )
    reuse = parser.add_mutually_exclusive_group()
    reuse.add_argument(
        "--reuse-servers",
        action="store_true",
        default=None,
        help="one server process per contender for every scenario, lighter ones first: far "
        "fewer starts, but a memory figure can include what an earlier scenario left behind",
    )
    reuse.add_argument(
        "--fresh-servers",
        dest="reuse_servers",
        action="store_false",
        help="fresh server processes per (endpoint, source, format), also with --quick "
        "(the default otherwise)",
    )
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="measure an already-running server (repeatable); no process is started",
    )
    parser.add_argument(
        "--read-rate",
        help="comma list of the rates each request's body is read at, e.g. 1MB/s,10MB/s,max "
        "(units B, kB, MB, GB, KiB, MiB, GiB per second; default: max, as fast as the client "
        "reads). A paced reader's sockets get a small receive buffer, so the server's own "
        "waiting shows; each paced round also sends a small request one second in",
    )
    parser.add_argument(
        "--memory-cap",
        help="stop a round when a local server's resident memory passes this many MB "
        f"(default: {DEFAULT_MEMORY_CAP // 1024**2:,}); the scenario is flagged memory-capped",
    )
    parser.add_argument(
        "--client",
        help=f"the HTTP client that reads every body: {', '.join(CLIENTS)} (default: "
        f"{DEFAULT_CLIENT}, the faster here; the README says by how much). Each run measures its "
        "ceiling at every concurrency and flags the figures it bounds",
    )
    parser.add_argument(
        "--client-processes",
        help="client worker processes each round's requests are split over, started together "
        f"(default: {default_client_processes()}, half this machine's cores: the rest serve "
        "and query); 0 sends them from the comparator's own process",
    )
    parser.add_argument(
        "--requests-per-stream",
        help="requests each of a round's simultaneous streams sends one after another, each as "
        "soon as the last ended, as wrk and most load tools keep their connections busy "
        "(default: 1, every request of a round starts together: a burst). More measure a "
        "steady load: most requests meet a server already serving the others",
    )
    add_load_arguments(parser)
    parser.add_argument(
        "--http",
        help=f"comma list of HTTP versions every scenario runs over: {', '.join(HTTP_VERSIONS)} "
        f"(default: {DEFAULT_HTTP}). 2 is HTTP/2 in cleartext with prior knowledge (h2c), read "
        "by httpx with h2 whatever --client says, a round's requests as streams of one "
        "connection per client process; pairs whose server does not speak it are listed as "
        "not offered. --fail-if names them h1 and h2 (h2.chunked.ttfb>20ms)",
    )
    parser.add_argument(
        "--compression",
        help=f"comma list of content codings each scenario is asked in, {', '.join(COMPRESSIONS)} "
        f"(default: {NO_COMPRESSION}); sent as Accept-Encoding, bodies decoded as they are read",
    )
    parser.add_argument("--out", type=Path, help="results folder (default: reports/<UTC time>/)")
    parser.add_argument(
        "--fail-if",
        action="append",
        default=[],
        metavar="EXPR",
        help=f"exit 1 when a figure breaks this budget, naming every scenario that does "
        f"(repeatable): {GRAMMAR}. E.g. chunked.ttfb>10ms, standard.memory>2x-body, "
        "x-floor>3, errors>0, h2.chunked.ttfb>20ms",
    )


def options_from_args(
    args: argparse.Namespace,
    available: Sequence[tuple[str, str | None]],
    defaults: Sequence[str] = (),
    port_layers: Mapping[str, Sequence[LayerSpec]] | None = None,
    pair_http: Mapping[str, Sequence[str]] | None = None,
) -> CompareOptions:
    """Validate the parsed arguments. `available` is every registered (port, server) pair as
    (`port@server`, reason it cannot be used or None); `defaults` the pairs of each port's
    default server, which a bare port name means; `port_layers` the data layers each pair's port
    brings beside the shared ones (none when left out); `pair_http` the HTTP versions each
    pair's server speaks (HTTP/1.1 alone when left out)."""
    targets = tuple(parse_target(raw) for raw in args.target)
    ports = _contenders(args, available, defaults, targeted=bool(targets))
    _unique((*ports, *(t.name for t in targets)), "port and target names")
    if not ports and not targets:
        raise OptionError("no port to measure: none is available and no --target was given")

    endpoints: tuple[Endpoint, ...] = ENDPOINTS
    if args.endpoints is not None:
        endpoints = _chosen(args.endpoints, "--endpoints", "endpoint", ENDPOINTS)
    sources: tuple[Source, ...] = DEFAULT_SOURCES
    if args.sources is not None:
        sources = _chosen(args.sources, "--sources", "source", SOURCES)
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
    read_rates: tuple[float | None, ...] = (None,)
    if getattr(args, "read_rate", None) is not None:
        try:
            read_rates = parse_read_rates(args.read_rate)
        except ReadRateError as error:
            raise OptionError(f"--read-rate: {error}") from None
    memory_cap = DEFAULT_MEMORY_CAP
    if getattr(args, "memory_cap", None) is not None:
        memory_cap = _integer(args.memory_cap, "--memory-cap", 1) * 1024**2
    client = DEFAULT_CLIENT
    if getattr(args, "client", None) is not None:
        client = args.client.strip()
        if client not in CLIENTS:
            raise OptionError(
                f"--client: unknown client {args.client!r}; expected {', '.join(CLIENTS)}"
            )
    client_processes = default_client_processes()
    if getattr(args, "client_processes", None) is not None:
        client_processes = _integer(args.client_processes, "--client-processes", 0)
    requests_per_stream = 1
    if getattr(args, "requests_per_stream", None) is not None:
        requests_per_stream = _integer(args.requests_per_stream, "--requests-per-stream", 1)
    try:
        load, locust = load_choice(args, paced=any(rate is not None for rate in read_rates))
    except LoadOptionError as error:
        raise OptionError(str(error)) from None
    compression: tuple[str, ...] = (NO_COMPRESSION,)
    if getattr(args, "compression", None) is not None:
        compression = _chosen(args.compression, "--compression", "coding", COMPRESSIONS)
    own = port_layers or {}
    layers, contenders, not_offered = _layers(
        args, ports, own, sources or tuple(DEFAULT_SOURCE[e] for e in endpoints)
    )
    http = DEFAULT_HTTP_CHOICE
    if getattr(args, "http", None) is not None:
        http = _chosen(args.http, "--http", "HTTP version", HTTP_VERSIONS)
    if load == "locust" and any(version != DEFAULT_HTTP for version in http):
        raise OptionError(
            "--http: --load locust speaks HTTP/1.1 only (its workers read with "
            "geventhttpclient): leave out --http 2, or use the default engine for HTTP/2"
        )
    contenders, http_not_offered = _http(http, contenders, targets, pair_http or {})
    not_offered += http_not_offered
    names = (*ports, *(c.name for c in contenders), *(t.name for t in targets))
    try:
        budgets = tuple(
            parse_budget(raw, dict.fromkeys(names), FORMATS, layers) for raw in args.fail_if
        )
    except BudgetError as error:
        raise OptionError(str(error)) from None
    return CompareOptions(
        ports=ports,
        targets=targets,
        endpoints=endpoints,
        sources=sources,
        rows=tuple(sorted(set(rows))),
        formats=tuple(dict.fromkeys(formats)),
        concurrency=tuple(sorted(set(concurrency))),
        repeats=repeats,
        batch=batch,
        auth=bool(args.auth),
        quick=quick,
        out=args.out,
        shape=args.concurrency is None,
        budgets=budgets,
        reuse_servers=quick if args.reuse_servers is None else bool(args.reuse_servers),
        layers=layers,
        contenders=contenders,
        not_offered=not_offered,
        read_rates=read_rates,
        memory_cap_bytes=memory_cap,
        client=client,
        client_processes=client_processes,
        requests_per_stream=requests_per_stream,
        load=load,
        locust=locust,
        http=http,
        compression=compression,
    )


DEFAULT_HTTP_CHOICE: tuple[str, ...] = (DEFAULT_HTTP,)


def _http(
    http: tuple[str, ...],
    contenders: tuple[LocalContender, ...],
    targets: Sequence[Target],
    pair_http: Mapping[str, Sequence[str]],
) -> tuple[tuple[LocalContender, ...], tuple[NotOffered, ...]]:
    """Each contender with the versions of `http` its server speaks, and the rest as not
    offered; `OptionError` when no contender speaks any of them."""
    speaking: list[LocalContender] = []
    not_offered: list[NotOffered] = []
    for contender in contenders:
        spoken = tuple(pair_http.get(contender.pair, (DEFAULT_HTTP,)))
        server = contender.pair.partition("@")[2] or "its server"
        only = ", ".join(http_label(v) for v in spoken)
        speaking.append(dataclasses.replace(contender, http=tuple(v for v in http if v in spoken)))
        not_offered.extend(
            NotOffered(contender.pair, contender.layer, None, f"{server} speaks {only} only", v)
            for v in http
            if v not in spoken
        )
    for target in targets:
        not_offered.extend(
            NotOffered(target.name, DEFAULT_LAYER, None, "a --target is measured over HTTP/1.1", v)
            for v in http
            if v != DEFAULT_HTTP
        )
    if not any(c.http for c in speaking) and not (targets and DEFAULT_HTTP in http):
        reasons = "; ".join(dict.fromkeys(f"{n.port}: {n.reason}" for n in not_offered))
        raise OptionError(f"--http: no contender speaks {', '.join(http)}: {reasons}")
    return tuple(speaking), tuple(not_offered)


def _layers(
    args: argparse.Namespace,
    ports: Sequence[str],
    port_layers: Mapping[str, Sequence[LayerSpec]],
    sources: Sequence[str],
) -> tuple[tuple[str, ...], tuple[LocalContender, ...], tuple[NotOffered, ...]]:
    """The layers asked for, every pair on each one it serves, and what is not offered."""
    if args.layers is None:
        names: Sequence[str] = (DEFAULT_LAYER,)
    else:
        names = _names(args.layers, "--layers")
        if not ports:
            raise OptionError(
                "--layers: no port to start on them; a --target is measured on whatever layer "
                "it runs"
            )
    try:
        layers = chosen_layers(names, port_layers)
    except LayerError as error:
        raise OptionError(str(error)) from None
    contenders, not_offered = plan_contenders(ports, layers, port_layers, sources)
    if ports and not contenders:
        reasons = "; ".join(dict.fromkeys(n.reason for n in not_offered if n.source is None))
        raise OptionError(f"--layers: none of the ports serves {', '.join(layers)}: {reasons}")
    return layers, contenders, not_offered


def _contenders(
    args: argparse.Namespace,
    available: Sequence[tuple[str, str | None]],
    defaults: Sequence[str],
    *,
    targeted: bool,
) -> tuple[str, ...]:
    """The (port, server) pairs to start, as `port@server` names."""
    reasons = dict(available)
    usable = [name for name, reason in available if reason is None]
    default_of = {name.partition("@")[0]: name for name in defaults}
    servers = None if args.servers is None else _names(args.servers, "--servers")
    if servers is not None:
        known = {name.partition("@")[2] for name in reasons}
        for server in servers:
            if server not in known:
                raise OptionError(
                    f"--servers: unknown server {server!r}; known: {', '.join(sorted(known))}"
                )
    if args.ports is None and servers is None:
        if targeted:
            return ()  # only the targets: starting local servers was not asked for
        extra = [p for p in DEFAULT_EXTRA_PAIRS if reasons.get(p, "missing") is None]
        return tuple(dict.fromkeys([*(p for p in defaults if reasons.get(p) is None), *extra]))
    if args.ports is None:
        names = list(dict.fromkeys(name.partition("@")[0] for name in reasons))
    else:
        names = _names(args.ports, "--ports")
    chosen: list[str] = []
    for name in names:
        port, sep, server = name.partition("@")
        if sep:
            candidates = [name]
        elif servers is not None:
            candidates = [f"{port}@{s}" for s in servers if f"{port}@{s}" in reasons]
            if not candidates and any(n.startswith(f"{port}@") for n in reasons):
                runs_on = [n.partition("@")[2] for n in reasons if n.startswith(f"{port}@")]
                if args.ports is None:
                    continue  # every port was meant: this one runs on none of those servers
                raise OptionError(
                    f"--ports: port {port!r} runs on {', '.join(runs_on)}, "
                    f"none of --servers {', '.join(servers)}"
                )
        else:
            candidates = [default_of.get(port, name)]
        for candidate in candidates:
            if candidate not in reasons:
                ports = sorted({n.partition("@")[0] for n in reasons})
                raise OptionError(
                    f"--ports: unknown port or pair {candidate!r}; ports: {', '.join(ports)}; "
                    f"pairs: {', '.join(usable) or 'none'}"
                )
            if reasons[candidate] is not None:
                raise OptionError(f"--ports: {candidate!r} is unavailable: {reasons[candidate]}")
            chosen.append(candidate)
    return tuple(dict.fromkeys(chosen))


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
    """The scenario cells in run order, and a note on how the matrix was shaped.

    Two caps shape it. Without --concurrency, a concurrency above the lowest runs only where
    rows x concurrency stays within ROUND_ROW_BUDGET (the default run's duration). Always, a
    cell whose estimated server memory (compare/capacity.py: the bodies such a response holds,
    times the body, times the requests at once) passes the run's memory cap is left out and the
    note names it: a buffered `fetch` of 500,000 rows at 1,024 at once would ask a server for
    tens of GB, where a streamed `cursor` holds a batch or two at any concurrency."""
    cells: list[Cell] = []
    skipped: list[str] = []
    over_cap: list[str] = []
    for rows in options.rows:
        for format in options.formats:
            for concurrency in options.concurrency:
                first = concurrency == options.concurrency[0]
                if options.shape and not first and rows * concurrency > ROUND_ROW_BUDGET:
                    skipped.append(f"{rows:,} rows x {concurrency}")
                    continue
                routes = []
                for endpoint in options.endpoints:
                    for source in options.sources or (DEFAULT_SOURCE[endpoint],):
                        held = estimated_held_bytes(endpoint, source, rows, format, concurrency)
                        if held <= options.memory_cap_bytes:
                            routes.append((endpoint, source))
                            continue
                        over_cap.append(
                            f"/{endpoint}?source={source} {rows:,} rows {format} x "
                            f"{concurrency:,} (about {held / 1e9:,.1f} GB)"
                        )
                cells.extend(
                    Cell(endpoint, rows, format, concurrency, source, rate, http, compression)
                    for http in options.http
                    for rate in options.read_rates
                    for endpoint, source in routes
                    for compression in options.compression
                )
    processes = (
        "one server process per contender for every scenario, in rising order of the memory a "
        "response is expected to hold; memory growth is each round's peak RSS over the fresh "
        "process's RSS, so it can include what an earlier scenario left behind (an upper bound)"
        if options.reuse_servers
        else "fresh server processes per (endpoint, source, format), scenarios within in rising "
        "rows x concurrency; memory growth is each round's peak RSS over the fresh process's RSS"
    )
    notes = [
        processes,
        "ports interleaved round by round",
        f"{options.warmup} warm-up round(s) per scenario, not counted",
    ]
    if options.requests_per_stream > 1:
        notes.append(
            f"each stream of a round sends {options.requests_per_stream} requests one after "
            "another (a closed loop)"
        )
    if any(v != DEFAULT_HTTP for v in options.http):
        notes.append(
            "HTTP/2 scenarios: read by httpx with h2 whatever the client, a round's requests "
            "as streams of one connection per client process, on server processes of their "
            "own; their client ceiling is httpx over HTTP/2 from an in-memory server that "
            "speaks it through the Python h2 package, slower than the servers' own HTTP/2 "
            "layers: an upper bound of the reader's cost, so client-bound may be flagged early"
        )
    if options.compression != (NO_COMPRESSION,):
        notes.append(
            f"bodies asked for in {', '.join(options.compression)} (Accept-Encoding), decoded "
            "as they are read: totals include the client's decoding"
        )
    paced = [format_rate(rate) for rate in options.read_rates if rate is not None]
    if paced:
        notes.append(
            f"bodies read at {', '.join(format_rate(r) for r in options.read_rates)}; a paced "
            "reader's sockets have a 64 KiB receive buffer"
        )
    if skipped:
        notes.append(
            f"concurrency above {options.concurrency[0]} only where rows x concurrency <= "
            f"{ROUND_ROW_BUDGET:,}; left out: " + ", ".join(dict.fromkeys(skipped))
        )
    if over_cap:
        notes.append(
            f"left out over the {options.memory_cap_bytes / 1e9:,.1f} GB memory cap, by the "
            "memory a server would hold (estimated: bodies held per request x body x "
            "concurrency): " + ", ".join(over_cap)
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


_Choice = TypeVar("_Choice", bound=str)


def _chosen(raw: str, option: str, kind: str, choices: tuple[_Choice, ...]) -> tuple[_Choice, ...]:
    """The named members of `choices`, in the order of `choices`."""
    picked = _names(raw, option)
    for name in picked:
        if name not in choices:
            raise OptionError(f"{option}: unknown {kind} {name!r}; expected {', '.join(choices)}")
    return tuple(choice for choice in choices if choice in picked)


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
