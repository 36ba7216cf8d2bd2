"""How the Starlette port is described: an ASGI app, uvicorn by default."""

from __future__ import annotations

from shared.ports import PortDescriptor

PORT = PortDescriptor(
    name="starlette",
    framework="starlette",
    factory="impl_starlette.app:create_app",
)
