"""Servers: the HTTP servers a port's app can run on, named by import string, chosen at serve time.

A server is not a framework: the way uvicorn names its interchangeable HTTP implementations
(`--http h11|httptools`), a server here is a name mapped to the import string of its descriptor,
resolved lazily, so a server whose package is missing is reported as unavailable instead of
breaking the others. Every ASGI port runs on every ASGI server; aiohttp runs on its own.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.settings import Settings

Interface = Literal["asgi", "aiohttp"]

SERVERS: Mapping[str, str] = {
    "aiohttp": "shared.servers.aiohttp:SERVER",
    "granian": "shared.servers.granian:SERVER",
    "hypercorn": "shared.servers.hypercorn:SERVER",
    "uvicorn": "shared.servers.uvicorn:SERVER",
}

# What Granian and Hypercorn both keep from the app, so that no shared layer above them can meet
# this contract point (a strict expected failure in the conformance suite; uvicorn meets it
# through the protocol class in `shared.asgi.uvicorn_protocol`).
COMMON_GAPS: Mapping[str, str] = {
    "unreported-disconnects": "may not tell the app that a client left while the app sends "
    "a body it already holds (source=fetch): its send() into a closed connection returns "
    "at once and http.disconnect waits, so the body runs to its end with no 'client "
    "disconnected' line; nothing leaks",
}

# The HTTP versions a run or `streambench serve --http` can ask a server for: HTTP/1.1, which every
# server speaks, and HTTP/2 in cleartext with prior knowledge (h2c), served on the same port as
# HTTP/1.1 so that health checks, verification and /metrics go on over HTTP/1.1. Cleartext, not
# TLS with ALPN: on loopback encryption would be a cost of its own in every figure, and both
# servers that speak HTTP/2 here take the h2c preface on a plain socket.
HTTP_VERSIONS: tuple[str, ...] = ("1.1", "2")

Serve = Callable[[Callable[[], Any], Settings, str, int], None]

# Every server's listen backlog: connections the kernel completes and queues before the server
# accepts them. The defaults differ (uvicorn 2,048, aiohttp and embedded Granian 128, Hypercorn
# 100), and past a full queue the kernel drops the handshake and the client retries it after
# 1, 3, 7, 15, 31 s. Measured at 1,024 streams of /chunked?source=copy&rows=10000 on this 2-core
# machine with the defaults: starlette@hypercorn first byte p50 2.1 s, p99 58.5 s and 7 of
# 1,024 reset, starlette@granian p50 20 s, p99 58.9 s, against p99 1.8-2.6 s on aiohttp and
# uvicorn: the kernel's retry timer, not the server. One queue as deep as uvicorn's (within
# net.core.somaxconn, 4,096 here) compares the servers: with it, the same run answered all 1,024
# on Hypercorn with p99 5.9 s (load 2.5 to 6.5: other work shared the cores). Granian keeps
# its own bound on the connections it serves at once (shared/servers/granian.py): its p99 fell
# to 36 s, the rest waiting their turn in the queue behind idle kept-alive connections.
LISTEN_BACKLOG = 2048


@dataclass(frozen=True)
class ServerDescriptor:
    """One HTTP server: the apps it runs and how it runs one.

    `interface` is what it serves (an ASGI app, or an aiohttp `Application`); `distribution` is
    the package whose version is read at run time; `serve` the import string of a blocking
    `serve(app_factory, settings, host, port)` that builds the app in the serving process and
    runs it until SIGTERM or SIGINT, then lets in-flight responses finish (up to the contract's
    `shutdown_grace`). `gaps` names each contract point this server cannot meet, with the
    reason: verification reports it as a warning, and the tests expect (strictly) the failure.
    `http_versions` are the versions it can serve (`HTTP_VERSIONS`); its `serve` reads the one
    asked for from `settings.http`.
    """

    name: str
    distribution: str
    interface: Interface
    serve: str
    details: str = ""
    gaps: Mapping[str, str] = field(default_factory=dict)
    http_versions: tuple[str, ...] = ("1.1",)

    def version(self) -> str:
        return installed_version(self.distribution)

    def run(self, app_factory: Callable[[], Any], settings: Settings, host: str, port: int) -> None:
        check_http(self, settings.http)
        serve: Serve = import_string(self.serve)
        serve(app_factory, settings, host, port)


class ServerUnavailable(Exception):
    """A registered server that cannot be loaded here (package missing, bad import string)."""


def load_server(name: str) -> ServerDescriptor:
    if name not in SERVERS:
        raise ServerUnavailable(
            f"no server named {name!r}; registered: {', '.join(sorted(SERVERS))}"
        )
    try:
        descriptor = import_string(SERVERS[name])
    except ImportError as error:
        raise ServerUnavailable(f"server {name!r} cannot be imported: {error}") from error
    if not isinstance(descriptor, ServerDescriptor):
        raise ServerUnavailable(f"{SERVERS[name]} is not a ServerDescriptor")
    if descriptor.version() == "not installed":
        raise ServerUnavailable(f"server {name!r} needs {descriptor.distribution!r}, not installed")
    return descriptor


def check_http(server: ServerDescriptor, http: str) -> None:
    """ServerUnavailable, in one line naming the choices, unless `server` can serve `http`."""
    if http not in HTTP_VERSIONS:
        raise ServerUnavailable(f"no HTTP version {http!r}; choose from {', '.join(HTTP_VERSIONS)}")
    if http not in server.http_versions:
        raise ServerUnavailable(
            f"server {server.name!r} does not speak HTTP/{http}; it serves "
            + ", ".join(f"HTTP/{v}" for v in server.http_versions)
        )


def servers_for(interface: Interface) -> list[str]:
    """The names of the registered servers that serve `interface`, loadable or not."""
    names = []
    for name in SERVERS:
        try:
            if load_server(name).interface == interface:
                names.append(name)
        except ServerUnavailable:
            continue
    return names


def import_string(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ImportError(f"{module_name} has no attribute {attribute!r}") from None


def installed_version(dist: str) -> str:
    """A distribution's installed version, or "not installed"."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"
