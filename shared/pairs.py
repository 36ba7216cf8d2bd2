"""Contenders: a port on one server, named `port@server` ("fastapi@granian").

What the conformance suite, the fuzzing and the comparator run is a pair, not a port: the same
app behaves differently on different servers (framing, disconnects, limits), and each pair is
verified on its own. A bare port name means the port on its default server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .ports import PortDescriptor, PortUnavailable, available_ports, load_port
from .servers.registry import ServerDescriptor, ServerUnavailable, load_server
from .settings import Settings

SEPARATOR = "@"


@dataclass(frozen=True)
class Pair:
    """One port served by one server."""

    port: PortDescriptor
    server: ServerDescriptor

    @property
    def name(self) -> str:
        return f"{self.port.name}{SEPARATOR}{self.server.name}"

    @property
    def default(self) -> bool:
        """Whether this is the port on its default server."""
        return self.server.name == self.port.default_server

    def labels(self) -> tuple[str, str]:
        """Framework and server with their installed versions, e.g. ("fastapi 0.165.0", ...)."""
        return self.port.labels(self.server.name)

    def details(self) -> str:
        return ", ".join(filter(None, (self.port.details, self.server.details)))

    @property
    def http_versions(self) -> tuple[str, ...]:
        """The HTTP versions this pair can be served over: its server's, whatever the port."""
        return self.server.http_versions

    def gaps(self) -> Mapping[str, str]:
        """The contract points this pair cannot meet, with the reason (the server's)."""
        return self.server.gaps

    def command(self, host: str, port: int) -> list[str]:
        return self.port.command(host, port, self.server.name)

    def run(self, settings: Settings, host: str, port: int) -> None:
        self.port.run(settings, host, port, self.server.name)


def split(name: str) -> tuple[str, str | None]:
    port, sep, server = name.partition(SEPARATOR)
    return port, (server if sep else None)


def load_pair(name: str, environ: Mapping[str, str] | None = None) -> Pair:
    """`port@server`, or a bare `port` on its default server; PortUnavailable if it cannot run."""
    port_name, server_name = split(name)
    port = load_port(port_name, environ)
    try:
        return Pair(port, port.server(server_name))
    except ServerUnavailable as error:
        raise PortUnavailable(str(error)) from error


def available_pairs(
    environ: Mapping[str, str] | None = None,
    servers: Iterable[str] | None = None,
) -> list[tuple[str, Pair | None, str | None]]:
    """Every (registered port, server that can run it) as (name, pair or None, reason or None),
    each port's default server first; a port that cannot load is one entry under its own name.
    `servers` keeps only the pairs on those servers."""
    wanted = None if servers is None else set(servers)
    result: list[tuple[str, Pair | None, str | None]] = []
    for name, descriptor, reason in available_ports(environ):
        if descriptor is None:
            result.append((name, None, reason))
            continue
        for server_name in descriptor.servers():
            if wanted is not None and server_name not in wanted:
                continue
            pair_name = f"{name}{SEPARATOR}{server_name}"
            try:
                result.append((pair_name, Pair(descriptor, load_server(server_name)), None))
            except ServerUnavailable as error:
                result.append((pair_name, None, str(error)))
    return result


def default_pairs(environ: Mapping[str, str] | None = None) -> list[Pair]:
    """Each available port on its default server."""
    return [pair for _, pair, _ in available_pairs(environ) if pair is not None and pair.default]
