"""`--load`, and the options of the Locust engine: how many local workers, where the master
listens and how many workers it waits for. Pure: parsing and checking only, nothing is started
here."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from .engines import DEFAULT_ENGINE, ENGINES
from .processes import default_client_processes

__all__ = [
    "WORKER_WAIT_SECONDS",
    "LoadOptionError",
    "LocustOptions",
    "add_load_arguments",
    "load_choice",
]

# How long a run waits for the workers it expects (remote ones are started by hand).
WORKER_WAIT_SECONDS = 120.0
DEFAULT_BIND = ("127.0.0.1", 0)


class LoadOptionError(ValueError):
    """A load option the run cannot use; the message says what to give instead."""


@dataclass(frozen=True)
class LocustOptions:
    """`--load locust`'s processes. `workers`: workers to start on this machine; `expect`:
    workers to wait for, local and remote; `master_bind`: where the master listens (port 0:
    any free one)."""

    workers: int = 0
    expect: int = 0
    master_bind: tuple[str, int] = DEFAULT_BIND
    wait_seconds: float = WORKER_WAIT_SECONDS


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--load",
        choices=list(ENGINES),
        help=f"what sends the rounds, the client ceiling's too (default: {DEFAULT_ENGINE}); locust: a Locust master "
        "and workers, local or on other machines (the README's distributed command)",
    )
    parser.add_argument(
        "--workers",
        help=f"--load locust: workers to start on this machine (default: half the cores, "
        f"{default_client_processes()} here); 0: only remote ones (`streambench load-worker`)",
    )
    parser.add_argument(
        "--master-bind",
        metavar="HOST:PORT",
        help="--load locust: where the master listens for workers (default: 127.0.0.1 and a "
        "free port; 0.0.0.0:PORT for workers on other machines)",
    )
    parser.add_argument(
        "--expect-workers",
        help=f"--load locust: workers to wait for, up to {WORKER_WAIT_SECONDS:.0f} s, before "
        "measuring (default: --workers)",
    )


def load_choice(args: argparse.Namespace, paced: bool) -> tuple[str, LocustOptions]:
    """The engine `--load` names, and the Locust engine's options (defaults for another)."""
    name = getattr(args, "load", None) or DEFAULT_ENGINE
    raw_workers = getattr(args, "workers", None)
    raw_bind = getattr(args, "master_bind", None)
    raw_expect = getattr(args, "expect_workers", None)
    if name != "locust":
        given = [
            option
            for option, value in (
                ("--workers", raw_workers),
                ("--master-bind", raw_bind),
                ("--expect-workers", raw_expect),
            )
            if value is not None
        ]
        if given:
            raise LoadOptionError(f"{', '.join(given)}: only with --load locust")
        return name, LocustOptions()
    if getattr(args, "client_processes", None) is not None:
        raise LoadOptionError(
            "--client-processes is the processes engine's; with --load locust give --workers"
        )
    if paced:
        raise LoadOptionError(
            "--load locust reads at full speed only: leave out --read-rate, or use the default "
            "engine for slow readers"
        )
    workers = (
        default_client_processes() if raw_workers is None else _count(raw_workers, "--workers")
    )
    expect = workers if raw_expect is None else _count(raw_expect, "--expect-workers")
    if expect < 1:
        raise LoadOptionError(
            "--workers 0 starts no worker here: give --expect-workers N, the workers started "
            "elsewhere with `streambench load-worker --master HOST:PORT`"
        )
    if expect < workers:
        raise LoadOptionError(f"--expect-workers {expect} is fewer than --workers {workers}")
    bind = DEFAULT_BIND
    if raw_bind is not None:
        bind = _address(raw_bind)
    return name, LocustOptions(workers, expect, bind)


def _count(raw: str, option: str) -> int:
    try:
        value = int(str(raw).replace("_", ""))
    except ValueError:
        raise LoadOptionError(f"{option}: {raw!r} is not a whole number") from None
    if value < 0:
        raise LoadOptionError(f"{option}: {value} is below 0")
    return value


def _address(raw: str) -> tuple[str, int]:
    from .locust.protocol import parse_address

    try:
        return parse_address(raw, default_host=DEFAULT_BIND[0])
    except ValueError as error:
        raise LoadOptionError(f"--master-bind: {error}") from None
