"""A deliberately broken port for the comparator's verification tests, served by the real CLI
(`STREAMBENCH_EXTRA_PORTS=broken=tests.broken_port:PORT`, then `python -m streambench serve broken`).

It is the aiohttp port with two faults: /standard drops the body's last row (its Content-Length
stays consistent with the shortened body), and /chunked answers buffered, with Content-Length.
"""

from __future__ import annotations

from aiohttp import web

from impl_aiohttp.app import Handler, create_app, standard
from shared.ports import PortDescriptor
from shared.settings import Settings

PORT = PortDescriptor(
    name="broken",
    framework="aiohttp",
    factory="tests.broken_port:create_broken_app",
    interface="aiohttp",
    default_server="aiohttp",
    details="the aiohttp port with a dropped row and an unchunked /chunked",
)


@web.middleware
async def _break(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path == "/chunked":
        return await standard(request)
    response = await handler(request)
    if (
        request.path == "/standard"
        and response.status == 200
        and isinstance(response, web.Response)
    ):
        body = response.body
        assert isinstance(body, bytes)
        kept = body.rstrip(b"\n").rfind(b"\n") + 1
        response.body = body[:kept]
    return response


def create_broken_app(settings: Settings) -> web.Application:
    app = create_app(settings)
    app.middlewares.append(_break)
    return app
