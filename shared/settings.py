"""One settings object, read from the environment and passed explicitly to every factory."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_ROWS = 500_000
DEFAULT_BATCH = 1_000
MAX_BATCH = 100_000
# Every process and port logs alike, so a log line reads the same whichever framework wrote it.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "streambench"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything a factory needs. Build it with `Settings.from_env()`, override with `.replace()`."""

    database_url: str | None = None
    pool_size: int = 10
    pool_timeout: float = 5.0
    default_rows: int = DEFAULT_ROWS
    default_batch: int = DEFAULT_BATCH
    max_rows: int = 10_000_000
    jwt_secret: str | None = None
    cache_dir: Path = dataclasses.field(default_factory=_default_cache_dir)
    access_log: bool = False
    metrics: bool = False
    log_level: str = "INFO"
    # A connection must deliver a whole request head this soon after it opens or its previous
    # response ends, or it is closed (shared/limits.py); the same figure is the idle keep-alive.
    head_timeout: float = 5.0
    # SIGTERM/SIGINT to exit: in-flight responses get this long in all (shared/shutdown.py).
    shutdown_grace: float = 10.0
    # The library the rows are read through (shared/layers): one per server process.
    layer: str = "asyncpg"
    # The HTTP version served beside HTTP/1.1 on the same port: "2" adds HTTP/2 in cleartext with
    # prior knowledge (h2c) on a server that speaks it (shared/servers); "1.1", nothing more.
    http: str = "1.1"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            raw = env.get(ENV_NAMES[field.name])
            if raw is None or raw == "":
                continue
            values[field.name] = _parse(field.name, raw)
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def auth_enabled(self) -> bool:
        return bool(self.jwt_secret)

    def as_public_dict(self) -> dict[str, Any]:
        """The settings as they go into results and reports: secrets and credentials hidden."""
        public = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        public["jwt_secret"] = "<set>" if self.jwt_secret else None
        public["database_url"] = redact_url(self.database_url) if self.database_url else None
        public["cache_dir"] = str(self.cache_dir)
        return public


ENV_NAMES: Mapping[str, str] = {
    "database_url": "DATABASE_URL",
    "pool_size": "STREAMBENCH_POOL_SIZE",
    "pool_timeout": "STREAMBENCH_POOL_TIMEOUT",
    "default_rows": "STREAMBENCH_ROWS",
    "default_batch": "STREAMBENCH_BATCH",
    "max_rows": "STREAMBENCH_MAX_ROWS",
    "jwt_secret": "STREAMBENCH_JWT_SECRET",
    "cache_dir": "STREAMBENCH_CACHE_DIR",
    "access_log": "STREAMBENCH_ACCESS_LOG",
    "metrics": "STREAMBENCH_METRICS",
    "log_level": "STREAMBENCH_LOG_LEVEL",
    "head_timeout": "STREAMBENCH_HEAD_TIMEOUT",
    "shutdown_grace": "STREAMBENCH_SHUTDOWN_GRACE",
    "layer": "STREAMBENCH_LAYER",
    "http": "STREAMBENCH_HTTP",
}


def _parse(name: str, raw: str) -> Any:
    if name in ("pool_size", "default_rows", "default_batch", "max_rows"):
        return int(raw.replace("_", ""))
    if name in ("pool_timeout", "head_timeout", "shutdown_grace"):
        return float(raw)
    if name in ("access_log", "metrics"):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if name == "cache_dir":
        return Path(raw)
    return raw


def redact_url(url: str) -> str:
    """Hide a password in a connection URL."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}{':***' if ':' in credentials else ''}@{host}"
