"""The reference port: the contract on aiohttp's own server.

Both endpoints take their body from `shared.bodies` for the request's source. `/standard` is a
`web.Response` when the body is one piece (`fetch`), else a `Content-Length` response written
piece by piece: aiohttp's writer joins a `web.Response`'s headers and body into one new buffer (on
Python < 3.12.9), a second copy of the body. `/chunked` is a `web.StreamResponse` that writes each
chunk and awaits `write()`, which drains the transport, so a slow client holds the server back
instead of making it buffer.

Compression is the shared compressor (`shared.compression`), on both endpoints. aiohttp's own
`enable_compression()` compresses each write without a flush: a streamed body's bytes wait
inside zlib until its buffers fill, and `/chunked` would stop streaming. On `/standard` alone it
would do, but one compressor for both endpoints keeps the two bodies' wire bytes alike.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import HttpVersion11, web

from shared import metrics
from shared.answers import (
    Answer,
    data_headers,
    health,
    log_client_gone,
    log_stream_failed,
    refusal,
)
from shared.auth import check_authorization
from shared.bodies import open_body, read_body, refusing_unavailable
from shared.compression import (
    IDENTITY,
    Compressor,
    coding_headers,
    compress_chunk,
    negotiate_coding,
    open_compressor,
)
from shared.contract import (
    ContractError,
    DataRequest,
    method_not_allowed,
    not_found,
    parse_data_request,
    request_id,
)
from shared.failures import DatabaseUnavailable, StreamFailed
from shared.layers import DataLayer, open_layer
from shared.settings import Settings
from shared.transport import reset

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", DataLayer)
REQUEST_ID = web.RequestKey("request_id", str)

logger = logging.getLogger("streambench.aiohttp")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[_contract_errors])
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_database)
    app.on_response_prepare.append(_tag_response)
    # allow_head=False: HEAD is not part of the contract and gets the same 405 as POST.
    app.router.add_get("/standard", standard, allow_head=False)
    app.router.add_get("/chunked", chunked, allow_head=False)
    app.router.add_get("/healthz", healthz, allow_head=False)
    if settings.metrics:
        app.router.add_get("/metrics", show_metrics, allow_head=False)
        app.router.add_post("/metrics/reset-peak", reset_peak)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    database = await open_layer(settings)
    app[DATABASE] = database
    yield
    await database.dispose()


@web.middleware
async def _contract_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every refusal, ours or the router's, as the contract's JSON error."""
    request[REQUEST_ID] = request_id(request.headers.get("X-Request-ID"))
    try:
        return await handler(request)
    except ContractError as error:
        return _error_response(error)
    except web.HTTPNotFound:
        return _error_response(not_found())
    except web.HTTPMethodNotAllowed as refusal:
        return _error_response(method_not_allowed(", ".join(sorted(refusal.allowed_methods))))
    except web.HTTPException as error:
        return _error_response(ContractError(error.status, error.reason))


async def _tag_response(request: web.Request, response: web.StreamResponse) -> None:
    # A signal, not the middleware: a streamed response's headers leave inside the handler.
    response.headers["X-Request-ID"] = request.get(REQUEST_ID) or request_id(None)


def _error_response(error: ContractError) -> web.Response:
    return _send(refusal(error))


def _send(answer: Answer) -> web.Response:
    return web.Response(status=answer.status, body=answer.body, headers=answer.headers)


def _data_request(request: web.Request, endpoint: str) -> DataRequest:
    settings = request.app[SETTINGS]
    check_authorization(request.headers.get("Authorization"), settings.jwt_secret)
    return parse_data_request(
        endpoint, request.query.items(), request.headers.get("Accept"), settings
    )


def _coding(request: web.Request) -> str:
    # First, as in front of the ASGI ports' routes (shared.asgi.compression): a 406 for the
    # coding comes before auth and the parameters.
    return negotiate_coding(request.headers.get("Accept-Encoding"))


async def standard(request: web.Request) -> web.StreamResponse:
    coding = _coding(request)
    data = _data_request(request, "standard")
    with refusing_unavailable():
        pieces = await read_body(request.app[DATABASE], data)
    headers = {**data_headers(data.encoder, streamed=False), **coding_headers(coding)}
    if coding != IDENTITY:
        compressor = open_compressor(coding)
        compressed = [await compress_chunk(compressor, piece) for piece in pieces]
        pieces = [*compressed, compressor.finish()]
    if len(pieces) == 1:
        return web.Response(body=pieces[0], headers=headers)
    response = web.StreamResponse(headers=headers)
    response.content_length = sum(len(piece) for piece in pieces)
    try:
        await response.prepare(request)
        for piece in pieces:
            await response.write(piece)
        await response.write_eof()
    except ConnectionError:
        pass  # the client went away: nothing is held open, nothing to release or report
    return response


async def chunked(request: web.Request) -> web.StreamResponse:
    coding = _coding(request)
    data = _data_request(request, "chunked")
    # The database has answered before the headers: a failure up to here is still a 503.
    with refusing_unavailable():
        body = await open_body(request.app[DATABASE], data)
    headers = {**data_headers(data.encoder, streamed=True), **coding_headers(coding)}
    response = web.StreamResponse(headers=headers)
    compressor = open_compressor(coding) if coding != IDENTITY else None
    if request.version >= HttpVersion11:
        response.enable_chunked_encoding()
    else:
        # HTTP/1.0 has no chunked encoding (aiohttp refuses it at prepare()): the body is
        # delimited by closing the connection, and a cut one by resetting it.
        response.force_close()
    sent = 0
    async with body:
        try:
            await response.prepare(request)
            async for chunk in body:
                # drains: waits for a slow reader
                await response.write(await _encoded(compressor, chunk))
                sent += len(chunk)
        except StreamFailed as error:
            log_stream_failed(logger, request[REQUEST_ID], sent, error)
            # Without the terminating chunk the client sees an incomplete body, not an end.
            if request.transport is not None:
                reset(request.transport)
            return response
        except ConnectionError:
            # aiohttp does not cancel the handler when a client goes away: the next write
            # raises, as ClientConnectionResetError or, when it was waiting on flow control,
            # as a plain ConnectionError. Database errors arrive as StreamFailed, never here.
            log_client_gone(logger, request[REQUEST_ID], sent)
            return response
    try:
        # After the stream is closed: its connection is back in the pool before the last chunk.
        if compressor is not None:
            await response.write(compressor.finish())
        await response.write_eof()
    except ConnectionError:
        # Gone after the last row but before the terminating chunk: still a body cut short.
        log_client_gone(logger, request[REQUEST_ID], sent)
    return response


async def _encoded(compressor: Compressor | None, chunk: bytes) -> bytes:
    # Flushed per chunk (shared.compression): the client decodes each batch as it arrives.
    return chunk if compressor is None else await compress_chunk(compressor, chunk)


async def healthz(request: web.Request) -> web.Response:
    try:
        await request.app[DATABASE].ping()
    except DatabaseUnavailable as error:
        return _send(health(str(error)))
    return _send(health(None))


async def show_metrics(request: web.Request) -> web.Response:
    # The process's figures and what its requests cost the pool (the layer's ledger).
    body = metrics.render(more=request.app[DATABASE].ledger.samples())
    return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE})


async def reset_peak(request: web.Request) -> web.Response:
    metrics.reset_peak()
    request.app[DATABASE].ledger.reset_peak()
    return web.Response(status=204)
