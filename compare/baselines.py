"""What the ports are measured against, computed in the same run.

- The expected bodies: `encode_all` of `fetch_all`, straight from the database and shared encoders.
- The floor: `COPY (the same query) TO STDOUT` through asyncpg, what the database alone costs.
- The client ceiling: the run's client reading the same bytes, in the same chunking as /chunked,
  from a server that has them in memory (its own process), at each concurrency of the matrix:
  what the client alone costs. For a compressed cell the server holds the body compressed chunk
  by chunk by the shared compressor (each flushed, as the ports send it), so the ceiling is that
  of reading and decoding it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.compression import open_compressor
from shared.database import Database
from shared.encoders import ENCODERS, Row, batch_chunk, closing_chunk, encode_all
from shared.row_stream import batch_sizes

from .analysis import MEGABYTE
from .clients import HTTP2_READER
from .load.base import LoadEngine, RoundSpec
from .results import DEFAULT_HTTP, NO_COMPRESSION, ClientCeiling, Floor, Stats
from .servers import ServerFailed
from .verify import ExpectedBody, expected_body


def chunk_sizes(format: str, rows: Sequence[Row], batch: int) -> list[int]:
    """The sizes of the chunks /chunked sends for these rows from its cursor (batches growing to
    `batch`, `shared.row_stream.batch_sizes`): head with the first batch, tail last."""
    encoder = ENCODERS[format]
    sizes: list[int] = []
    start = 0
    for size in batch_sizes(batch):
        if start >= len(rows):
            break
        sizes.append(len(batch_chunk(encoder, rows[start : start + size], start == 0)))
        start += size
    closing = closing_chunk(encoder, not rows)
    if closing:
        sizes.append(len(closing))
    return sizes


@dataclass(frozen=True)
class Reference:
    """Expected bodies per (rows, format); their bytes and chunking saved for the ceiling server."""

    expected: dict[tuple[int, str], ExpectedBody]
    chunks: dict[tuple[int, str], int]  # how many chunks /chunked sends for each body
    folder: Path

    @staticmethod
    def key(rows: int, format: str, compression: str = NO_COMPRESSION) -> str:
        if compression == NO_COMPRESSION:
            return f"b_{format}_{rows}"
        return f"b_{format}_{rows}_{compression}"


def compressed_chunks(body: bytes, sizes: Sequence[int], coding: str) -> list[bytes]:
    """The body as a port sends it in `coding`: each chunk compressed and flushed, the stream
    finished in a last chunk of its own."""
    compressor = open_compressor(coding)
    pieces: list[bytes] = []
    offset = 0
    for size in sizes:
        pieces.append(compressor.compress(body[offset : offset + size]))
        offset += size
    return [*pieces, compressor.finish()]


async def build_reference(
    database: Database,
    rows_list: Sequence[int],
    formats: Sequence[str],
    batch: int,
    folder: Path,
    compression: Sequence[str] = (),
) -> Reference:
    folder.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (once per run, before timing)
    expected: dict[tuple[int, str], ExpectedBody] = {}
    chunks: dict[tuple[int, str], int] = {}
    for format in formats:
        encoder = ENCODERS[format]
        everything = await database.fetch_all(encoder.columns, max(rows_list))
        for rows in rows_list:
            selected = everything[:rows]
            body = encode_all(encoder, selected)
            sizes = chunk_sizes(format, selected, batch)
            if sum(sizes) != len(body):
                raise RuntimeError(
                    f"{format}: chunked sizes add to {sum(sizes)}, body is {len(body)}"
                )
            key = Reference.key(rows, format)
            (folder / f"{key}.body").write_bytes(body)
            (folder / f"{key}.chunks").write_text(json.dumps(sizes))
            for coding in compression:
                if coding == NO_COMPRESSION:
                    continue
                pieces = compressed_chunks(body, sizes, coding)
                coded = Reference.key(rows, format, coding)
                (folder / f"{coded}.body").write_bytes(b"".join(pieces))
                (folder / f"{coded}.chunks").write_text(json.dumps([len(p) for p in pieces]))
                (folder / f"{coded}.encoding").write_text(coding)
            expected[(rows, format)] = expected_body(body, rows, format)
            chunks[(rows, format)] = len(sizes)
        del everything
    return Reference(expected, chunks, folder)


async def measure_floor(
    database: Database, rows: int, format: str, repeats: int, warmup: int, *, body: bool = False
) -> Floor:
    """The rows floor, `COPY` of the encoder's columns; with `body`, the body floor, `COPY`
    writing the exact body (what `source=copy` forwards)."""
    encoder = ENCODERS[format]
    timings: list[float] = []
    received = 0
    for round_number in range(warmup + repeats):
        received = 0

        async def sink(piece: bytes) -> None:
            nonlocal received
            received += len(piece)

        started = time.perf_counter()
        if body:
            await database.copy_body(format, rows, sink)
        else:
            await database.copy_to(encoder.columns, rows, sink)
        elapsed = time.perf_counter() - started
        if round_number >= warmup:
            timings.append(elapsed)
    return Floor(rows=rows, format=format, bytes=received, seconds=Stats.of(timings))


class MemoryServer:
    """The in-memory server process serving a `Reference` folder."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url

    @classmethod
    async def start(cls, folder: Path) -> MemoryServer:
        # Popen returns at once; nothing is being timed while it does.
        process = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-m", "compare._memory_server", str(folder)],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        assert process.stdout is not None
        line = await asyncio.to_thread(process.stdout.readline)
        if not line.strip().isdigit():
            process.kill()
            process.wait()
            process.stdout.close()
            raise ServerFailed(f"the in-memory server did not start (said {line!r})")
        return cls(process, f"http://127.0.0.1:{int(line)}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


async def measure_ceiling(
    engine: LoadEngine,
    server: MemoryServer,
    expected: ExpectedBody,
    chunks: int,
    concurrency: int,
    repeats: int,
    warmup: int,
    requests_per_stream: int = 1,
    http: str = DEFAULT_HTTP,
    compression: str = NO_COMPRESSION,
) -> ClientCeiling:
    """`concurrency` simultaneous requests for the body, `warmup + repeats` times; the figures are
    over every request of the measured rounds, as a scenario's are. Over `http` "2" the reader is
    the HTTP/2 client, whatever the engine's, and the in-memory server answers in HTTP/2."""
    url = f"{server.url}/{Reference.key(expected.rows, expected.format, compression)}"
    ttfb: list[float] = []
    totals: list[float] = []
    wire: int | None = None
    for round_number in range(warmup + repeats):
        measured = await engine.run(
            RoundSpec(
                url, {}, {}, expected.format, expected.rows, concurrency, expected.length,
                requests_per_stream=requests_per_stream, http=http,
            )
        )  # fmt: skip
        for timing in measured.requests:
            if not timing.ok:
                raise ServerFailed(f"the in-memory server gave a wrong body: {timing.error}")
            wire = timing.bytes
            if round_number >= warmup:
                totals.append(timing.total)
                if timing.ttfb is not None:
                    ttfb.append(timing.ttfb)
    total = Stats.of(totals)
    return ClientCeiling(
        rows=expected.rows,
        format=expected.format,
        bytes=expected.length,
        chunks=chunks,
        ttfb=Stats.of(ttfb),  # rows >= 1: every body has a first byte
        total=total,
        megabytes_per_second=expected.length / MEGABYTE / total.median,
        concurrency=concurrency,
        client=engine.client if http == DEFAULT_HTTP else HTTP2_READER,
        http=http,
        compression=compression,
        wire_bytes=None if compression == NO_COMPRESSION else wire,
    )
