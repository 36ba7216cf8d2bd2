"""What the contract's fixes hook into inside the servers is still there, and still used.

The fixes subclass the servers' classes and override private methods, set attributes the
servers' code reads, and (Hypercorn) replace module globals the servers look up when they build a
connection. A release that renamed or moved any of these would not break a thing: it would skip
the fix without a word. Each test here names what moved.
"""

from __future__ import annotations

import dis
import inspect
import types
from collections.abc import Iterator
from typing import Any

import h11
import hypercorn.asyncio.run
import hypercorn.protocol
import pytest
from aiohttp import web
from granian.server.embed import Server as GranianServer
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.asyncio.worker_context import WorkerContext
from hypercorn.config import Config
from hypercorn.protocol import ProtocolWrapper
from hypercorn.protocol.h11 import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shared.asgi import hypercorn_protocol
from shared.asgi.hypercorn_protocol import (
    ContractH11Protocol,
    ContractTCPServer,
    HypercornChanged,
    _RecordingConnection,
)
from shared.asgi.uvicorn_protocol import ContractHttpToolsProtocol
from shared.servers.aiohttp_runner import ContractAppRunner, ContractRequestHandler, ContractServer

# Every method of a server's class that a fix overrides. A name the server no longer has is an
# override never called; a new override goes here, so that its renaming fails this test too.
OVERRIDES: tuple[tuple[type, type, frozenset[str]], ...] = (
    (
        ContractH11Protocol,
        H11Protocol,
        frozenset({"handle", "_create_stream", "_send_error_response"}),
    ),
    (ContractTCPServer, TCPServer, frozenset({"_close"})),
    (
        _RecordingConnection,
        h11.Connection,
        frozenset({"next_event", "_extract_next_receive_event"}),
    ),
    (
        ContractHttpToolsProtocol,
        HttpToolsProtocol,
        frozenset(
            {
                "connection_made",
                "connection_lost",
                "data_received",
                "on_message_begin",
                "on_url",
                "on_header",
                "on_headers_complete",
                "on_message_complete",
                "on_response_complete",
                "_start_asgi_task",
                "shutdown",
            }
        ),
    ),
    (ContractAppRunner, web.AppRunner, frozenset({"_make_server"})),
    (ContractServer, web.Server, frozenset({"__call__"})),
    (ContractRequestHandler, web.RequestHandler, frozenset({"handle_error"})),
)

# Attributes a fix sets on a server's object, and where it sets them: the server's own code must
# still read each, or the value set is ignored.
READ_ATTRIBUTES: tuple[tuple[type, str, str], ...] = (
    (HttpToolsProtocol, "timeout_keep_alive", "ContractHttpToolsProtocol.__init__"),
    (H11Protocol, "connection", "ContractH11Protocol.__init__"),
    (web.RequestHandler, "_parser", "ContractRequestHandler.__init__"),
    (GranianServer, "workers_kill_timeout", "shared.servers.granian.serve"),
)


def _overrides(ours: type, base: type) -> set[str]:
    return {
        name
        for name, value in vars(ours).items()
        if inspect.isfunction(value) and name != "__init__" and hasattr(base, name)
    }


@pytest.mark.parametrize(
    ("ours", "base", "pinned"), OVERRIDES, ids=[ours.__name__ for ours, _, _ in OVERRIDES]
)
def test_every_overridden_method_is_still_the_servers(
    ours: type, base: type, pinned: frozenset[str]
) -> None:
    where = f"{base.__module__}.{base.__qualname__}"
    gone = sorted(name for name in pinned if not hasattr(base, name))
    assert not gone, (
        f"{where} has no {', '.join(gone)} any more: {ours.__name__}'s override is never "
        f"called, so its fix is silently off ({ours.__module__})"
    )
    unpinned = sorted(_overrides(ours, base) - pinned)
    assert not unpinned, (
        f"{ours.__name__} overrides {', '.join(unpinned)} of {where}: add it to OVERRIDES in "
        "this file, so that a release renaming it fails here"
    )


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from _codes(constant)


def _readers(cls: type, attribute: str) -> list[str]:
    """The methods of `cls` and its bases (the server's own) that read `self.<attribute>`,
    the constructors aside, which only set it."""
    found = []
    for klass in cls.__mro__[:-1]:
        for name, value in vars(klass).items():
            function = value.fget if isinstance(value, property) else value
            function = getattr(function, "__func__", function)
            code = getattr(function, "__code__", None)
            if code is None or name == "__init__":
                continue
            if any(
                i.opname in ("LOAD_ATTR", "LOAD_METHOD") and i.argval == attribute
                for c in _codes(code)
                for i in dis.get_instructions(c)
            ):
                found.append(f"{klass.__qualname__}.{name}")
    return found


@pytest.mark.parametrize(
    ("cls", "attribute", "set_in"),
    READ_ATTRIBUTES,
    ids=[f"{cls.__name__}.{attribute}" for cls, attribute, _ in READ_ATTRIBUTES],
)
def test_every_attribute_a_fix_sets_is_still_read(cls: type, attribute: str, set_in: str) -> None:
    assert _readers(cls, attribute), (
        f"no method of {cls.__module__}.{cls.__qualname__} reads {attribute} any more: what "
        f"{set_in} sets there is ignored"
    )


@pytest.fixture
def hypercorn_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hypercorn's replaced globals, put back after the test whatever it installs."""
    for module, name, _ in hypercorn_protocol.REPLACED:
        if hasattr(module, name):
            monkeypatch.setattr(module, name, getattr(module, name))


def test_hypercorn_builds_its_connections_from_ours(hypercorn_restored: None) -> None:
    for module, name, reader in hypercorn_protocol.REPLACED:
        assert hasattr(module, name), (
            f"{module.__name__}.{name} is gone: hypercorn_protocol.install() replaces it there"
        )
        problem = hypercorn_protocol.replacement_problem(
            module, name, {"H11Protocol": H11Protocol, "TCPServer": TCPServer}[name], reader
        )
        assert problem is None, problem
    hypercorn_protocol.install()
    # The globals Hypercorn's own code reads when it serves, where it reads them.
    assert ProtocolWrapper.__init__.__globals__["H11Protocol"] is ContractH11Protocol
    assert hypercorn.asyncio.run.worker_serve.__globals__["TCPServer"] is ContractTCPServer

    async def send(event: Any) -> None:
        return None

    wrapper = ProtocolWrapper(
        None,  # type: ignore[arg-type]
        Config(),
        WorkerContext(None),
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        False,
        None,
        None,
        send,
    )
    assert type(wrapper.protocol) is ContractH11Protocol, type(wrapper.protocol)


def test_install_refuses_a_hypercorn_without_the_name(
    hypercorn_restored: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(hypercorn.protocol, "H11Protocol")
    with pytest.raises(HypercornChanged, match=r"hypercorn\.protocol has no H11Protocol"):
        hypercorn_protocol.install()
    # Nothing half done: the other name is Hypercorn's still.
    assert getattr(hypercorn.asyncio.run, "TCPServer") is TCPServer  # noqa: B009


def test_install_refuses_a_hypercorn_that_no_longer_looks_the_name_up(
    hypercorn_restored: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    class ConfiguredWrapper:
        def __init__(self, config: Any) -> None:
            self.protocol = config.h11_protocol_class()

    monkeypatch.setattr(hypercorn.protocol, "ProtocolWrapper", ConfiguredWrapper)
    with pytest.raises(
        HypercornChanged,
        match=r"hypercorn\.protocol\.ProtocolWrapper\.__init__ no longer looks up the global "
        "H11Protocol",
    ):
        hypercorn_protocol.install()


def test_the_chunk_size_check_still_finds_what_h11_has_left_of_a_chunk() -> None:
    # _RecordingConnection reads the rest of a chunk from h11's reader (`_reader`,
    # `_bytes_in_chunk`); were they renamed, a chunk size beyond 64 bits would pass unseen.
    head = b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    for size, refused in ((b"ffffffffffffffff", False), (b"10000000000000000", True)):
        connection = _RecordingConnection(h11.SERVER)
        connection.receive_data(head + size + b"\r\nabc")
        assert isinstance(connection.next_event(), h11.Request)
        if refused:
            with pytest.raises(h11.RemoteProtocolError, match="chunk size overflow"):
                connection.next_event()
            assert connection.their_state is h11.ERROR
        else:
            assert connection.next_event() == h11.Data(data=b"abc", chunk_start=True)
