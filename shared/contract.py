"""The HTTP contract's request side, framework-free: every port parses and rejects alike.

`parse_data_request` turns a query string and an `Accept` header into a `DataRequest`, or raises
`ContractError` carrying the status, JSON body and headers every port must answer with.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from .encoders import ENCODERS, FORMATS, Encoder
from .settings import MAX_BATCH, Settings

JSON_CONTENT_TYPE = "application/json"
RETRY_AFTER_SECONDS = 1

_MEDIA_TO_FORMAT = {encoder.media_type: name for name, encoder in ENCODERS.items()}
_PARAMETERS = ("rows", "batch", "format", "source")

ENDPOINTS: tuple[str, ...] = ("standard", "chunked")
# How the rows are read: `fetch` all in one round trip then encode; `cursor` a server-side cursor
# read in batches and encoded; `copy` the database writes the body itself (`COPY ... TO STDOUT`);
# `keyset` each batch a short query of its own past the last id read, no connection held between.
SOURCES: tuple[str, ...] = ("fetch", "cursor", "copy", "keyset")
# Each endpoint's default is what it did before `source` existed: the two baselines users write.
DEFAULT_SOURCES: Mapping[str, str] = {"standard": "fetch", "chunked": "cursor"}


@dataclass(frozen=True)
class DataRequest:
    rows: int
    batch: int
    encoder: Encoder
    source: str = "fetch"


@dataclass
class ContractError(Exception):
    """An answer other than the data: status, JSON body, extra headers."""

    status: int
    error: str
    parameter: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> bytes:
        payload: dict[str, Any] = {"error": self.error}
        if self.parameter is not None:
            payload["parameter"] = self.parameter
        return orjson.dumps(payload)


def not_found() -> ContractError:
    return ContractError(404, "not found")


def method_not_allowed(allow: str = "GET") -> ContractError:
    """`allow` lists the path's own methods: `POST` for `/metrics/reset-peak`, `GET` elsewhere."""
    return ContractError(405, "method not allowed", headers={"Allow": allow})


def not_offered(source: str, layer: str, offered: Iterable[str]) -> ContractError:
    """A source the server's data layer cannot read (an ORM has no `copy`): a 400 naming the
    ones it can, before the database is asked anything."""
    return ContractError(
        400,
        f"source {source!r} is not offered by this server's data layer ({layer}); "
        f"expected one of {', '.join(offered)}",
        "source",
    )


def unavailable(reason: str) -> ContractError:
    """The database could not be reached before the response started: 503, never 500."""
    return ContractError(
        503,
        f"database unavailable: {reason}",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def parse_data_request(
    endpoint: str, query: Iterable[tuple[str, str]], accept: str | None, settings: Settings
) -> DataRequest:
    """Validate `rows`, `batch`, `format` and `source` (each at most once) for `endpoint`
    (`standard` or `chunked`, which picks the default source) and negotiate the format."""
    values: dict[str, str] = {}
    for key, value in query:
        if key not in _PARAMETERS:
            continue
        if key in values:
            raise ContractError(400, f"'{key}' given more than once", key)
        values[key] = value
    rows = _integer(values, "rows", settings.default_rows, 0, settings.max_rows)
    batch = _integer(values, "batch", settings.default_batch, 1, MAX_BATCH)
    if "format" in values:
        name = values["format"]
        if name not in ENCODERS:
            raise ContractError(
                400, f"unknown format; expected one of {', '.join(FORMATS)}", "format"
            )
    source = values.get("source", DEFAULT_SOURCES[endpoint])
    if source not in SOURCES:
        raise ContractError(400, f"unknown source; expected one of {', '.join(SOURCES)}", "source")
    # Negotiation last: a bad parameter is a 400 even when Accept allows nothing.
    encoder = ENCODERS[values["format"] if "format" in values else negotiate(accept)]
    return DataRequest(rows, batch, encoder, source)


def _integer(values: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = values.get(name)
    if raw is None:
        return default
    # Plain decimal digits only: no sign, spaces, underscores, exponents or non-ASCII digits.
    # At most 20 digits before int(): no huge conversions; the range check comes after.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 20 or not low <= int(raw) <= high:
        raise ContractError(400, f"'{name}' must be an integer from {low} to {high}", name)
    return int(raw)


def negotiate(accept: str | None) -> str:
    """The format for an `Accept` header: the best-quality range we can serve, `text` for `*/*`."""
    if accept is None or not accept.strip():
        return "text"
    candidates: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        media, _, params = part.strip().partition(";")
        media = media.strip().lower()
        quality = q_value(params)
        if quality <= 0 or not media:
            continue
        if media in _MEDIA_TO_FORMAT:
            candidates.append((quality, -position, _MEDIA_TO_FORMAT[media]))
        elif media in ("*/*", "text/*"):
            candidates.append((quality, -position, "text"))
        elif media == "application/*":
            candidates.append((quality, -position, "json"))
    if not candidates:
        raise ContractError(
            406,
            "cannot produce any media type in Accept; offered: "
            + ", ".join(encoder.media_type for encoder in ENCODERS.values()),
        )
    return max(candidates)[2]


def q_value(params: str) -> float:
    """The q-value among a header entry's parameters (`q=0.5`), 1 when none is given; one that
    is not a number from 0 to 1 counts as 0. For `Accept` here and `Accept-Encoding`
    (shared/compression.py) alike."""
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                return 0.0
            return quality if 0.0 <= quality <= 1.0 else 0.0
    return 1.0


def request_id(header: str | None) -> str:
    """The client's `X-Request-ID` when it is a short token, else a fresh one."""
    if header and len(header) <= 64 and header.isascii() and header.replace("-", "").isalnum():
        return header
    return uuid.uuid4().hex[:16]
