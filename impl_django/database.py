"""Django's own database settings for the `django-orm` layer: `DATABASES["default"]` from the server's
settings, written the way a Django project writes them, in code instead of a settings module.

- psycopg 3 (`django.db.backends.postgresql`) on `settings.database_url`, with Django's connection
  pool (5.1+, `OPTIONS["pool"]`, a psycopg-pool `ConnectionPool`) of `settings.pool_size`
  connections and `settings.pool_timeout` as the wait for one. The pool is what Django's docs
  advise under ASGI, and the only way to honour a pool size: without it each Django connection is
  opened for a request and closed at its end (`CONN_MAX_AGE` 0), with no bound but the server's
  `max_connections`; persistent connections (`CONN_MAX_AGE` > 0) belong to a thread, and Django
  runs each ASGI request's database calls in a thread of its own, so they would never be reused
  (Django refuses them beside a pool anyway). A checkout waits at most the pool timeout and then
  raises `PoolTimeout`: a 503, never a hang.
- No `CONN_HEALTH_CHECKS`, which makes the pool check each connection as it hands it out with an
  empty query, and back off a second, then two, once a second check in a row has failed: after a
  restart, a request meeting the pool's dead connections one after the other times out. The
  layer looks at a connection's socket instead before its first query (impl_django/orm.py,
  `_check_out`): no round trip, and a connection the server has closed is replaced at once.
- The session every layer opens (shared/session.py: `jit=off`, `TimeZone=UTC`, the process's
  `application_name`, by which tests and operators find the server's connections), and
  `TIME_ZONE="UTC"` with `USE_TZ` (impl_django/app.py), so `created_at` arrives as an aware UTC
  datetime, as asyncpg returns it, and the bodies are byte for byte the same.

The URL is read here, not by psycopg, so that a Django server on another layer does not import psycopg.
"""

from __future__ import annotations

import math
import os
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from shared.session import SERVER_SETTINGS, application_name
from shared.settings import Settings

__all__ = ["DATABASE", "database_settings", "url_fields"]

DATABASE = "default"  # the alias the layer reads through

# libpq's keywords for the fields Django has settings of its own for.
_FIELDS = {"dbname": "NAME", "user": "USER", "password": "PASSWORD", "host": "HOST", "port": "PORT"}


def database_settings(settings: Settings) -> dict[str, Any]:
    """`DATABASES["default"]` for `settings` (its database URL resolved)."""
    if not settings.database_url:
        raise RuntimeError("settings.database_url is unset: resolve it before creating the app")
    fields = url_fields(settings.database_url)
    options: dict[str, Any] = fields.pop("OPTIONS")
    session = " ".join(f"-c {name}={value}" for name, value in SERVER_SETTINGS.items())
    options["options"] = " ".join(filter(None, (options.get("options"), session)))
    options["application_name"] = application_name(os.getpid())
    # libpq counts whole seconds and takes less than 2 as 2: a database that does not answer
    # must not hold a pool worker past the pool timeout by much.
    options["connect_timeout"] = max(2, math.ceil(settings.pool_timeout))
    options["pool"] = {
        # A fixed pool, as every layer's: opened in the background at startup, kept full.
        "min_size": settings.pool_size,
        "max_size": settings.pool_size,
        "timeout": settings.pool_timeout,
        "name": "django-orm",
    }
    return {
        "ENGINE": "django.db.backends.postgresql",
        **fields,
        "OPTIONS": options,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
    }


def url_fields(url: str) -> dict[str, Any]:
    """NAME, USER, PASSWORD, HOST, PORT and OPTIONS (every other keyword) of a libpq URL,
    `postgresql://user:password@host:port/dbname?keyword=value`; a keyword in the query wins
    over the same field before it (`?host=/socket/dir`, as embedded servers write it)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: {parts.scheme}://...")
    # `netloc` by hand: `urlsplit` lowercases the host, and a socket directory keeps its case.
    credentials, _, address = parts.netloc.rpartition("@")
    user, _, password = credentials.partition(":")
    host, port = address, ""
    if address.startswith("["):  # [IPv6]:port
        host, _, rest = address[1:].partition("]")
        port = rest.removeprefix(":")
    elif ":" in address:
        host, _, port = address.rpartition(":")
    keywords = {
        "dbname": parts.path.removeprefix("/"),
        "user": user,
        "password": password,
        "host": host,
        "port": port,
    }
    keywords = {name: unquote(value) for name, value in keywords.items()}
    keywords.update(parse_qsl(parts.query))
    fields: dict[str, Any] = {field: keywords.pop(name, "") for name, field in _FIELDS.items()}
    fields["OPTIONS"] = keywords
    return fields
