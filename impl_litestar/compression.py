"""zstd as a Litestar compression backend: Litestar's own way to add a coding
(`CompressionConfig(backend=..., compression_facade=...)`), built on the shared compressor.

Litestar's middleware calls `write()` once per body message and sends whatever the buffer holds
after it; the shared compressor flushes a block on each, so `/chunked` stays streamed. gzip is
Litestar's own facade (`gzip_fallback`), which flushes on every write too.
"""

from __future__ import annotations

from io import BytesIO
from typing import ClassVar

from litestar.config.compression import CompressionConfig
from litestar.enums import CompressionEncoding
from litestar.middleware.compression.facade import CompressionFacade

from shared.compression import open_compressor


class ZstdCompression(CompressionFacade):
    encoding: ClassVar[str] = "zstd"

    def __init__(
        self,
        buffer: BytesIO,
        compression_encoding: CompressionEncoding | str,
        config: CompressionConfig,
    ) -> None:
        self.buffer = buffer
        self.compressor = open_compressor("zstd")

    def write(self, body: bytes) -> None:
        self.buffer.write(self.compressor.compress(body))

    def close(self) -> None:
        self.buffer.write(self.compressor.finish())


def compression_config() -> CompressionConfig:
    # Litestar's defaults otherwise (gzip level 9, nothing under 500 bytes): what its users get.
    return CompressionConfig(backend="zstd", compression_facade=ZstdCompression, gzip_fallback=True)
