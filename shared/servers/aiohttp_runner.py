"""aiohttp's own server, run the way the contract wants it rather than the way `web.run_app` does.

It serves any aiohttp `Application`, built in the serving process; `shared.servers.aiohttp.serve`
starts it on uvloop.

- Head limits (shared/limits.py): the C parser's own limits refuse an oversized request line or
  field while it arrives (`max_line_size` counts the target alone: `cb_on_url` in
  aiohttp/_http_parser.pyx), the rest is checked exactly before the app sees the request, and
  both answer 414 or 431 where aiohttp would answer 400 to everything.
- HTTP versions: the C parser refuses HTTP/1.2 or HTTP/3.0 as a bad status line and passes
  HTTP/0.9 and HTTP/2.0 on, which aiohttp answers in the request's version ("HTTP/2.0 200", or a
  500 from a chunked response). Any version but 1.0 and 1.1 is answered 505 as a refused head.
- One WARNING line per request the parser refuses: aiohttp logs each with a traceback at ERROR
  (web_protocol.py, `RequestHandler.handle_error`), which lets any client flood the log.
- Head timeout: aiohttp's keep-alive timer runs from the connection's start and from the end of
  each response and closes a connection still waiting for its request (`_process_keepalive`),
  so `keepalive_timeout` set to the head timeout is both.
- Shutdown within the grace: `run_app` applies `shutdown_timeout` twice to a handler stuck on a
  slow reader (once waiting, once after cancelling it: `RequestHandler.shutdown`), and the
  cancellation lands wherever the handler is, a database fetch included. Here the server stops
  accepting, lets responses run until the plan's `cut_after`, then resets what is still open,
  which the handler sees as a client gone away; only then does aiohttp clean up.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadStatusLine, HttpProcessingError, LineTooLong

from shared.limits import (
    HTTP_VERSIONS,
    LLHTTP_UNKNOWN_VERSION,
    MAX_HEADER_BYTES,
    MAX_HEADER_FIELDS,
    MAX_TARGET_BYTES,
    HeadRefused,
    check_head,
    header_section_too_large,
    log_malformed,
    target_too_long,
    too_many_fields,
    version_not_supported,
)
from shared.settings import Settings
from shared.shutdown import ShutdownPlan, log_cut
from shared.transport import reset

from .registry import LISTEN_BACKLOG

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]

# The parser's wording when a request has more fields than `max_headers` (_http_parser.pyx).
_TOO_MANY_HEADERS = "Too many headers received"


def handler_options(settings: Settings) -> dict[str, Any]:
    """What every connection's `RequestHandler` is created with."""
    return {
        # Access logging costs a log line per request and distorts the figures: off unless asked.
        "access_log": logging.getLogger("aiohttp.access") if settings.access_log else None,
        "keepalive_timeout": settings.head_timeout,
        "max_line_size": MAX_TARGET_BYTES,
        # No single field may be larger than the whole section; the section is checked whole
        # once parsed (`ContractServer._checked`).
        "max_field_size": MAX_HEADER_BYTES,
        "max_headers": MAX_HEADER_FIELDS,
    }


async def serve_app(
    app: web.Application,
    settings: Settings,
    host: str,
    port: int,
    on_listening: Callable[[], None] = lambda: None,
) -> bool:
    """Serve `app` until SIGTERM or SIGINT, then stop within the grace. True if it was SIGINT."""
    plan = ShutdownPlan.from_settings(settings)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    stopped_by: list[signal.Signals] = []

    def request_stop(signum: signal.Signals) -> None:
        stopped_by.append(signum)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, request_stop, signum)
    # Half the time left after the cut each: aiohttp waits on a handler twice (see above).
    runner = ContractAppRunner(app, shutdown_timeout=plan.closing / 2, **handler_options(settings))
    await runner.setup()
    try:
        # The common listen queue (registry.LISTEN_BACKLOG); aiohttp's default is 128.
        await web.TCPSite(runner, host, port, backlog=LISTEN_BACKLOG).start()
        on_listening()
        await stop.wait()
        await _drain(runner, plan)
    finally:
        await runner.cleanup()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    return signal.SIGINT in stopped_by


async def _drain(runner: web.AppRunner, plan: ShutdownPlan) -> None:
    """Stop accepting, let in-flight responses finish until the cut, then reset what is left."""
    for site in list(runner.sites):
        await site.stop()
    server = runner.server
    if not isinstance(server, ContractServer):
        return
    # Idle keep-alive connections stop waiting for a request; the others close after theirs.
    server.pre_shutdown()
    in_flight = set(server.in_flight)
    if in_flight:
        await asyncio.wait(in_flight, timeout=plan.cut_after)
    for task, request in list(server.in_flight.items()):
        if not task.done() and request.transport is not None:
            log_cut(request.transport.get_extra_info("peername"), plan.cut_after)
            reset(request.transport)
    # The cut handlers notice at their next write and close their streams (shielded).
    if server.in_flight:
        await asyncio.wait(set(server.in_flight), timeout=plan.closing / 2)


class ContractAppRunner(web.AppRunner):
    """An `AppRunner` whose server refuses heads over the limits and logs parse errors briefly."""

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()
        return ContractServer(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            loop=asyncio.get_running_loop(),
            # What the app put together for its handlers (debug, access logger class, ours).
            **made._kwargs,
        )


class ContractServer(web.Server):
    """Checks each parsed head against the limits before the app sees it, and knows which
    requests are in flight (the task that handles each, its response's writing included)."""

    def __init__(self, handler: Handler, **kwargs: Any) -> None:
        super().__init__(self._checked, **kwargs)
        self._app_handler = handler
        self.in_flight: dict[asyncio.Task[Any], web.BaseRequest] = {}
        self._handler_kwargs = {
            k: v for k, v in kwargs.items() if k not in ("request_factory", "handler_cancellation")
        }
        self._handler_kwargs.pop("loop", None)

    def __call__(self) -> web.RequestHandler:
        return ContractRequestHandler(self, loop=asyncio.get_running_loop(), **self._handler_kwargs)

    async def _checked(self, request: web.BaseRequest) -> web.StreamResponse:
        try:
            target = request.raw_path.encode("utf-8", "surrogateescape")
            check_head(len(target), request.raw_headers)
        except HeadRefused as refused:
            refused.log(request.remote)
            return _refusal_response(refused)
        # aiohttp runs each request in a task of its own that also writes the response out.
        task = asyncio.current_task()
        if task is not None:
            self.in_flight[task] = request
            task.add_done_callback(self._finished)
        return await self._app_handler(request)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self.in_flight.pop(task, None)


class ContractRequestHandler(web.RequestHandler):
    def __init__(self, manager: web.Server, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        # The one place this reaches into aiohttp: see `_StopAtFirstRefusal`.
        self._parser = _StopAtFirstRefusal(self._parser)  # type: ignore[assignment]

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if not isinstance(exc, HttpProcessingError):
            # A bug, not a client's fault: aiohttp's answer and its traceback.
            return super().handle_error(request, status, exc, message)
        refused = _as_head_refusal(exc)
        if refused is not None:
            refused.log(request.remote)
            return _refusal_response(refused)
        log_malformed(request.remote, exc.message or type(exc).__name__)
        response = web.Response(
            status=status, text=message or exc.message, content_type="text/plain"
        )
        response.force_close()
        return response


class _StopAtFirstRefusal:
    """The connection's parser, fed nothing more once it has refused a request.

    aiohttp goes on feeding a parser that has failed, and each later read fails again with an
    error that quotes the whole read (`feed_data` in aiohttp/_http_parser.pyx) and is queued
    until the connection closes: a client sending megabytes of one header line had the server
    keep a multiple of them. The refusal is answered and the connection closed anyway. A
    request the parser passes in a version not spoken here is refused the same way.
    """

    def __init__(self, parser: Any) -> None:
        self._parser = parser
        self._refused = False

    def feed_data(self, data: bytes) -> tuple[Any, bool, bytes]:
        if self._refused:
            return (), False, b""
        try:
            result: tuple[Any, bool, bytes] = self._parser.feed_data(data)
        except HttpProcessingError:
            self._refused = True
            raise
        for message, _ in result[0]:
            version = getattr(message, "version", None)
            if version is not None and f"{version.major}.{version.minor}" not in HTTP_VERSIONS:
                # Refused as a parse error: aiohttp then answers in HTTP/1.x, not in that version.
                self._refused = True
                raise BadStatusLine(error=LLHTTP_UNKNOWN_VERSION)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parser, name)


def _as_head_refusal(error: HttpProcessingError) -> HeadRefused | None:
    if isinstance(error, LineTooLong):
        limit = error.args[1] if len(error.args) > 1 else None
        return target_too_long() if limit == MAX_TARGET_BYTES else header_section_too_large()
    if error.message == _TOO_MANY_HEADERS:
        return too_many_fields()
    if LLHTTP_UNKNOWN_VERSION in error.message:
        return version_not_supported()
    return None


def _refusal_response(refused: HeadRefused) -> web.Response:
    answer = refused.answer()
    response = web.Response(status=answer.status, body=answer.body, headers=answer.headers)
    response.force_close()
    return response
