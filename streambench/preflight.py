"""What a command checks before it starts its work, so that a failure is one line, not a traceback.

A command raises `CommandFailed` with a sentence naming what is wrong and what to do; `main`
prints it as `streambench <command>: <sentence>` and exits 1.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable

from shared.settings import redact_url


class CommandFailed(Exception):
    """A failure the user can act on: printed as one line, exit status 1."""


def require_database(url: str) -> None:
    """Raise `CommandFailed` unless the database at `url` answers."""
    from shared.database import database_problem

    problem = database_problem(url)
    if problem is not None:
        raise CommandFailed(
            f"cannot reach the database at {redact_url(url)} ({problem}); start it, fix "
            "DATABASE_URL or --database-url, or unset both to use the embedded PostgreSQL"
        )


def require_free_port(host: str, port: int) -> None:
    """Raise `CommandFailed` if nothing can listen on (host, port), e.g. it is taken."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # As the servers bind: a port in TIME_WAIT is free, one in use is not.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        reason = error.strerror or str(error)
        raise CommandFailed(
            f"cannot listen on {host}:{port}: {reason}; pick another --port or stop what uses it"
        ) from None


def announce_when_listening(
    host: str, port: int, say: Callable[[str], None], patience: float = 120.0
) -> threading.Thread:
    """Say where the server listens once it accepts connections, whichever server it is."""
    target = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
    shown = f"[{host}]" if ":" in host else host

    def wait() -> None:
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((target, port), timeout=0.5):
                    say(f"listening on http://{shown}:{port}")
                    return
            except OSError:
                time.sleep(0.05)

    watcher = threading.Thread(target=wait, name="streambench-announce", daemon=True)
    watcher.start()
    return watcher


def print_line(command: str) -> Callable[[str], None]:
    def say(text: str) -> None:
        print(f"streambench {command}: {text}", file=sys.stderr, flush=True)

    return say
