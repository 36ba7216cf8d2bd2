"""Ports: what one framework implementation is, and the registry that finds them.

The registry maps a port's name to the import string of its descriptor, resolved lazily (the way
uvicorn names its HTTP implementations), so a port whose framework is not installed is reported as
unavailable instead of breaking the others. Adding a port is a folder plus one line in `PORTS`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .layers import LayerSpec, layers_for
from .servers.registry import (
    Interface,
    ServerDescriptor,
    ServerUnavailable,
    import_string,
    installed_version,
    load_server,
    servers_for,
)
from .settings import ENV_NAMES, Settings

PORTS: Mapping[str, str] = {
    "aiohttp": "impl_aiohttp.port:PORT",
    "django": "impl_django.port:PORT",
    "fastapi": "impl_fastapi.port:PORT",
    "litestar": "impl_litestar.port:PORT",
    "starlette": "impl_starlette.port:PORT",
}

# Ports outside this repository (or only in a test suite): "name=module:attribute,...".
EXTRA_PORTS_ENV = "STREAMBENCH_EXTRA_PORTS"


@dataclass(frozen=True)
class PortDescriptor:
    """One framework port: what it is and which servers can run it.

    `framework` is the distribution whose version is read at run time; `factory` is the import
    string of `create_app(settings)`, which gives an app of `interface` ("asgi": any ASGI server
    runs it; "aiohttp": an aiohttp `Application`). The server is chosen at serve time among the
    registered servers of that interface (`shared.servers`), `default_server` when none is named.
    """

    name: str
    framework: str
    factory: str
    interface: Interface = "asgi"
    default_server: str = "uvicorn"
    details: str = ""
    # Data layers only this port can serve (Django's ORM), beside the shared ones.
    layers: tuple[LayerSpec, ...] = ()

    def data_layers(self) -> list[str]:
        """Every data layer this port can serve, the shared default first."""
        return list(layers_for(self.layers))

    def servers(self) -> list[str]:
        """The servers that can run this port, its default first."""
        names = servers_for(self.interface)
        return sorted(names, key=lambda name: name != self.default_server)

    def server(self, name: str | None = None) -> ServerDescriptor:
        """The server `name` (default: this port's default), if it can run this port."""
        server = load_server(name or self.default_server)
        if server.interface != self.interface:
            raise PortUnavailable(
                f"server {server.name!r} serves {server.interface} apps; port {self.name!r} is "
                f"{self.interface}: use one of {', '.join(self.servers())}"
            )
        return server

    def framework_version(self) -> str:
        return installed_version(self.framework)

    def labels(self, server: str | None = None) -> tuple[str, str]:
        """Framework and server with their installed versions, e.g. ("aiohttp 3.14.0", ...)."""
        chosen = self.server(server)
        return f"{self.framework} {self.framework_version()}", f"{chosen.name} {chosen.version()}"

    def command(self, host: str, port: int, server: str | None = None) -> list[str]:
        """The command line that serves this port on `server` in a process of its own."""
        return [
            sys.executable, "-m", "streambench", "serve", self.name,
            "--server", server or self.default_server,
            "--host", host, "--port", str(port),
        ]  # fmt: skip

    def run(self, settings: Settings, host: str, port: int, server: str | None = None) -> None:
        create_app: Callable[[Settings], Any] = import_string(self.factory)
        self.server(server).run(lambda: create_app(settings), settings, host, port)


def process_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a port's process (`PortDescriptor.command`) run with exactly
    `settings`: this process's environment without its own streambench settings, plus the ports
    registered outside the repository, so the child finds them too."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMBENCH_")}
    env.pop("DATABASE_URL", None)
    for name, variable in ENV_NAMES.items():
        value = getattr(settings, name)
        if value is None:
            continue
        env[variable] = ("1" if value else "0") if isinstance(value, bool) else str(value)
    if EXTRA_PORTS_ENV in os.environ:
        env[EXTRA_PORTS_ENV] = os.environ[EXTRA_PORTS_ENV]
    return env


class PortUnavailable(Exception):
    """A registered port that cannot be loaded here (framework missing, bad import string)."""


def registered_ports(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    env = os.environ if environ is None else environ
    ports = dict(PORTS)
    for item in filter(None, (part.strip() for part in env.get(EXTRA_PORTS_ENV, "").split(","))):
        name, sep, target = item.partition("=")
        if not sep or not name or ":" not in target:
            raise ValueError(f"{EXTRA_PORTS_ENV}: expected name=module:attribute, got {item!r}")
        ports[name.strip()] = target.strip()
    return ports


def load_port(name: str, environ: Mapping[str, str] | None = None) -> PortDescriptor:
    ports = registered_ports(environ)
    if name not in ports:
        raise PortUnavailable(f"no port named {name!r}; registered: {', '.join(sorted(ports))}")
    try:
        descriptor = import_string(ports[name])
    except ImportError as error:
        raise PortUnavailable(f"port {name!r} cannot be imported: {error}") from error
    if not isinstance(descriptor, PortDescriptor):
        raise PortUnavailable(f"{ports[name]} is not a PortDescriptor")
    if installed_version(descriptor.framework) == "not installed":
        raise PortUnavailable(
            f"port {name!r} needs {descriptor.framework!r}, which is not installed"
        )
    try:
        descriptor.server()
    except ServerUnavailable as error:
        raise PortUnavailable(f"port {name!r}: its default server: {error}") from error
    return descriptor


def available_ports(
    environ: Mapping[str, str] | None = None,
) -> list[tuple[str, PortDescriptor | None, str | None]]:
    """Every registered port as (name, descriptor or None, reason it is unavailable or None)."""
    result: list[tuple[str, PortDescriptor | None, str | None]] = []
    for name in registered_ports(environ):
        try:
            result.append((name, load_port(name, environ), None))
        except PortUnavailable as error:
            result.append((name, None, str(error)))
    return result
