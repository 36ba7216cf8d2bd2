"""The contract's routes for any ASGI framework, without the framework: a port hands over the
query items and the two headers it needs, and sends back what comes out, an `Answer` (a small
whole response), a `WholeBody` (`/standard`: an ASGI app that sends the body in the pieces it was
read in) or a `RowStreamResponse` (`/chunked`: an ASGI app that streams). The routing, the framework's
request and response types and its error hooks are what is left to the port.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from shared import metrics
from shared.answers import Answer, data_headers, health
from shared.auth import check_authorization
from shared.bodies import Body, open_body, read_body, refusing_unavailable
from shared.contract import DataRequest, parse_data_request
from shared.failures import DatabaseUnavailable

from .lifespan import AppResources
from .streaming import RowStreamResponse
from .whole_body import WholeBody

Query = Iterable[tuple[str, str]]


def data_request(
    resources: AppResources,
    endpoint: str,
    query: Query,
    accept: str | None,
    authorization: str | None,
) -> DataRequest:
    """Auth first, then the query: raises `ContractError` (the port sends its `refusal`)."""
    check_authorization(authorization, resources.settings.jwt_secret)
    return parse_data_request(endpoint, query, accept, resources.settings)


async def standard(
    resources: AppResources, query: Query, accept: str | None, authorization: str | None
) -> WholeBody:
    data = data_request(resources, "standard", query, accept, authorization)
    with refusing_unavailable():
        pieces = await read_body(resources.database, data)
    return WholeBody(pieces, data_headers(data.encoder, streamed=False))


@dataclass(frozen=True)
class OpenBody:
    """A `/chunked` body whose stream is open (the database has answered): what a framework
    that iterates bodies itself needs, before the headers go out."""

    stream: Body
    headers: dict[str, str]


async def open_chunked(
    resources: AppResources, query: Query, accept: str | None, authorization: str | None
) -> OpenBody:
    data = data_request(resources, "chunked", query, accept, authorization)
    # The database has answered for the source before the headers: a failure is still a 503.
    with refusing_unavailable():
        body = await open_body(resources.database, data)
    return OpenBody(body, data_headers(data.encoder, streamed=True))


async def chunked(
    resources: AppResources,
    query: Query,
    accept: str | None,
    authorization: str | None,
    *,
    request_id: str,
    logger: logging.Logger,
) -> RowStreamResponse:
    body = await open_chunked(resources, query, accept, authorization)
    # From here the response owns the stream; nothing may await before the framework calls it.
    return RowStreamResponse(
        body.stream,
        request_id=request_id,
        logger=logger,
        headers=body.headers,
        open_streams=resources.open_streams,
    )


async def healthz(resources: AppResources) -> Answer:
    try:
        await resources.database.ping()
    except DatabaseUnavailable as error:
        return health(str(error))
    return health(None)


def show_metrics(resources: AppResources) -> Answer:
    """The process's figures and what its requests cost the pool (the layer's ledger)."""
    body = metrics.render(more=resources.database.ledger.samples())
    return Answer(200, body, {"Content-Type": metrics.CONTENT_TYPE})


def reset_peak(resources: AppResources) -> Answer:
    metrics.reset_peak()
    resources.database.ledger.reset_peak()
    return Answer(204, b"", {})
