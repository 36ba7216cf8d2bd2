"""A data response's body for one request, whichever source it reads: what every port sends.

`open_body` gives `/chunked` its chunks; `read_body` gives `/standard` its whole body as pieces.
Both reach the database before returning, so a failure up to there is `DatabaseUnavailable`
(a `503`, nothing sent yet), and for one `rows` and format every source gives the same bytes.

- `fetch`: every row in one round trip, then encoded (`batch` rows per chunk on `/chunked`).
- `cursor`: a server-side cursor read in batches (`RowStream`), each batch encoded as it arrives.
- `copy`: the database writes the rows' bytes (`CopyStream`); only the head and tail are ours.
- `keyset`: each batch a short query of its own past the last id read (`KeysetStream`), encoded
  as `cursor`'s batches are; no connection is held between batches.

Whatever the data layer (shared/layers) reads the rows, the encoders are these; a source the
server's layer does not offer is the contract's 400 naming the ones it does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from contextlib import aclosing, contextmanager
from typing import Protocol

import anyio

from .contract import DataRequest, not_offered, unavailable
from .encoders import Encoder, Row, batch_chunk, closing_chunk, encode_all, encode_chunks
from .failures import DatabaseUnavailable, StreamFailed
from .layers import BatchStream, ByteStream, DataLayer
from .pooling import Closing


class _Closable(Protocol):
    async def aclose(self) -> None: ...


class Body(Closing):
    """An open body: its chunks in order (iterate once), and what must be closed behind them.

    Iterating raises `StreamFailed` when the database fails midway. Close it however the response
    ends (`async with body:`): `aclose()` is shielded from cancellation, and gives the connection
    back, stopping a `COPY` still running.
    """

    def __init__(self, chunks: AsyncGenerator[bytes, None], resource: _Closable | None) -> None:
        self._chunks = chunks
        self._resource = resource

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            try:
                await self._chunks.aclose()
            finally:
                if self._resource is not None:
                    await self._resource.aclose()


@contextmanager
def refusing_unavailable() -> Iterator[None]:
    """Around `open_body` or `read_body`: a database that did not answer is the contract's 503
    (a `ContractError`), sent before any byte of the body."""
    try:
        yield
    except DatabaseUnavailable as error:
        raise unavailable(str(error)) from None


def _offered(database: DataLayer, data: DataRequest) -> None:
    if data.source not in database.sources:
        raise not_offered(data.source, database.name, database.sources)


async def open_body(database: DataLayer, data: DataRequest) -> Body:
    """The body of `data` (its rows, format, batch and source), the database already answering."""
    _offered(database, data)
    encoder = data.encoder
    if data.source == "fetch":
        rows = await database.fetch_all(encoder.columns, data.rows)
        return Body(_slices(encoder, rows, data.batch), None)
    if data.source == "cursor":
        stream = await database.open_stream(encoder.columns, data.rows, data.batch)
        return Body(_encoded(encoder, stream), stream)
    if data.source == "copy":
        copy = await database.open_copy(encoder.name, data.rows)
        return Body(_framed(encoder, copy), copy)
    if data.source == "keyset":
        pages = await database.open_keyset(encoder.columns, data.rows, data.batch)
        return Body(_encoded(encoder, pages), pages)
    raise ValueError(f"unknown source {data.source!r}")


async def read_body(database: DataLayer, data: DataRequest) -> list[bytes]:
    """The whole body as pieces that concatenate to it, before any byte is sent.

    `fetch` is one piece from one join (the baseline). `cursor`, `copy` and `keyset` never hold
    the rows all at once, only encoded pieces: a server sends those one after the other behind a
    `Content-Length`, never joined, so memory grows by about the body and not twice that.
    """
    _offered(database, data)
    if data.source == "fetch":
        encoder = data.encoder
        return [encode_all(encoder, await database.fetch_all(encoder.columns, data.rows))]
    async with await open_body(database, data) as body:
        try:
            return [chunk async for chunk in body]
        except StreamFailed as error:
            # Nothing has been sent: to the client this is the database being unavailable.
            raise DatabaseUnavailable(str(error)) from error


async def _slices(encoder: Encoder, rows: Sequence[Row], batch: int) -> AsyncGenerator[bytes, None]:
    for start in range(0, len(rows), batch):
        if start:
            # The rows are all here: without a pass through the event loop between chunks, an
            # ASGI server whose `send` is silent after a disconnect (uvicorn) would never let
            # the task watching for `http.disconnect` run, and the body would be encoded to the end.
            await asyncio.sleep(0)
        yield batch_chunk(encoder, rows[start : start + batch], start == 0)
    closing = closing_chunk(encoder, not rows)
    if closing:
        yield closing


async def _encoded(encoder: Encoder, stream: BatchStream) -> AsyncGenerator[bytes, None]:
    async with aclosing(encode_chunks(encoder, stream)) as chunks:
        async for chunk in chunks:
            yield chunk


async def _framed(encoder: Encoder, copy: ByteStream) -> AsyncGenerator[bytes, None]:
    """The database's chunks with the encoder's head on the first and its tail after the last."""
    first = True
    async for chunk in copy:
        yield encoder.head() + chunk if first else chunk
        first = False
    closing = closing_chunk(encoder, first)
    if closing:
        yield closing
