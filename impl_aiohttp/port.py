"""How the aiohttp port is described: an aiohttp `Application`, served by aiohttp's own server."""

from __future__ import annotations

from shared.ports import PortDescriptor

PORT = PortDescriptor(
    name="aiohttp",
    framework="aiohttp",
    factory="impl_aiohttp.app:create_app",
    interface="aiohttp",
    default_server="aiohttp",
)
