"""uvicorn's httptools protocol with what the contract asks of a server and uvicorn lacks.

uvicorn lets `Config(http=...)` name the protocol class, so every ASGI port served by uvicorn
gets these by passing `http=contract_protocol(settings)`:

- Head limits (shared/limits.py): httptools has none, and its parser keeps an unfinished header
  in memory without bound (httptools/parser/parser.pyx, `_on_header_value`). The target and
  fields are counted as the parser hands them over and an oversized head is answered 414 or 431
  before the app runs; a head still unfinished past `MAX_HEAD_BYTES` is refused unseen.
- HTTP versions: httptools refuses HTTP/1.2 or HTTP/3.0 as malformed and passes HTTP/0.9 and
  HTTP/2.0 on to the app, which uvicorn answers in HTTP/1.1 framing. Any version but 1.0 and 1.1
  is answered 505 before the app runs, like a head over the limits.
- Head timeout: uvicorn arms its keep-alive timer only after a response and cancels it on any
  byte (httptools_impl.py, `data_received`), so a connection that never finishes its head is
  held for ever. Here a head must be complete `head_timeout` seconds after the connection
  opens or its previous response ends; the same figure is the idle keep-alive.
- HTTP/1.0: uvicorn frames every response without Content-Length as chunked (`send`), which
  RFC 9112 section 6.1 forbids for a 1.0 client. Such a body is close-delimited instead, and a
  body cut short ends with a reset, so the client cannot take it for a complete one.
- Shutdown: past its graceful timeout uvicorn cancels the app's task, which logs a traceback out
  of a streaming response (server.py, `shutdown`). Here a response still running at the plan's
  `cut_after` has its connection dropped, which the app sees as a client gone away.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
from uvicorn._types import ASGI3Application, ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from shared.limits import (
    LLHTTP_UNKNOWN_VERSION,
    MAX_HEAD_BYTES,
    HeadCounter,
    HeadRefused,
    check_version,
    header_section_too_large,
    version_not_supported,
)
from shared.limits import log_malformed as log_malformed_request
from shared.settings import Settings
from shared.shutdown import ShutdownPlan, log_cut
from shared.transport import reset

# How long a refused connection is kept, discarding what it sends, before it is closed.
REFUSAL_LINGER_SECONDS = 1.0


def contract_protocol(settings: Settings) -> type[HttpToolsProtocol]:
    """The protocol class for `uvicorn.Config(http=...)`, with `settings`' timeouts."""
    plan = ShutdownPlan.from_settings(settings)

    class ContractProtocol(ContractHttpToolsProtocol):
        head_timeout = settings.head_timeout
        shutdown_plan = plan

    return ContractProtocol


class ContractHttpToolsProtocol(HttpToolsProtocol):
    head_timeout: float = 5.0
    shutdown_plan: ShutdownPlan = ShutdownPlan(10.0)

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        # uvicorn's own idle timer, after a response and until the next byte: the same figure.
        self.timeout_keep_alive = self.head_timeout  # type: ignore[assignment]
        self._head = HeadCounter()
        self._head_bytes = 0  # bytes received since the current head began, at most one read over
        self._in_head = True
        self._head_timer: asyncio.TimerHandle | None = None
        self._cut_timer: asyncio.TimerHandle | None = None
        self._refused = False

    # The connection and its head

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._unset_keepalive_if_required()
        if self._in_head:
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as error:
            if isinstance(error.__context__, HeadRefused):
                self._refuse(error.__context__)
                return
            self._malformed(str(error))
            return
        except httptools.HttpParserError as error:
            if str(error) == LLHTTP_UNKNOWN_VERSION:
                self._refuse(version_not_supported())
            else:
                self._malformed(str(error))
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES:
            self._refuse(header_section_too_large())

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head = HeadCounter()

    def on_url(self, url: bytes) -> None:
        self._head.add_target(url)  # raises HeadRefused: the parser stops, nothing more is kept
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head.add_field(name, value)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        check_version(self.parser.get_http_version())  # raises HeadRefused: the app never runs
        self._in_head = False
        self._head_bytes = 0
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        # The next head starts in the middle of this read: its bytes so far are not counted,
        # which lets it run at most one read past MAX_HEAD_BYTES before the check sees it.
        self._in_head = True
        self._head_bytes = 0
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self._idle():
            self._arm_head_timer()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        super()._start_asgi_task(cycle, _framed_for_version(cycle, app))

    # Refusals

    def _refuse(self, refusal: HeadRefused) -> None:
        self._refused = True
        refusal.log(self.client)
        self.transport.write(refusal.response())
        # Closing at once, with the rest of the head unread, would answer with a reset that can
        # overtake the refusal: say we are done, discard what still comes, close a little later.
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(REFUSAL_LINGER_SECONDS, self.transport.close)

    def _malformed(self, reason: str) -> None:
        self._refused = True
        log_malformed_request(self.client, reason or "invalid HTTP")
        self.send_400_response("Invalid HTTP request received.")

    # Timers

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _idle(self) -> bool:
        # `cycle` is the latest request parsed: a pipelined one queued behind the last response
        # has its head already.
        return self.cycle is None or self.cycle.response_complete

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self._idle():
            return
        # Closed without an answer, as an idle keep-alive connection is: a client this slow (or
        # silent) is not waiting for one.
        if not self.transport.is_closing():
            self.transport.close()

    def _cancel_timers(self) -> None:
        self._cancel_head_timer()
        if self._cut_timer is not None:
            self._cut_timer.cancel()
            self._cut_timer = None

    # Shutdown

    def shutdown(self) -> None:
        super().shutdown()
        if not self.transport.is_closing():
            self._cut_timer = self.loop.call_later(
                self.shutdown_plan.cut_after, self._cut_at_shutdown
            )

    def _cut_at_shutdown(self) -> None:
        self._cut_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            log_cut(self.client, self.shutdown_plan.cut_after)
        # A reset, not a close: the client must not mistake the end for a complete body, and
        # uvicorn reports the lost connection to the app as `http.disconnect`.
        reset(self.transport)


def _framed_for_version(cycle: RequestResponseCycle, app: ASGI3Application) -> ASGI3Application:
    """The app, with a response lacking Content-Length close-delimited for an HTTP/1.0 client."""
    if cycle.scope["http_version"] != "1.0":
        return app

    async def close_delimited(
        scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        delimited_by_close = False

        async def framed_send(message: Any) -> None:
            nonlocal delimited_by_close
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                if b"content-length" not in names and b"transfer-encoding" not in names:
                    # Neither chunked nor a Content-Length: uvicorn writes each body as it is.
                    delimited_by_close = True
                    cycle.chunked_encoding = False
            elif message["type"] == "http.response.body" and delimited_by_close:
                # uvicorn checks every body against the Content-Length left; a close-delimited
                # body has none, so each message is given exactly its own length to spend.
                cycle.expected_content_length = len(message.get("body", b""))
            await send(message)

        try:
            await app(scope, receive, framed_send)
        finally:
            if delimited_by_close and not cycle.response_complete:
                # uvicorn would close the connection, which ends a close-delimited body as if it
                # were complete: reset it instead.
                reset(cycle.transport)

    return close_delimited
