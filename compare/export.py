"""results.csv: one row per scenario and figure, for spreadsheets, pandas and CI dashboards.

A scenario is named by its port (`port@server`, or a target), its data layer, endpoint, source,
rows, format, concurrency, read rate (bytes per second each request was read at; empty: as
fast as the client could), HTTP version (`1.1`, `2`) and compression (the content coding asked
for; `none`: identity). `bytes` are what arrived on the wire; `decoded_bytes` the body decoded.

Long ("tidy") rather than wide, so a new figure adds rows, not columns, and every row names its
unit. A figure with a spread has median, p95, min, max and count; a single figure (a rate, a
ratio, a count) has only `median`. The raw samples stay in results.json.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from .results import Results, Scenario, Stats

COLUMNS = (
    "port",
    "layer",
    "endpoint",
    "source",
    "rows",
    "format",
    "concurrency",
    "read_rate",
    "http",
    "compression",
    "figure",
    "unit",
    "median",
    "p95",
    "min",
    "max",
    "count",
    "flags",
)


def _figures(scenario: Scenario) -> Iterator[tuple[str, str, Stats | float | int | None]]:
    yield "headers", "s", scenario.headers
    yield "ttfb", "s", scenario.ttfb
    yield "total", "s", scenario.total
    yield "chunks", "count", scenario.chunks
    yield "memory_growth", "bytes", scenario.server.peak_memory_growth_bytes
    yield "cpu", "s", scenario.server.cpu_seconds
    yield "bytes", "bytes", scenario.bytes
    yield "decoded_bytes", "bytes", scenario.body_bytes
    yield "compression_ratio", "ratio", scenario.compression_ratio
    yield "cpu_per_megabyte", "s/MB", scenario.cpu_seconds_per_megabyte
    yield "rows_per_second", "rows/s", scenario.rows_per_second
    yield "megabytes_per_second", "MB/s", scenario.megabytes_per_second
    yield "requests_per_second", "req/s", scenario.requests_per_second
    yield "x_rows_floor", "ratio", scenario.floor_ratio
    yield "x_body_floor", "ratio", scenario.body_floor_ratio
    yield "requests", "count", scenario.requests
    yield "errors", "count", scenario.errors
    # What a paced reader costs (results.py's DatabaseFigures, Bystander and AbortCost).
    yield "reached_rate", "bytes/s", scenario.reached_rate
    yield "memory_per_stream", "bytes", scenario.memory_per_stream
    streams = scenario.streams
    if streams is not None:
        # The streams side by side (results.py's StreamFigures): the first byte's tail, the
        # server's open files at each round's peak, per-stream throughput and its spread.
        # (The first byte's median and p95 are the `ttfb` row's.)
        yield "ttfb_p99", "s", streams.ttfb_p99
        yield "open_files", "count", streams.open_files
        yield "stream_throughput", "bytes/s", streams.throughput
        yield "stream_spread", "ratio", streams.spread
        yield "starved_streams", "count", streams.starved
        yield "streams", "count", streams.streams  # what the starved ones are out of
    database = scenario.database
    if database is not None:
        yield "connection_seconds", "s", database.connection_seconds
        yield "held_peak", "count", database.held_peak
        yield "hold_max", "s", database.hold_max
        yield "wait_max", "s", database.wait_max
        yield "checkouts_failed", "count", database.checkouts_failed
        yield "transaction_age_max", "s", database.transaction_age_max
        yield "busy_backends_peak", "count", database.busy_backends_peak
    bystander = scenario.bystander
    if bystander is not None:
        yield "bystander_ttfb", "s", bystander.ttfb
        yield "bystander_refused", "count", bystander.refused
        yield "bystander_sent", "count", bystander.sent  # what the refusals are out of
    abort = scenario.abort
    if abort is not None:
        yield "abort_reset", "s", abort.reset
        yield "abort_close", "s", abort.close
        yield "abort_leaked", "count", abort.leaked
    client = scenario.client
    if client is not None:
        yield "client_cpu_share", "cores", client.cpu_share
        yield "client_processes", "count", client.processes
        yield "client_load", "load", client.load


def render_csv(results: Results) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for s in results.scenarios:
        # A target's layer is not known: empty.
        rate = "" if s.read_rate is None else _number(s.read_rate)
        cell = (
            s.port, s.layer or "", s.endpoint, s.source, s.rows, s.format, s.concurrency, rate,
            s.http,
            s.compression,
        )  # fmt: skip
        flags = " ".join(s.flags)
        for figure, unit, value in _figures(s):
            if value is None:
                continue
            if isinstance(value, Stats):
                numbers: tuple[object, ...] = (
                    _number(value.median),
                    _number(value.p95),
                    _number(value.min),
                    _number(value.max),
                    value.count,
                )
            else:
                numbers = (_number(value), "", "", "", "")
            writer.writerow((*cell, figure, unit, *numbers, flags))
    return buffer.getvalue()


def write_csv(results: Results, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_csv(results), encoding="utf-8")
    return path


def _number(value: float) -> str:
    # repr keeps every digit and round-trips; integers stay integers.
    return str(int(value)) if float(value).is_integer() else repr(float(value))
