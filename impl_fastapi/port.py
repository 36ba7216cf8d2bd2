"""How the FastAPI port is described: an ASGI app, uvicorn by default."""

from __future__ import annotations

from shared.ports import PortDescriptor

PORT = PortDescriptor(
    name="fastapi",
    framework="fastapi",
    factory="impl_fastapi.app:create_app",
)
