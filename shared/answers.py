"""The HTTP contract's answer side, framework-free: what every port sends and logs alike.

A port turns an `Answer` into its framework's response and calls the two log functions at the
moments `docs/contract.md` names; the headers, bodies and wording live here once.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import orjson

from .contract import JSON_CONTENT_TYPE, ContractError, unavailable
from .encoders import Encoder


class Answer(NamedTuple):
    """A whole response that is not the data: status, body and headers to send as they are."""

    status: int
    body: bytes
    headers: dict[str, str]


def data_headers(encoder: Encoder, *, streamed: bool) -> dict[str, str]:
    """The data routes' headers; `/chunked` also tells proxies not to buffer it."""
    headers = {"Content-Type": encoder.content_type, "Cache-Control": "no-store"}
    if streamed:
        headers["X-Accel-Buffering"] = "no"
    return headers


def refusal(error: ContractError) -> Answer:
    return Answer(error.status, error.body(), {"Content-Type": JSON_CONTENT_TYPE, **error.headers})


def server_error() -> Answer:
    """A bug's answer: a JSON 500 with no detail (the traceback goes to the log only)."""
    return refusal(ContractError(500, "internal server error"))


def health(failure: str | None) -> Answer:
    """`/healthz`: 200 when the database answered (`failure` None), else 503 with the reason."""
    if failure is None:
        return Answer(200, orjson.dumps({"status": "ok"}), {"Content-Type": JSON_CONTENT_TYPE})
    body = orjson.dumps({"status": "unavailable", "error": failure})
    return Answer(503, body, refusal(unavailable(failure)).headers)


def log_stream_failed(logger: logging.Logger, request_id: str, sent: int, reason: object) -> None:
    logger.error("request %s: stream failed after %d bytes: %s", request_id, sent, reason)


def log_client_gone(logger: logging.Logger, request_id: str, sent: int) -> None:
    logger.info("request %s: client disconnected after %d bytes", request_id, sent)
