"""How the Litestar port is described: an ASGI app, uvicorn by default."""

from __future__ import annotations

from shared.ports import PortDescriptor

PORT = PortDescriptor(
    name="litestar",
    framework="litestar",
    factory="impl_litestar.app:create_app",
)
