"""The contract on Django (ASGI), for any ASGI server.

Django wants process-wide settings and a URLconf module; a user here creates neither: the
settings are configured in code the first time an app is built (no middleware; this package as
the one app, for the model of the port's own data layer, `django-orm`, with Django's database
settings for it: impl_django/orm.py; on a shared layer Django never opens a connection), and each
app brings its own URLconf object, which its handler puts on every request (`request.urlconf`,
which Django's resolver prefers to `ROOT_URLCONF`), so two apps in one process do not share
routes. The settings are the process's, and so is Django's database: one per process.

`/chunked` is a `StreamingHttpResponse` over the async iterator of `shared.asgi.iterated_body`,
and `/standard` one over its pieces behind their `Content-Length` (never joined); the lifespan (Django refuses the `lifespan` scope) and the request id are the shared pure ASGI
ones, in front of Django.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

import django
from django.conf import settings as django_settings
from django.core.handlers.asgi import ASGIHandler, ASGIRequest
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.urls import path

from shared.answers import Answer, refusal, server_error
from shared.asgi import AppResources, ASGIApp, RequestIdMiddleware, WithLifespan, endpoints
from shared.asgi.compression import Compressing, NegotiatedCoding
from shared.asgi.iterated_body import CutShort, iterate_body
from shared.asgi.request_id import request_id_of
from shared.contract import ContractError, method_not_allowed, not_found
from shared.settings import Settings

from .database import DATABASE, database_settings
from .port import PORT

logger = logging.getLogger("streambench.django")

View = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


class _ClosingStreamingResponse(StreamingHttpResponse):
    """A `StreamingHttpResponse` that closes its iterator when Django closes the response's.

    Django sends from `aclosing(aiter(response))`, but its two wrappers around the iterator
    (`__aiter__`, `streaming_content`) only loop over it: cancelled while it waits in `send`
    (a client gone on Granian or Hypercorn, whose `send` blocks on flow control), the iterator
    is left suspended with its `COPY` or cursor open until the garbage collector finds it.
    """

    def __init__(self, chunks: AsyncGenerator[bytes, None], status: int) -> None:
        super().__init__(chunks, status=status)
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async with contextlib.aclosing(self._chunks):
            async for chunk in self._chunks:
                yield chunk


def create_app(settings: Settings) -> ASGIApp:
    _configure_django(settings)
    resources = AppResources(settings, PORT.layers)

    async def standard(request: HttpRequest) -> HttpResponseBase:
        body = await endpoints.standard(resources, *inputs(request))
        # Streamed from its pieces behind their Content-Length: one `HttpResponse` would join
        # them into a second copy of the body.
        response = _ClosingStreamingResponse(body.pieces(), status=body.status)
        _set_headers(response, body.headers)
        return response

    async def chunked(request: HttpRequest) -> HttpResponseBase:
        body = await endpoints.open_chunked(resources, *inputs(request))
        chunks = iterate_body(
            body,
            request_id=_request_id(request),
            logger=logger,
            open_streams=resources.open_streams,
        )
        response = _ClosingStreamingResponse(chunks, status=200)
        _set_headers(response, body.headers)
        return response

    async def healthz(request: HttpRequest) -> HttpResponseBase:
        return send(await endpoints.healthz(resources))

    async def show_metrics(request: HttpRequest) -> HttpResponseBase:
        return send(endpoints.show_metrics(resources))

    async def reset_peak(request: HttpRequest) -> HttpResponseBase:
        return send(endpoints.reset_peak(resources))

    routes = [
        path("standard", _only("GET", standard)),
        path("chunked", _only("GET", chunked)),
        path("healthz", _only("GET", healthz)),
    ]
    if settings.metrics:
        routes += [
            path("metrics", _only("GET", show_metrics)),
            path("metrics/reset-peak", _only("POST", reset_peak)),
        ]
    urlconf = _URLConf(routes)
    handler = _Handler(urlconf)
    # Both codings are the shared compressor, in front of Django. Django's own GZipMiddleware
    # streams an async response by making each chunk a gzip member of its own (with up to 100
    # random bytes in each member's header); httpx 0.28 decodes only a gzip body's first member
    # and returns the rest of it as if it were not there: this suite's own httpx-based tests got
    # a truncated `/chunked` body from it, with no error. One member per body, flushed per chunk.
    coded = Compressing(Compressing(CutShortGuard(handler), coding="gzip"), coding="zstd")
    return WithLifespan(RequestIdMiddleware(NegotiatedCoding(coded)), resources)


class _URLConf:
    """A URLconf as an object (Django's resolver takes a module or anything with its
    attributes, and caches resolvers by it: hashable, by identity)."""

    def __init__(self, urlpatterns: list[Any]) -> None:
        self.urlpatterns = urlpatterns
        self.handler404 = _not_found
        self.handler500 = _server_error


class _Handler(ASGIHandler):
    """Django's ASGI handler with this app's URLconf on every request."""

    def __init__(self, urlconf: Any) -> None:
        super().__init__()
        self.urlconf = urlconf

    @property
    def routes(self) -> list[Any]:
        return list(self.urlconf.urlpatterns)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        request.urlconf = self.urlconf
        return await super().get_response_async(request)


class CutShortGuard:
    """Ends the connection without the last body message when the body was cut on purpose.

    A database failure mid-stream must leave the body without its terminating chunk, and an
    ASGI app can only do that by not sending the last message. Django sends it whenever the
    iterator ends, and an exception from the iterator leaves Django (django/core/handlers/asgi.py,
    `handle`: the task's exception is re-raised) to reach the server, which would log a
    traceback. The iterator logs the failure and raises `CutShort`; here it stops, and the
    server sees an app that returned without completing the response.
    """

    def __init__(self, app: _Handler) -> None:
        self.app = app

    @property
    def routes(self) -> list[Any]:
        return self.app.routes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        with contextlib.suppress(CutShort):
            await self.app(scope, receive, send)


def _configure_django(settings: Settings) -> None:
    if django_settings.configured:
        return
    django_settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["*"],
        # Every app puts its own URLconf on its requests; this one routes nothing.
        ROOT_URLCONF=_URLConf([]),
        MIDDLEWARE=[],
        # This package, for its models (the `django-orm` layer's `Message`).
        INSTALLED_APPS=["impl_django"],
        # Read by nothing until the `django-orm` layer opens its pool.
        DATABASES={DATABASE: database_settings(settings)} if settings.database_url else {},
        # Logging is the server's (the contract's format); Django's would replace handlers.
        LOGGING_CONFIG=None,
        # Timestamps in UTC, aware, as asyncpg gives them: the bodies' bytes are the same.
        TIME_ZONE="UTC",
        USE_TZ=True,
        # The contract ignores unknown query parameters, however many: Django refuses more than
        # 1,000 fields with its HTML 400 and a logged traceback (`TooManyFieldsSent`). The head
        # limits (8192 bytes of target) bound them on every port.
        DATA_UPLOAD_MAX_NUMBER_FIELDS=None,
        # Required by Django, used by nothing here (no sessions, no signing).
        SECRET_KEY=secrets.token_urlsafe(32),
    )
    django.setup(set_prefix=False)
    # Django logs every 4xx answer at WARNING ("Bad Request: /standard", django/utils/log.py,
    # `log_response`): a refusal is the contract working, not news. Its 500s stay at ERROR.
    logging.getLogger("django.request").setLevel(logging.ERROR)


def _only(method: str, view: View) -> View:
    async def only(request: HttpRequest) -> HttpResponseBase:
        if request.method != method:
            return send(refusal(method_not_allowed(method)))
        try:
            return await view(request)
        except ContractError as error:
            return send(refusal(error))

    only.__name__ = view.__name__
    only.allowed_method = method  # type: ignore[attr-defined]  # for the route listing
    return only


def inputs(request: HttpRequest) -> tuple[list[tuple[str, str]], str | None, str | None]:
    query = [(key, value) for key, values in request.GET.lists() for value in values]
    return query, request.headers.get("accept"), request.headers.get("authorization")


def _request_id(request: HttpRequest) -> str:
    assert isinstance(request, ASGIRequest)
    return request_id_of(request.scope)


def send(answer: Answer) -> HttpResponse:
    response = HttpResponse(answer.body, status=answer.status)
    _set_headers(response, answer.headers)
    # Django leaves Content-Length to CommonMiddleware, which a benchmark port does without.
    response["Content-Length"] = str(len(answer.body))
    return response


# Django calls its error handlers synchronously (django/core/handlers/exception.py,
# `response_for_exception` runs in `sync_to_async`): plain functions, not coroutines.
def _not_found(request: HttpRequest, exception: Exception) -> HttpResponseBase:
    return send(refusal(not_found()))


def _server_error(request: HttpRequest) -> HttpResponseBase:
    # Django has logged the traceback already ("django.request", "Internal Server Error: ...").
    return send(server_error())


def _set_headers(response: HttpResponseBase, headers: dict[str, str]) -> None:
    del response["Content-Type"]  # Django's text/html default; the contract says its own
    for name, value in headers.items():
        response[name] = value
