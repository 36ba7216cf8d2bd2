"""A round and its samples as plain JSON-ready values: what crosses from the comparator to a
load generator in another process (and back), whichever engine carries it."""

from __future__ import annotations

from typing import Any

from ..clients import RequestTiming
from .base import RoundSpec

__all__ = ["spec_from_wire", "spec_to_wire", "timing_from_wire", "timing_to_wire"]


def spec_to_wire(spec: RoundSpec) -> dict[str, Any]:
    return {
        "url": spec.url,
        "params": dict(spec.params),
        "headers": dict(spec.headers),
        "format": spec.format,
        "rows": spec.rows,
        "concurrency": spec.concurrency,
        "expected_bytes": spec.expected_bytes,
        "read_rate": spec.read_rate,
        "requests_per_stream": spec.requests_per_stream,
        "http": spec.http,
    }


def spec_from_wire(raw: dict[str, Any]) -> RoundSpec:
    return RoundSpec(
        url=str(raw["url"]),
        params={str(k): str(v) for k, v in raw["params"].items()},
        headers={str(k): str(v) for k, v in raw["headers"].items()},
        format=str(raw["format"]),
        rows=int(raw["rows"]),
        concurrency=int(raw["concurrency"]),
        expected_bytes=None if raw["expected_bytes"] is None else int(raw["expected_bytes"]),
        read_rate=None if raw["read_rate"] is None else float(raw["read_rate"]),
        requests_per_stream=int(raw.get("requests_per_stream", 1)),
        http=str(raw.get("http", "1.1")),
    )


def timing_to_wire(timing: RequestTiming) -> dict[str, Any]:
    return {
        "ok": timing.ok,
        "error": timing.error,
        "status": timing.status,
        "headers": timing.headers,
        "ttfb": timing.ttfb,
        "total": timing.total,
        "bytes": timing.bytes,
        "rows": timing.rows,
        "chunks": timing.chunks,
        "arrival": timing.arrival,
        "sent": timing.sent,
        "decoded": timing.decoded,
    }


def timing_from_wire(raw: dict[str, Any]) -> RequestTiming:
    return RequestTiming(
        ok=bool(raw["ok"]),
        error=raw["error"],
        status=raw["status"],
        headers=raw["headers"],
        ttfb=raw["ttfb"],
        total=float(raw["total"]),
        bytes=int(raw["bytes"]),
        rows=int(raw["rows"]),
        chunks=int(raw["chunks"]),
        arrival=[(float(seconds), int(count)) for seconds, count in raw["arrival"]],
        sent=None if raw.get("sent") is None else float(raw["sent"]),
        decoded=raw.get("decoded"),
    )
