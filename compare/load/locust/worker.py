"""A Locust worker: `streambench load-worker --master HOST:PORT` (or `python -m
compare.load.locust.worker`), on this machine or another one.

It joins the master with Locust's own worker runner, says who it is (the master refuses another
streambench version), then for each round the master announces sends its share of the requests
at the common start and reads every body piece by piece as it arrives, timed exactly as the
comparator's own clients time it (compare/clients/timing.py's `BodyTimer`). Locust's `stream=True`
response time stops at the headers (its maintainers call that intended), so the user class reads
the body itself, fires its own request events (`ttfb` and `total`) for Locust's statistics, and
sends the raw samples back to the master with a runner message.

Locust monkey-patches the standard library for gevent when imported: this module is the main
module of a process of its own, never imported by the asyncio comparator.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn
from urllib.parse import urlencode, urlsplit

import gevent
import locust  # noqa: F401  (patches the standard library for gevent before anything else runs)
from gevent.event import AsyncResult
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment
from locust.runners import WorkerRunner

from ...clients import BodyTimer, RequestTiming
from ...clients.base import CONNECT_TIMEOUT, REQUEST_TIMEOUT
from ..base import RoundSpec, machine_load
from ..wire import spec_from_wire, timing_to_wire
from .protocol import (
    HELLO,
    REFUSED,
    ROUND,
    SAMPLES,
    WELCOME,
    Identity,
    parse_address,
)

__all__ = ["CONNECT_SECONDS", "StreamUser", "main"]

# How long a worker tries to join its master (Locust's own worker retries for five minutes).
CONNECT_SECONDS = 30.0
# A start announced further ahead than this is a clock apart, not a plan: start now instead.
LONGEST_START_WAIT = 1.0
# What one read of the socket takes at most: aiohttp's read buffer, the comparator's client.
READ_SIZE = 2**16
# Every status comes back as a response: the timing, not the client, says which are failures.
_EVERY_STATUS = frozenset(range(100, 600))


class _Unheard:
    """An event nobody listens to."""

    def fire(self, **kwargs: Any) -> None:
        return None


class StreamUser(FastHttpUser):
    """One simultaneous stream: one connection, one request at a time, its body read as it
    arrives. geventhttpclient (FastHttpUser) rather than requests (HttpUser): it parses in C
    (Locust's own documentation says it costs the load generator considerably less CPU; not
    measured here), and its socket can be read one `recv` at a time; requests'
    `iter_content(None)` hands a body with a Content-Length over in one piece once it has all
    arrived, which would put `/standard`'s first byte at its end."""

    abstract = False
    concurrency = 1
    network_timeout = REQUEST_TIMEOUT
    connection_timeout = CONNECT_TIMEOUT

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        # The session fires its own event once the headers are in (its stream=True time); the
        # events this user fires after the body replace it rather than sit beside it.
        self.client.request_event = _Unheard()
        # A class attribute of Locust's agent, set on this user's own instance only.
        self.client.client.valid_response_codes = _EVERY_STATUS  # type: ignore[misc]

    def timed_get(self, spec: RoundSpec) -> RequestTiming:
        query = urlencode(dict(spec.params))
        url = f"{spec.url}?{query}" if query else spec.url
        timer = BodyTimer(spec.format)
        try:
            response = self.client.request(
                "GET", url, stream=True, allow_redirects=False,
                headers={"Accept-Encoding": "identity", **spec.headers},
            )  # fmt: skip
            failure = getattr(response, "error", None)
            if failure is not None:
                raise failure
            coding = response.headers.get("content-encoding") if response.headers else None
            timer.headers(int(response.status_code), str(coding) if coding else None)
            for piece in _arriving(response._response):
                timer.piece(piece)
        # Whatever a request raises is that request's failure, never a lost sample.
        except Exception as failure:
            timing = timer.failed(failure)
        else:
            timing = timer.finished(spec.rows, spec.expected_bytes)
        self._report(timing)
        return timing

    def _report(self, timing: RequestTiming) -> None:
        """Locust's own statistics: time to the first byte and the whole request, in ms."""
        failure = None if timing.ok else RuntimeError(timing.error)
        fire = self.environment.events.request.fire
        if timing.ttfb is not None:
            fire(
                request_type="GET", name="ttfb", response_time=timing.ttfb * 1000,
                response_length=timing.bytes, exception=None, context={},
            )  # fmt: skip
        fire(
            request_type="GET", name="total", response_time=timing.total * 1000,
            response_length=timing.bytes, exception=failure, context={},
        )  # fmt: skip


def _arriving(raw: Any) -> Iterator[bytes]:
    """The body as it arrives: what the parser holds, else one `recv` of the socket.

    geventhttpclient's public `read(n)` waits for `n` bytes, which would hold back a first chunk
    smaller than `n`; its parser buffer and socket are read here instead (the version is pinned
    in the lock file)."""
    try:
        while True:
            if raw._body_buffer:
                piece = bytes(raw._body_buffer)
                del raw._body_buffer[:]
                yield piece
            if raw.message_complete:
                return
            sock = raw._sock
            if sock is None:
                raise ConnectionError("connection released before the body ended")
            data = sock.recv(READ_SIZE)
            if not data:
                raise ConnectionError("connection closed before the body ended")
            raw.feed(data)
    except BaseException:
        # As geventhttpclient's own read does: a half-read connection is not reused.
        raw.release()
        raise


class _Users:
    """The worker's users, kept across rounds so their connections stay alive between them, as
    the comparator's own client keeps its connections."""

    def __init__(self, environment: Environment) -> None:
        self._environment = environment
        self._by_origin: dict[str, list[StreamUser]] = {}

    def take(self, url: str, count: int) -> list[StreamUser]:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        users = self._by_origin.setdefault(origin, [])
        while len(users) < count:
            # Locust's own runners set the class's host the same way before spawning users.
            StreamUser.host = origin
            users.append(StreamUser(self._environment))
        return users[:count]


def _stream(user: StreamUser, spec: RoundSpec) -> list[RequestTiming]:
    """One stream of a round: its requests one after another, each as soon as the last ended."""
    return [user.timed_get(spec) for _ in range(spec.requests_per_stream)]


def _on_wall_clock(timing: RequestTiming, offset: float) -> RequestTiming:
    if timing.sent is None:
        return timing
    return dataclasses.replace(timing, sent=timing.sent + offset)


def run_round(runner: WorkerRunner, users: _Users, identity: Identity, job: dict[str, Any]) -> None:
    spec = spec_from_wire(job["spec"])
    chosen = users.take(spec.url, int(job["share"]))
    # A start on the master's wall clock: the same instant for every worker on one machine, and
    # within clock sync of it elsewhere.
    gevent.sleep(min(max(float(job["start_at"]) - time.time(), 0.0), LONGEST_START_WAIT))
    cpu, wall, monotonic = time.process_time(), time.time(), time.perf_counter()
    sending = [gevent.spawn(_stream, user, spec) for user in chosen]
    gevent.joinall(sending)
    ended_wall, ended = time.time(), time.perf_counter()
    # `sent` on the wall clock: workers on other machines share no monotonic clock with this one,
    # and a round's requests are set against each other by it (compare/streams.py).
    to_wall = ended_wall - ended
    timings = [
        timing_to_wire(_on_wall_clock(timing, to_wall))
        for stream in sending
        for timing in stream.value
    ]
    runner.send_message(
        SAMPLES,
        {
            "round": job["round"],
            "requests": timings,
            "cpu_seconds": time.process_time() - cpu,
            "wall": [wall, ended_wall],
            "monotonic": [monotonic, ended],
            "load": machine_load(),
            "host": identity.host,
            "pid": identity.pid,
        },
    )


def main(argv: Sequence[str] | None = None, identity: Identity | None = None) -> NoReturn:
    """The worker's command line; `identity` stands in for this checkout's (tests)."""
    parser = argparse.ArgumentParser(
        prog="streambench load-worker",
        description="Join a streambench Locust master and send the rounds it announces.",
    )
    parser.add_argument("--master", required=True, help="the master's HOST:PORT")
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=CONNECT_SECONDS,
        help=f"seconds to wait for the master (default: {CONNECT_SECONDS:.0f})",
    )
    args = parser.parse_args(argv)
    try:
        host, port = parse_address(args.master)
    except ValueError as error:
        _fail(f"--master: {error}")
    identity = identity or Identity.here()
    environment = Environment(user_classes=[StreamUser])
    admitted: AsyncResult = AsyncResult()
    try:
        with gevent.Timeout(args.connect_timeout):
            runner = environment.create_worker_runner(host, port)
            users = _Users(environment)
            runner.register_message(WELCOME, lambda environment, msg: admitted.set(None))
            runner.register_message(
                REFUSED, lambda environment, msg: admitted.set(str(msg.data["reason"]))
            )
            runner.register_message(
                ROUND,
                lambda environment, msg: gevent.spawn(run_round, runner, users, identity, msg.data),
            )
            runner.send_message(HELLO, identity.to_dict())
            refused = admitted.get()
    except gevent.Timeout:
        _fail(
            f"cannot reach the master at {host}:{port} within {args.connect_timeout:g} s "
            "(is `streambench compare --load locust` running there, and the port open?)"
        )
    if refused:
        _fail(f"refused by the master: {refused}")
    print(f"streambench load-worker: joined the master at {host}:{port}", file=sys.stderr)
    # Until the master says quit (Locust's runner ends its greenlets) or stops answering
    # heartbeats (Locust's worker gives up after a minute).
    runner.greenlet.join()
    sys.exit(0)


def _fail(line: str) -> NoReturn:
    print(f"streambench load-worker: error: {line}", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
    main()
