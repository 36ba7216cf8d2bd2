"""How the Django port is described: an ASGI app, uvicorn by default."""

from __future__ import annotations

from shared.ports import PortDescriptor

PORT = PortDescriptor(
    name="django",
    framework="django",
    factory="impl_django.app:create_app",
)
