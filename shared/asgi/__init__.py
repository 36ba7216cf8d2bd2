"""What every ASGI port shares: the lifespan, the request id, the streamed response, the
accounting of open streams, the content-coding negotiation and a compressor. Pure ASGI, so a
port is routing plus its framework's quirks."""

from . import endpoints
from .compression import Compressing, NegotiatedCoding
from .lifespan import AppResources, WithLifespan
from .open_streams import OpenStreams
from .request_id import RequestIdMiddleware, header_value, request_id_of
from .streaming import RowStreamResponse, cut_on_purpose, mark_cut_on_purpose
from .types import ASGIApp, Message, Receive, Scope, Send
from .whole_body import WholeBody

__all__ = [
    "ASGIApp",
    "AppResources",
    "Compressing",
    "Message",
    "NegotiatedCoding",
    "OpenStreams",
    "Receive",
    "RequestIdMiddleware",
    "RowStreamResponse",
    "Scope",
    "Send",
    "WholeBody",
    "WithLifespan",
    "cut_on_purpose",
    "endpoints",
    "header_value",
    "mark_cut_on_purpose",
    "request_id_of",
]
