"""Row encoders shared by every port, so a body is byte-identical whichever port, endpoint or batch
size produced it. An encoder turns batches of rows into bytes; `head`/`tail` frame the whole body.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncGenerator, AsyncIterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

Row = Sequence[Any]


class Encoder(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def media_type(self) -> str: ...

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns this encoder reads, in order: the query selects exactly these."""
        ...

    @property
    def content_type(self) -> str: ...

    def head(self) -> bytes: ...

    def batch(self, rows: Sequence[Row], first: bool) -> bytes:
        """Encode one batch; `first` is true for the first batch of the body."""
        ...

    def tail(self) -> bytes: ...


@dataclass(frozen=True)
class _BaseEncoder:
    name: str
    media_type: str
    columns: tuple[str, ...]

    @property
    def content_type(self) -> str:
        return f"{self.media_type}; charset=utf-8"

    def head(self) -> bytes:
        return b""

    def tail(self) -> bytes:
        return b""


_TEXT_LINE = "object_id:%d \n"


@dataclass(frozen=True)
class TextEncoder(_BaseEncoder):
    """The original service's line per row: `object_id:<id> \\n` (a space before the newline)."""

    def batch(self, rows: Sequence[Row], first: bool) -> bytes:
        # One format operation for the whole batch: about 30% faster than a join of f-strings.
        return (_TEXT_LINE * len(rows) % tuple([row[0] for row in rows])).encode()


_FULL_COLUMNS = ("id", "sender", "recipient", "body", "created_at")


def _as_dicts(rows: Sequence[Row]) -> list[dict[str, Any]]:
    return [
        {"id": r[0], "sender": r[1], "recipient": r[2], "body": r[3], "created_at": r[4]}
        for r in rows
    ]


@dataclass(frozen=True)
class NdjsonEncoder(_BaseEncoder):
    def batch(self, rows: Sequence[Row], first: bool) -> bytes:
        return b"".join([orjson.dumps(obj) + b"\n" for obj in _as_dicts(rows)])


@dataclass(frozen=True)
class JsonArrayEncoder(_BaseEncoder):
    """One JSON array written a row per line: `[`, then `{...}\\n` for the first row and
    `,{...}\\n` for every later one, then `]` (`[]` for zero rows). Each row's bytes depend on that
    row alone (and on whether it is the first), so the database can write them too."""

    def head(self) -> bytes:
        return b"["

    def batch(self, rows: Sequence[Row], first: bool) -> bytes:
        if not rows:
            return b""
        inner = b"\n,".join([orjson.dumps(obj) for obj in _as_dicts(rows)]) + b"\n"
        return inner if first else b"," + inner

    def tail(self) -> bytes:
        return b"]"


@dataclass(frozen=True)
class CsvEncoder(_BaseEncoder):
    """RFC 4180 fields (quoted only where needed) with LF record ends, as PostgreSQL's `COPY ...
    (FORMAT csv)`, pandas and Python's `csv` module write and read them by default."""

    def head(self) -> bytes:
        return (",".join(self.columns) + "\n").encode()

    def batch(self, rows: Sequence[Row], first: bool) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerows([(r[0], r[1], r[2], r[3], r[4].isoformat()) for r in rows])
        return buffer.getvalue().encode()


ENCODERS: Mapping[str, Encoder] = {
    "text": TextEncoder("text", "text/plain", ("id",)),
    "ndjson": NdjsonEncoder("ndjson", "application/x-ndjson", _FULL_COLUMNS),
    "csv": CsvEncoder("csv", "text/csv", _FULL_COLUMNS),
    "json": JsonArrayEncoder("json", "application/json", _FULL_COLUMNS),
}

FORMATS: tuple[str, ...] = tuple(ENCODERS)


def encode_all(encoder: Encoder, rows: Sequence[Row]) -> bytes:
    """The buffered body: one encode, one join."""
    return b"".join((encoder.head(), encoder.batch(rows, True), encoder.tail()))


async def encode_chunks(
    encoder: Encoder, batches: AsyncIterable[Sequence[Row]]
) -> AsyncGenerator[bytes, None]:
    """The streamed body: one chunk per batch, the moment it is encoded.

    The head travels with the first batch and the tail as its own last chunk, so the chunks
    concatenate to exactly `encode_all` of the same rows.
    """
    first = True
    async for rows in batches:
        yield batch_chunk(encoder, rows, first)
        first = False
    closing = closing_chunk(encoder, first)
    if closing:
        yield closing


def batch_chunk(encoder: Encoder, rows: Sequence[Row], first: bool) -> bytes:
    """One batch as `/chunked` sends it: the head travels with the first."""
    chunk = encoder.batch(rows, first)
    return encoder.head() + chunk if first else chunk


def closing_chunk(encoder: Encoder, nothing_sent: bool) -> bytes:
    """The last chunk: the tail, and the head too when no batch carried it (may be empty)."""
    return (encoder.head() if nothing_sent else b"") + encoder.tail()
