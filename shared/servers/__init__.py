"""The HTTP servers a port runs on, chosen at serve time by name: one module per server."""

from .registry import (
    HTTP_VERSIONS,
    SERVERS,
    ServerDescriptor,
    ServerUnavailable,
    check_http,
    load_server,
    servers_for,
)

__all__ = [
    "HTTP_VERSIONS",
    "SERVERS",
    "ServerDescriptor",
    "ServerUnavailable",
    "check_http",
    "load_server",
    "servers_for",
]
