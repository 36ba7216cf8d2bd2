"""The comparator's results: plain frozen dataclasses, written as results.json and read back.

Reports are rendered from these objects only. Every figure is either measured or `None` (null in
JSON): nothing is estimated or filled in. Times are seconds, sizes bytes, unless a name says otherwise.
Bump `SCHEMA_VERSION` whenever a field changes meaning or disappears; `READABLE_VERSIONS` are the
files this code still reads, filling in what they could not say.

Version 2 added the data layer: a contender is a (port, layer) pair, each scenario and port names
its `layer`, and what a layer does not offer is listed in `not_offered`. Every local server of a
version 1 file read through asyncpg, the only layer there was.

Version 3 added slow readers: each scenario's `read_rate` (None: as fast as the client reads,
all a version 2 file measured), what its requests cost the database (`database`), a request
arriving meanwhile (`bystander`) and what a reader that vanished cost (`abort`).

Version 4 made the measuring client a choice (`matrix.client`, httpx or aiohttp) and measured
its ceiling at every concurrency of the matrix: each `client_ceiling` names its `client` and
`concurrency`, and a scenario is client-bound against the ceiling at its own concurrency. A
file of versions 1 to 3 measured httpx, one request at a time.

Version 5 made the load generator a choice: `matrix.load` names the engine and
`matrix.client_processes` how many client processes of this machine sent each round (0: the
comparator's own, all that files before version 5 used), and each scenario records what the
sending cost the client side (`client`). The environment's `client` describes the engine.

Version 6 added the HTTP version as an axis (`--http`): each scenario names its `http` ("1.1" or
"2"; HTTP/2 is cleartext with prior knowledge, every simultaneous request a stream of one
connection per client process), its key includes it, `matrix.http` lists the versions run, and
a pair whose server does not speak a version is listed in `not_offered` with that `http`, and each
`client_ceiling` names the `http` it was read over (HTTP/2's read by httpx with h2 from an in-memory
HTTP/2 server). Files before version 6 measured HTTP/1.1 only.

Version 7 added what a scenario's simultaneous streams did side by side (`streams`): the first
byte's 99th percentile over every good request (its median and p95 were in `ttfb` already), the
server's open files at each round's peak, each stream's throughput, their spread and the streams
starved while others finished. Files before version 7 did not measure them: `streams` is null
there, never filled in.

Version 8 added content codings (`--compression`): each scenario and client ceiling names its
`compression` (`none`, `gzip`, `zstd`; a scenario's key includes it), a scenario's `bytes` are
what arrived on the wire and `decoded_bytes` the body once decoded, and `matrix.compression`
lists the codings run. Files before version 8 measured identity bodies only: `none`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from shared.layers import DEFAULT_LAYER

# Stats and the checks live beside the results; importing them from here keeps working.
from .checks import Check as Check
from .checks import CheckStatus as CheckStatus
from .checks import Verification as Verification
from .client_load import ClientFigures
from .stats import Stats as Stats
from .stats import percentile as percentile
from .stats import stats_or_none

T = TypeVar("T")

SCHEMA_VERSION = 8
READABLE_VERSIONS = (1, 2, 3, 4, 5, 6, 7, 8)
# A scenario's content coding when it asked for none (and every scenario before version 8).
NO_COMPRESSION = "none"
# What measured every file before version 4.
EARLIER_CLIENT = "httpx"

ServerSource = Literal["proc", "metrics", "none"]
Endpoint = Literal["standard", "chunked"]
ENDPOINTS: tuple[Endpoint, ...] = ("standard", "chunked")
# How a port reads the rows (the contract's `source`): one round trip, a server-side cursor, or
# the database writing the body itself with COPY. Each endpoint's default is what it did before.
Source = Literal["fetch", "cursor", "copy", "keyset"]
SOURCES: tuple[Source, ...] = ("fetch", "cursor", "copy", "keyset")
DEFAULT_SOURCE: dict[str, Source] = {"standard": "fetch", "chunked": "cursor"}
# A contender on another data layer than the default is named `port@server+layer`.
LAYER_SEPARATOR = "+"
# The HTTP versions a scenario can be measured over, and what every file before version 6 used.
HTTP_VERSIONS: tuple[str, ...] = ("1.1", "2")
DEFAULT_HTTP = "1.1"


def http_label(http: str) -> str:
    """How reports and the console name an HTTP version: "HTTP/1.1", "HTTP/2"."""
    return f"HTTP/{http}"


def contender_name(port: str, layer: str | None) -> str:
    """A contender's name: its port (or target) on the default data layer, `port+layer` on
    another, as a bare port name means the port on its default server. Stable from run to run
    whichever layers ran beside it, so two runs' scenarios match by it; a target's layer is not
    known (None) and its name is its own."""
    if layer is None or layer == DEFAULT_LAYER:
        return port
    return f"{port}{LAYER_SEPARATOR}{layer}"


@dataclass(frozen=True)
class StreambenchInfo:
    version: str
    commit: str | None
    dirty: bool | None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StreambenchInfo:
        return cls(version=data["version"], commit=data.get("commit"), dirty=data.get("dirty"))


@dataclass(frozen=True)
class DatabaseInfo:
    url: str
    server_version: str | None
    embedded: bool

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatabaseInfo:
        return cls(
            url=data["url"], server_version=data.get("server_version"), embedded=data["embedded"]
        )


@dataclass(frozen=True)
class Environment:
    python: str
    platform: str
    cpu_model: str | None
    cpu_count: int | None
    memory_bytes: int | None
    client: str
    layout: str | None
    database: DatabaseInfo
    # Versions of what sits between the database and the socket (driver, ORM, event loop, ...).
    libraries: Mapping[str, str] = field(default_factory=dict)
    # The 1-minute load average when the run started and when it ended: what else the machine
    # was doing. The comparator itself keeps about one core busy while it measures.
    load_before: float | None = None
    load_after: float | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Environment:
        return cls(
            python=data["python"],
            platform=data["platform"],
            cpu_model=data.get("cpu_model"),
            cpu_count=data.get("cpu_count"),
            memory_bytes=data.get("memory_bytes"),
            client=data["client"],
            layout=data.get("layout"),
            database=DatabaseInfo.from_dict(data["database"]),
            libraries=dict(data.get("libraries", {})),
            load_before=data.get("load_before"),
            load_after=data.get("load_after"),
        )


@dataclass(frozen=True)
class Matrix:
    """What was run. `note` says how the matrix was shaped (e.g. which combinations were left out)."""

    ports: tuple[str, ...]
    rows: tuple[int, ...]
    formats: tuple[str, ...]
    concurrency: tuple[int, ...]
    endpoints: tuple[str, ...]
    repeats: int
    batch: int
    warmup: int
    quick: bool
    note: str
    sources: tuple[str, ...] = ()  # empty: each endpoint's default source only
    # One server process per contender for every scenario instead of fresh ones per group.
    reuse_servers: bool = False
    # The data layers each port was run on (--layers), the default first when it ran.
    layers: tuple[str, ...] = (DEFAULT_LAYER,)
    # Bytes per second each reader read at (--read-rate), fastest first; None: as fast as it can.
    read_rates: tuple[float | None, ...] = (None,)
    # A local server whose resident memory passed this many bytes had its round stopped.
    memory_cap_bytes: int | None = None
    # The HTTP client that read every body (--client).
    client: str = EARLIER_CLIENT
    load: str = "in-process"  # what sent the rounds (compare/load/engines.py)
    client_processes: int = 0  # client processes of this machine; 0: the comparator's own
    requests_per_stream: int = 1  # each stream's requests one after another; 1: a burst
    http: tuple[str, ...] = (DEFAULT_HTTP,)  # the HTTP versions run (--http)
    compression: tuple[str, ...] = (NO_COMPRESSION,)  # the content codings asked for

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Matrix:
        return cls(
            ports=tuple(data["ports"]),
            rows=tuple(int(r) for r in data["rows"]),
            formats=tuple(data["formats"]),
            concurrency=tuple(int(c) for c in data["concurrency"]),
            endpoints=tuple(data.get("endpoints", ENDPOINTS)),
            repeats=int(data["repeats"]),
            batch=int(data["batch"]),
            warmup=int(data["warmup"]),
            quick=bool(data["quick"]),
            note=data.get("note", ""),
            sources=tuple(data.get("sources", ())),
            reuse_servers=bool(data.get("reuse_servers", False)),
            layers=tuple(data.get("layers", (DEFAULT_LAYER,))),
            read_rates=tuple(data.get("read_rates", (None,))),
            memory_cap_bytes=data.get("memory_cap_bytes"),
            client=data.get("client", EARLIER_CLIENT),
            load=data.get("load", "in-process"),
            client_processes=int(data.get("client_processes", 0)),
            requests_per_stream=int(data.get("requests_per_stream", 1)),
            http=tuple(str(v) for v in data.get("http", (DEFAULT_HTTP,))),
            compression=tuple(data.get("compression", (NO_COMPRESSION,))),
        )


@dataclass(frozen=True)
class PortResult:
    """A port as measured: `target` is true for an already-running server given with --target.

    `startup` is the time from process start to the first healthy /healthz (null for targets).
    A port whose verification failed has no scenarios. One port runs on each data layer as a
    contender of its own: `name` is the port (or target), `layer` the layer (None for a target,
    whose layer is not known), `contender` the two together. `default_pair` is true for a port on
    its default server.
    """

    name: str
    framework: str
    server: str
    details: str
    url: str
    target: bool
    server_metrics: ServerSource
    verification: Verification
    startup: Stats | None = None
    layer: str | None = DEFAULT_LAYER
    default_pair: bool = False

    @property
    def timed(self) -> bool:
        return self.verification.passed

    @property
    def contender(self) -> str:
        return contender_name(self.name, self.layer)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PortResult:
        return cls(
            name=data["name"],
            framework=data["framework"],
            server=data["server"],
            details=data.get("details", ""),
            url=data["url"],
            target=bool(data["target"]),
            server_metrics=data["server_metrics"],
            verification=Verification.from_dict(data["verification"]),
            startup=stats_or_none(data.get("startup")),
            layer=data["layer"] if "layer" in data else (None if data["target"] else DEFAULT_LAYER),
            default_pair=bool(data.get("default_pair", False)),
        )


@dataclass(frozen=True)
class Floor:
    """What the database alone costs, through asyncpg's COPY. The rows floor (`results.floor`):
    `COPY` of the ordered ids, no body at all. The body floor (`results.body_floor`): `COPY` of
    the query that writes the exact response body, the best any port can do."""

    rows: int
    format: str
    bytes: int
    seconds: Stats

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Floor:
        return cls(
            rows=int(data["rows"]),
            format=data["format"],
            bytes=int(data["bytes"]),
            seconds=Stats.from_dict(data["seconds"]),
        )


@dataclass(frozen=True)
class ClientCeiling:
    """The run's client reading the same bytes in the same chunking from an in-memory server,
    `concurrency` requests at a time: the client's limit at that concurrency. `ttfb` and `total`
    are over every request of the measured rounds; `megabytes_per_second` is one request's bytes
    over the median total."""

    rows: int
    format: str
    bytes: int
    chunks: int
    ttfb: Stats
    total: Stats
    megabytes_per_second: float
    concurrency: int = 1
    client: str = EARLIER_CLIENT
    http: str = DEFAULT_HTTP
    # The coding the body was read in: the in-memory server sends the reference compressed per
    # chunk by the shared compressor, so the ceiling is that of reading and decoding it.
    compression: str = NO_COMPRESSION
    wire_bytes: int | None = None  # what arrived; None: `bytes` (identity)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClientCeiling:
        return cls(
            rows=int(data["rows"]),
            format=data["format"],
            bytes=int(data["bytes"]),
            chunks=int(data["chunks"]),
            ttfb=Stats.from_dict(data["ttfb"]),
            total=Stats.from_dict(data["total"]),
            megabytes_per_second=float(data["megabytes_per_second"]),
            concurrency=int(data.get("concurrency", 1)),
            client=data.get("client", EARLIER_CLIENT),
            http=str(data.get("http", DEFAULT_HTTP)),
            compression=data.get("compression", NO_COMPRESSION),
            wire_bytes=data.get("wire_bytes"),
        )


@dataclass(frozen=True)
class ServerFigures:
    """Server-side figures per request round (one per repeat), from /proc or the target's /metrics."""

    source: ServerSource
    peak_memory_growth_bytes: Stats | None
    cpu_seconds: Stats | None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServerFigures:
        return cls(
            source=data["source"],
            peak_memory_growth_bytes=stats_or_none(data.get("peak_memory_growth_bytes")),
            cpu_seconds=stats_or_none(data.get("cpu_seconds")),
        )


@dataclass(frozen=True)
class DatabaseFigures:
    """What a scenario's requests cost the database, per round (one per repeat).

    From the server's own pool (its /metrics): `connection_seconds`, how long connections were
    held per request (the round's increase of connection-seconds over its requests);
    `held_peak`, the most held at once; `hold_max`, the longest single hold; `wait_max`, the
    longest a request waited for a connection; `checkouts_failed`, requests for one that failed
    (each a 503, or a stream cut short). From `pg_stat_activity`, sampled while the rounds ran
    (local servers only, found by their application_name): `transaction_age_max`, the oldest
    open transaction seen, and `busy_backends_peak`, the most backends running a query or
    inside a transaction at once. None: not measured (a target without those figures).
    """

    connection_seconds: Stats | None = None
    held_peak: int | None = None
    hold_max: float | None = None
    wait_max: float | None = None
    checkouts_failed: int | None = None
    transaction_age_max: float | None = None
    busy_backends_peak: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatabaseFigures:
        return cls(
            connection_seconds=stats_or_none(data.get("connection_seconds")),
            held_peak=data.get("held_peak"),
            hold_max=data.get("hold_max"),
            wait_max=data.get("wait_max"),
            checkouts_failed=data.get("checkouts_failed"),
            transaction_age_max=data.get("transaction_age_max"),
            busy_backends_peak=data.get("busy_backends_peak"),
        )


@dataclass(frozen=True)
class Bystander:
    """A small request (`rows` rows, same endpoint and source) sent `delay` seconds into each
    paced round, read at full speed: does a slow export starve the rest of the service?
    `ttfb` and `total` over the ones answered 200; `refused` counts the others (a 503 when the
    pool had no connection within its timeout), with `examples` of why."""

    rows: int
    delay: float
    sent: int
    ttfb: Stats | None
    total: Stats | None
    refused: int
    examples: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Bystander:
        return cls(
            rows=int(data["rows"]),
            delay=float(data["delay"]),
            sent=int(data["sent"]),
            ttfb=stats_or_none(data.get("ttfb")),
            total=stats_or_none(data.get("total")),
            refused=int(data["refused"]),
            examples=tuple(data.get("examples", ())),
        )


@dataclass(frozen=True)
class AbortCost:
    """Readers that took `after_bytes` of a `/chunked` body at the scenario's rate and vanished:
    `reset` (a TCP reset) and `close` (a clean close), seconds from vanishing until the server
    held no pooled connection and its database backends were idle again. `leaked` counts the
    aborts after which that did not happen within `patience` seconds."""

    after_bytes: int
    reset: Stats | None
    close: Stats | None
    leaked: int
    patience: float

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AbortCost:
        return cls(
            after_bytes=int(data["after_bytes"]),
            reset=stats_or_none(data.get("reset")),
            close=stats_or_none(data.get("close")),
            leaked=int(data["leaked"]),
            patience=float(data["patience"]),
        )

    @property
    def worst(self) -> float | None:
        """The slower kind's median: the figure a table shows."""
        medians = [s.median for s in (self.reset, self.close) if s is not None]
        return max(medians) if medians else None


@dataclass(frozen=True)
class StreamFigures:
    """A scenario's simultaneous streams side by side (compare/streams.py), over its measured
    rounds and their good requests (`streams` of them).

    `ttfb_p99`: the first byte's 99th percentile over every good request (its p50 and p95 are
    the scenario's `ttfb.median` and `ttfb.p95`, over the same requests).
    `open_files`: the server process's open file descriptors (its children's too), the most seen
    in each round, sampled every 50 ms from /proc; None where there is no /proc to read (a
    target), never zero. `throughput`: each stream's bytes per second from being sent to its
    last byte. `spread`: per round, the fastest stream's throughput over the slowest's (1.0 is
    even), one value per round with two good streams or more. `starved`: streams whose first
    byte came only after another stream of their round had finished; None for a buffered
    response, whose first byte is its whole body (compare/streams.py says why).
    """

    ttfb_p99: float | None
    open_files: Stats | None
    throughput: Stats | None
    spread: Stats | None
    starved: int | None
    streams: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StreamFigures:
        return cls(
            ttfb_p99=data.get("ttfb_p99"),
            open_files=stats_or_none(data.get("open_files")),
            throughput=stats_or_none(data.get("throughput")),
            spread=stats_or_none(data.get("spread")),
            starved=data.get("starved"),
            streams=int(data.get("streams", 0)),
        )


@dataclass(frozen=True)
class Scenario:
    """One (port, layer, endpoint, source, rows, format, concurrency, read rate, HTTP version)
    cell, over `repeats` rounds.

    `headers`, `ttfb`, `total` and `chunks` are per request over every successful request; `ttfb`
    is the time to the first non-empty body chunk. Rates are medians over rounds. `floor_ratio` is
    the median total over the rows floor's median for the same rows and format, `body_floor_ratio`
    over the body floor's. `arrival` is the median request's cumulative bytes against time since
    the request was sent, at most ~200 points. `load` is the 1-minute load average after the
    scenario's last round.
    """

    port: str
    endpoint: Endpoint
    source: Source
    rows: int
    format: str
    concurrency: int
    repeats: int
    requests: int
    errors: int
    error_examples: tuple[str, ...]
    headers: Stats | None
    ttfb: Stats | None
    total: Stats | None
    bytes: int | None
    chunks: Stats | None
    rows_per_second: float | None
    megabytes_per_second: float | None
    requests_per_second: float | None
    floor_ratio: float | None
    server: ServerFigures
    arrival: tuple[tuple[float, int], ...]
    flags: tuple[str, ...] = ()
    flag_reasons: Mapping[str, str] = field(default_factory=dict)
    body_floor_ratio: float | None = None
    load: float | None = None
    layer: str | None = DEFAULT_LAYER  # None: a target's, not known
    # Bytes per second each request was read at; None: as fast as the client could.
    read_rate: float | None = None
    # Bytes per second each request reached from its first byte to its end.
    reached_rate: Stats | None = None
    database: DatabaseFigures | None = None
    bystander: Bystander | None = None
    abort: AbortCost | None = None
    # What sending the rounds cost the load generator (None: not measured, files before 5).
    client: ClientFigures | None = None
    # The HTTP version the requests went over ("2": streams of one connection per client process).
    http: str = DEFAULT_HTTP
    # The streams side by side: first byte tail, open files, fairness (None before version 5).
    streams: StreamFigures | None = None
    # The content coding asked for (`Accept-Encoding`); `bytes` are what arrived on the wire,
    # `decoded_bytes` the body decoded (None: the same, an identity body).
    compression: str = NO_COMPRESSION
    decoded_bytes: int | None = None

    @property
    def contender(self) -> str:
        return contender_name(self.port, self.layer)

    @property
    def key(self) -> tuple[str, str, str, int, str, int, float | None, str, str]:
        """What matches a scenario across runs: its contender (port and layer) and its cell."""
        return (
            self.contender, self.endpoint, self.source, self.rows, self.format, self.concurrency,
            self.read_rate, self.http, self.compression,
        )  # fmt: skip

    @property
    def body_bytes(self) -> int | None:
        """The body's length once decoded: what the rows take, whatever the coding."""
        return self.bytes if self.decoded_bytes is None else self.decoded_bytes

    @property
    def compression_ratio(self) -> float | None:
        """Decoded bytes over wire bytes (1.0 for an identity body)."""
        body, wire = self.body_bytes, self.bytes
        return None if body is None or not wire else body / wire

    @property
    def cpu_seconds_per_megabyte(self) -> float | None:
        """The server's CPU seconds per MB (10^6 bytes) of decoded body, median round over the
        round's requests: what compressing (or not) costs the server."""
        cpu, body = self.server.cpu_seconds, self.body_bytes
        if cpu is None or not body or not self.requests or not self.repeats:
            return None
        per_round = self.requests / self.repeats
        return cpu.median / (body * per_round / 1_000_000)

    @property
    def memory_per_stream(self) -> float | None:
        """The median round's peak memory growth over its simultaneous requests, bytes."""
        growth = self.server.peak_memory_growth_bytes
        return None if growth is None else growth.median / self.concurrency

    @property
    def default_source(self) -> bool:
        """The endpoint's own default source: what `/standard` and `/chunked` do without one."""
        return DEFAULT_SOURCE[self.endpoint] == self.source

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        return cls(
            port=data["port"],
            endpoint=data["endpoint"],
            source=data.get("source", DEFAULT_SOURCE[data["endpoint"]]),
            rows=int(data["rows"]),
            format=data["format"],
            concurrency=int(data["concurrency"]),
            repeats=int(data["repeats"]),
            requests=int(data["requests"]),
            errors=int(data["errors"]),
            error_examples=tuple(data.get("error_examples", ())),
            headers=stats_or_none(data.get("headers")),
            ttfb=stats_or_none(data.get("ttfb")),
            total=stats_or_none(data.get("total")),
            bytes=data.get("bytes"),
            chunks=stats_or_none(data.get("chunks")),
            rows_per_second=data.get("rows_per_second"),
            megabytes_per_second=data.get("megabytes_per_second"),
            requests_per_second=data.get("requests_per_second"),
            floor_ratio=data.get("floor_ratio"),
            server=ServerFigures.from_dict(data["server"]),
            arrival=tuple((float(t), int(b)) for t, b in data.get("arrival", ())),
            flags=tuple(data.get("flags", ())),
            flag_reasons=dict(data.get("flag_reasons", {})),
            body_floor_ratio=data.get("body_floor_ratio"),
            load=data.get("load"),
            layer=data.get("layer", DEFAULT_LAYER),
            read_rate=data.get("read_rate"),
            reached_rate=stats_or_none(data.get("reached_rate")),
            database=_maybe(DatabaseFigures.from_dict, data.get("database")),
            bystander=_maybe(Bystander.from_dict, data.get("bystander")),
            abort=_maybe(AbortCost.from_dict, data.get("abort")),
            client=_maybe(ClientFigures.from_dict, data.get("client")),
            http=str(data.get("http", DEFAULT_HTTP)),
            streams=_maybe(StreamFigures.from_dict, data.get("streams")),
            compression=data.get("compression", NO_COMPRESSION),
            decoded_bytes=data.get("decoded_bytes"),
        )


@dataclass(frozen=True)
class NotOffered:
    """A combination the run left out because it does not exist, never a failure: a source the
    data layer does not offer (`source` set: no `copy` through an ORM), a layer the port
    cannot serve at all (`source` None: Django's ORM anywhere but the Django port), or an HTTP
    version the pair's server does not speak (`http` set: no HTTP/2 on uvicorn)."""

    port: str
    layer: str
    source: str | None
    reason: str
    http: str | None = None

    @property
    def contender(self) -> str:
        return contender_name(self.port, self.layer)

    def label(self) -> str:
        if self.http is not None:
            return f"{self.contender} over {http_label(self.http)}"
        if self.source is None:
            return f"{self.port} on {self.layer}"
        return f"{self.contender} source={self.source}"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NotOffered:
        return cls(
            port=data["port"],
            layer=data["layer"],
            source=data.get("source"),
            reason=data["reason"],
            http=data.get("http"),
        )


@dataclass(frozen=True)
class Results:
    """One comparator run: everything results.json holds."""

    created_at: str
    streambench: StreambenchInfo
    environment: Environment
    settings: Mapping[str, Any]
    matrix: Matrix
    ports: tuple[PortResult, ...]
    floor: tuple[Floor, ...]
    client_ceiling: tuple[ClientCeiling, ...]
    scenarios: tuple[Scenario, ...]
    duration_seconds: float | None = None
    schema_version: int = SCHEMA_VERSION
    body_floor: tuple[Floor, ...] = ()
    # Stopped (Ctrl-C) before the matrix was done: the scenarios are the ones measured so far.
    interrupted: bool = False
    not_offered: tuple[NotOffered, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)  # type: ignore[no-any-return]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def dump(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Results:
        version = data.get("schema_version")
        if version not in READABLE_VERSIONS:
            raise ValueError(
                f"results schema_version {version!r}, expected one of "
                f"{', '.join(map(str, READABLE_VERSIONS))}"
            )
        ports = tuple(PortResult.from_dict(p) for p in data["ports"])
        # Before the layers, a target's scenarios said nothing of one: not known, like its port's.
        targets = {p.name for p in ports if p.layer is None}
        scenarios = tuple(
            dataclasses.replace(s, layer=None) if "layer" not in raw and s.port in targets else s
            for raw, s in ((raw, Scenario.from_dict(raw)) for raw in data["scenarios"])
        )
        return cls(
            created_at=data["created_at"],
            streambench=StreambenchInfo.from_dict(data["streambench"]),
            environment=Environment.from_dict(data["environment"]),
            settings=dict(data["settings"]),
            matrix=Matrix.from_dict(data["matrix"]),
            ports=ports,
            floor=tuple(Floor.from_dict(f) for f in data["floor"]),
            client_ceiling=tuple(ClientCeiling.from_dict(c) for c in data["client_ceiling"]),
            scenarios=scenarios,
            duration_seconds=data.get("duration_seconds"),
            body_floor=tuple(Floor.from_dict(f) for f in data.get("body_floor", ())),
            interrupted=bool(data.get("interrupted", False)),
            not_offered=tuple(NotOffered.from_dict(n) for n in data.get("not_offered", ())),
        )

    @classmethod
    def load(cls, path: Path) -> Results:
        """Read a results file; `ResultsFileError` names the file and what is wrong with it."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise ResultsFileError(f"{path}: cannot read it: {error.strerror or error}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ResultsFileError(f"{path}: not a results file, not JSON: {error}") from None
        if not isinstance(data, dict):
            raise ResultsFileError(f"{path}: not a results file (a JSON {type(data).__name__})")
        try:
            return cls.from_dict(data)
        except ValueError as error:
            raise ResultsFileError(f"{path}: {error}") from None
        except (KeyError, TypeError, AttributeError) as error:
            raise ResultsFileError(
                f"{path}: not a streambench results file ({type(error).__name__}: {error})"
            ) from None

    @property
    def base_read_rate(self) -> float | None:
        """The fastest read rate measured (None: full speed): what the reports that are not
        about slow readers show."""
        rates = {s.read_rate for s in self.scenarios}
        if not rates or None in rates:
            return None
        return max(rate for rate in rates if rate is not None)

    def at_read_rate(self, rate: float | None) -> Results:
        """These results with only the scenarios read at `rate`."""
        return dataclasses.replace(
            self, scenarios=tuple(s for s in self.scenarios if s.read_rate == rate)
        )

    @property
    def base_http(self) -> str:
        """The HTTP version the reports that are not about HTTP versions show: HTTP/1.1 when it
        was measured, else the one that was."""
        versions = {s.http for s in self.scenarios}
        if not versions or DEFAULT_HTTP in versions:
            return DEFAULT_HTTP
        return min(versions)

    def at_http(self, http: str) -> Results:
        """These results with only the scenarios measured over `http`."""
        return dataclasses.replace(
            self, scenarios=tuple(s for s in self.scenarios if s.http == http)
        )

    @property
    def base_compression(self) -> str:
        """The coding the reports that are not about compression show: none when it ran."""
        codings = {s.compression for s in self.scenarios}
        if not codings or NO_COMPRESSION in codings:
            return NO_COMPRESSION
        return next(c for c in self.matrix.compression if c in codings)

    def at_compression(self, compression: str) -> Results:
        """These results with only the scenarios (and ceilings) in `compression`."""
        return dataclasses.replace(
            self,
            scenarios=tuple(s for s in self.scenarios if s.compression == compression),
            client_ceiling=tuple(c for c in self.client_ceiling if c.compression == compression),
        )

    @property
    def compressed(self) -> bool:
        """Whether any scenario asked for a content coding."""
        return any(s.compression != NO_COMPRESSION for s in self.scenarios)

    @property
    def paced(self) -> bool:
        """Whether any scenario was read at a set rate."""
        return any(s.read_rate is not None for s in self.scenarios)

    def floor_for(self, rows: int, format: str) -> Floor | None:
        return next((f for f in self.floor if f.rows == rows and f.format == format), None)

    def body_floor_for(self, rows: int, format: str) -> Floor | None:
        return next((f for f in self.body_floor if f.rows == rows and f.format == format), None)

    def ceiling_for(
        self,
        rows: int,
        format: str,
        concurrency: int = 1,
        *,
        http: str = DEFAULT_HTTP,
        compression: str = NO_COMPRESSION,
    ) -> ClientCeiling | None:
        """The client's ceiling for these bytes at `concurrency` over `http` in `compression`
        (files before version 4 have only concurrency 1)."""
        return next(
            (
                c
                for c in self.client_ceiling
                if c.rows == rows
                and c.format == format
                and c.concurrency == concurrency
                and c.http == http
                and c.compression == compression
            ),
            None,
        )

    def ceilings_for(
        self, rows: int, format: str, *, http: str = DEFAULT_HTTP, compression: str = NO_COMPRESSION
    ) -> tuple[ClientCeiling, ...]:
        """Every concurrency's ceiling for these bytes over `http` in `compression`, lowest
        concurrency first."""
        return tuple(
            sorted(
                (
                    c
                    for c in self.client_ceiling
                    if c.rows == rows
                    and c.format == format
                    and c.http == http
                    and c.compression == compression
                ),
                key=lambda c: c.concurrency,
            )
        )


def _maybe(read: Callable[[Mapping[str, Any]], T], data: Mapping[str, Any] | None) -> T | None:
    return None if data is None else read(data)


class ResultsFileError(ValueError):
    """A results file that cannot be read; the message starts with its path."""


def _plain(value: Any) -> Any:
    """Dataclasses to dicts, tuples to lists, recursively: what JSON can hold."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
