"""The HTTP servers a port runs on, chosen at serve time by name: one module per server."""

from .registry import (
    SERVERS,
    ServerDescriptor,
    ServerUnavailable,
    load_server,
    servers_for,
)

__all__ = [
    "SERVERS",
    "ServerDescriptor",
    "ServerUnavailable",
    "load_server",
    "servers_for",
]
