"""How the Django port is described: an ASGI app, uvicorn by default, and a data layer of its own."""

from __future__ import annotations

from shared.layers import LayerSpec
from shared.ports import PortDescriptor

PORT = PortDescriptor(
    name="django",
    framework="django",
    factory="impl_django.app:create_app",
    layers=(
        LayerSpec(
            "django-orm",
            "impl_django.orm:create_layer",
            ("fetch", "cursor", "keyset"),
            ("django", "psycopg", "psycopg-pool"),
            "Django's ORM on psycopg 3 and Django's pool: async iteration of a queryset, "
            "aiterator(chunk_size=batch), a queryset per keyset page",
        ),
    ),
)
