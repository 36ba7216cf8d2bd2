"""A client worker process (`python -m compare.load._worker CLIENT CONNECTIONS`): it sends its
share of each round with the in-process engine and reports the raw samples back.

The comparator talks to it over its standard input and output, one JSON object a line: a hello
first (pid, host, open-file limit), then per round the spec, this worker's share of the
concurrency and the monotonic time to start at; back, the samples, when it started and ended
(CLOCK_MONOTONIC, the same clock in every process of the machine) and its CPU seconds.
Anything else the worker prints goes to its standard error.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import sys
import time
from typing import BinaryIO

import orjson
import uvloop

from ..capacity import usable_file_limit
from .base import machine_load, this_host
from .in_process import InProcessEngine
from .wire import spec_from_wire, timing_to_wire

# A line can carry every sample of 1,024 requests, each with its arrival list.
LINE_LIMIT = 2**30


async def serve(client: str, connections: int, out: BinaryIO, nofile: int) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def send(message: dict[str, object]) -> None:
        out.write(orjson.dumps(message) + b"\n")
        out.flush()

    send({"pid": os.getpid(), "host": this_host(), "nofile": nofile})
    engine = InProcessEngine(client, connections)
    try:
        while line := await reader.readline():
            order = orjson.loads(line)
            spec = dataclasses.replace(spec_from_wire(order["spec"]), concurrency=order["count"])
            await asyncio.sleep(max(0.0, order["start_at"] - time.monotonic()))
            started = time.monotonic()
            measured = await engine.run(spec)
            ended = time.monotonic()
            assert measured.load is not None
            send(
                {
                    "started": started,
                    "ended": ended,
                    "cpu": measured.load.cpu_seconds[0],
                    "load": machine_load(),
                    "requests": [timing_to_wire(r) for r in measured.requests],
                }
            )
    finally:
        await engine.close()


def main(argv: list[str]) -> None:
    client, connections = argv[0], int(argv[1])
    nofile = usable_file_limit()
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr  # the protocol owns standard output
    # uvloop, as every server here runs on: the client side of a round costs less CPU.
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve(client, connections, out, nofile))


if __name__ == "__main__":
    main(sys.argv[1:])
