"""The HTTP servers a port runs on, chosen at serve time by name: one module per server."""

from .registry import (
    GRACEFUL_SHUTDOWN_SECONDS,
    SERVERS,
    ServerDescriptor,
    ServerUnavailable,
    load_server,
    servers_for,
)

__all__ = [
    "GRACEFUL_SHUTDOWN_SECONDS",
    "SERVERS",
    "ServerDescriptor",
    "ServerUnavailable",
    "load_server",
    "servers_for",
]
