"""Ports: what one framework implementation is, and the registry that finds them.

The registry maps a port's name to the import string of its descriptor, resolved lazily (the way
uvicorn names its HTTP implementations), so a port whose framework is not installed is reported as
unavailable instead of breaking the others. Adding a port is a folder plus one line in `PORTS`.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .settings import ENV_NAMES, Settings

PORTS: Mapping[str, str] = {
    "aiohttp": "impl_aiohttp.port:PORT",
    "starlette": "impl_starlette.port:PORT",
}

# Ports outside this repository (or only in a test suite): "name=module:attribute,...".
EXTRA_PORTS_ENV = "STREAMBENCH_EXTRA_PORTS"


@dataclass(frozen=True)
class PortDescriptor:
    """One framework port: how to describe it and how to serve it as its own process.

    `framework` and `server` are distribution names whose versions are read at run time;
    `factory` is the import string of `create_app(settings)`; `serve` the import string of a blocking
    `serve(settings, host, port)` that runs the app on a socket until SIGTERM or SIGINT.
    """

    name: str
    framework: str
    server: str
    factory: str
    serve: str
    details: str = ""

    def versions(self) -> dict[str, str]:
        return {
            dist: installed_version(dist) for dist in dict.fromkeys((self.framework, self.server))
        }

    def labels(self) -> tuple[str, str]:
        """Framework and server with their installed versions, e.g. ("aiohttp 3.14.0", ...)."""
        versions = self.versions()
        return (
            f"{self.framework} {versions[self.framework]}",
            f"{self.server} {versions[self.server]}",
        )

    def command(self, host: str, port: int) -> list[str]:
        """The command line that serves this port in a process of its own."""
        return [
            sys.executable, "-m", "streambench", "serve", self.name,
            "--host", host, "--port", str(port),
        ]  # fmt: skip

    def run(self, settings: Settings, host: str, port: int) -> None:
        serve: Callable[[Settings, str, int], None] = import_string(self.serve)
        serve(settings, host, port)


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
    for dist in (descriptor.framework, descriptor.server):
        if installed_version(dist) == "not installed":
            raise PortUnavailable(f"port {name!r} needs {dist!r}, which is not installed")
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
