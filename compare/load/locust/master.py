"""The Locust master, a child process of the comparator: `python -m compare.load.locust.master`.

It binds Locust's master runner (its ZeroMQ socket, port 0 for any free one), admits workers whose
streambench matches its own, then runs rounds as the comparator asks over stdin, one JSON object
a line, and answers on stdout the same way: each round's share announced to every worker with a
common start, the workers' raw samples merged into one round. A worker that leaves mid-round (no
heartbeat for Locust's three seconds) costs the round its share, each such request counted as a
failure that names the worker; later rounds go on with the workers left.

Locust monkey-patches the standard library for gevent when imported: this module is the main
module of a process of its own, never imported by the asyncio comparator.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, TextIO
from urllib.parse import urlsplit

import gevent
import locust  # noqa: F401  (patches the standard library for gevent before anything else runs)
from gevent.fileobject import FileObjectPosix
from locust.env import Environment
from locust.runners import STATE_MISSING, MasterRunner

from ...clients.base import REQUEST_TIMEOUT
from ..processes import shares
from ..wire import timing_to_wire
from .protocol import (
    HELLO,
    REFUSED,
    ROUND,
    SAMPLES,
    WELCOME,
    Identity,
    parse_address,
    refusal,
)

__all__ = ["START_DELAY", "main"]

# Announce a round this far ahead of its start: every worker has its message before it begins.
START_DELAY = 0.1
# How often a round under way checks for samples and for workers gone.
POLL_SECONDS = 0.02


@dataclass
class _Round:
    number: int
    shares: dict[str, int]  # worker id -> requests it sends
    samples: dict[str, dict[str, Any]] = field(default_factory=dict)


class Master:
    def __init__(self, runner: MasterRunner, identity: Identity, channel: TextIO) -> None:
        self.runner = runner
        self.identity = identity
        self.channel = channel
        self.admitted: dict[str, Identity] = {}
        self.refused: list[str] = []
        self.current: _Round | None = None
        self.rounds = 0
        runner.register_message(HELLO, self._hello)
        runner.register_message(SAMPLES, self._samples)

    def emit(self, event: str, **data: Any) -> None:
        self.channel.write(json.dumps({"event": event, **data}) + "\n")
        self.channel.flush()

    def _hello(self, environment: Environment, msg: Any) -> None:
        worker = Identity.from_dict(msg.data)
        reason = refusal(self.identity, worker)
        if reason is not None:
            self.refused.append(reason)
            self.runner.send_message(REFUSED, {"reason": reason}, client_id=msg.node_id)
            self.emit("refused", message=reason)
            return
        self.admitted[msg.node_id] = worker
        self.runner.send_message(WELCOME, {}, client_id=msg.node_id)
        self.emit("joined", host=worker.host, pid=worker.pid)

    def _samples(self, environment: Environment, msg: Any) -> None:
        current = self.current
        # Samples of a round already given up on (a worker that came back late) are dropped.
        if current is not None and msg.data["round"] == current.number:
            current.samples[msg.node_id] = msg.data

    def alive(self) -> list[str]:
        """Admitted workers Locust still hears from, in the order they joined."""
        return [
            worker
            for worker in self.admitted
            if (node := self.runner.clients.get(worker)) is not None and node.state != STATE_MISSING
        ]

    def wait_for(self, expected: int, seconds: float) -> str | None:
        """None once `expected` workers joined; else why not, in a line. A refused worker ends
        the wait as soon as the refusals leave too few to come: its operator has a version to
        fix, not two minutes to wait."""
        deadline = time.monotonic() + seconds
        while len(self.alive()) < expected:
            late = time.monotonic() > deadline
            if late or len(self.alive()) + len(self.refused) >= expected:
                within = f" within {seconds:g} s" if late else ""
                refused = f"; refused: {'; '.join(self.refused)}" if self.refused else ""
                return f"{len(self.alive())} of {expected} load worker(s) joined{within}{refused}"
            gevent.sleep(0.05)
        return None

    def run_round(self, job: dict[str, Any]) -> dict[str, Any]:
        spec = job["spec"]
        concurrency = int(spec["concurrency"])
        workers = self.alive()
        if _loopback(spec["url"]):
            # A server on this machine's loopback (the in-memory one the client ceiling reads,
            # a local contender) answers only workers on this machine.
            here = socket.gethostname()
            workers = [w for w in workers if self.admitted[w].host == here]
            if not workers and self.admitted:
                return {
                    "error": f"{spec['url']} listens on this machine's loopback and no load "
                    "worker runs here: start one here too (--workers 1), and measure servers "
                    "the other workers can reach (--target NAME=URL)"
                }
        if not workers:
            failed = _failure("no load worker left", spec)
            count = concurrency * _per_stream(spec)
            return {"requests": [failed] * count, "seconds": 0.0, "workers": [], "lost": []}
        # As even as the processes engine splits them: a round of 5 on 2 is 3 and 2.
        split = dict(zip(workers, shares(concurrency, len(workers)), strict=True))
        shares_of = {w: n for w, n in split.items() if n}
        self.rounds += 1
        current = self.current = _Round(self.rounds, shares_of)
        start_at = time.time() + START_DELAY
        for worker, share in shares_of.items():
            self.runner.send_message(
                ROUND,
                {"round": current.number, "spec": spec, "share": share, "start_at": start_at},
                client_id=worker,
            )
        deadline = time.monotonic() + START_DELAY + REQUEST_TIMEOUT * _per_stream(spec)
        lost: dict[str, str] = {}
        while True:
            waiting = [w for w in shares_of if w not in current.samples and w not in lost]
            if not waiting:
                break
            alive = set(self.alive())
            late = time.monotonic() > deadline
            for worker in waiting:
                if worker not in alive or late:
                    who = self.admitted[worker]
                    why = "left mid-round" if worker not in alive else "sent nothing in time"
                    lost[worker] = f"worker {who.host} pid {who.pid} {why}"
            gevent.sleep(POLL_SECONDS)
        self.current = None
        return self._merge(current, lost, spec)

    def _merge(self, current: _Round, lost: dict[str, str], spec: dict[str, Any]) -> dict[str, Any]:
        requests: list[dict[str, Any]] = []
        reported = [current.samples[w] for w in current.shares if w in current.samples]
        for worker, share in current.shares.items():
            if worker in current.samples:
                requests.extend(current.samples[worker]["requests"])
            else:
                requests.extend([_failure(lost[worker], spec)] * (share * _per_stream(spec)))
        # One clock for the round's span: perf_counter is the machine's monotonic clock, the
        # same in every process here; workers elsewhere can only be set side by side by their
        # wall clocks, as far as those are in sync.
        here = socket.gethostname()
        clock = "monotonic" if all(s["host"] == here for s in reported) else "wall"
        seconds = (
            max(s[clock][1] for s in reported) - min(s[clock][0] for s in reported)
            if reported
            else 0.0
        )
        return {
            "requests": requests,
            "seconds": seconds,
            "clock": clock,
            "workers": [
                {
                    "host": s["host"],
                    "pid": s["pid"],
                    "cpu_seconds": s["cpu_seconds"],
                    "load": s["load"],
                }
                for s in reported
            ],
            "lost": list(lost.values()),
        }


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _per_stream(spec: dict[str, Any]) -> int:
    return int(spec.get("requests_per_stream", 1))


def _failure(reason: str, spec: dict[str, Any]) -> dict[str, Any]:
    from ...clients import RequestTiming

    return timing_to_wire(RequestTiming(False, reason, None, None, None, 0.0, 0, 0, 0))


def main(argv: Sequence[str] | None = None) -> NoReturn:
    parser = argparse.ArgumentParser(prog="python -m compare.load.locust.master")
    parser.add_argument("--bind", required=True, help="HOST:PORT for the workers (port 0: any)")
    parser.add_argument("--expect", type=int, required=True, help="workers to wait for")
    parser.add_argument("--wait", type=float, required=True, help="seconds to wait for them")
    args = parser.parse_args(argv)
    # stdout is the comparator's channel alone: anything else that prints (Locust does, here
    # and there) goes to stderr, the master's log.
    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    host, port = parse_address(args.bind)
    environment = Environment(user_classes=[])
    runner = environment.create_master_runner(master_bind_host=host, master_bind_port=port)
    master = Master(runner, Identity.here(), channel)
    master.emit("listening", host=host, port=runner.server.port)
    missing = master.wait_for(args.expect, args.wait)
    if missing is not None:
        master.emit("error", message=missing)
        _leave(runner, 1)
    master.emit(
        "ready",
        workers=[
            {"host": w.host, "pid": w.pid} for w in (master.admitted[i] for i in master.alive())
        ],
    )
    commands = FileObjectPosix(sys.stdin.fileno(), "rb", close=False)
    for line in commands:
        command = json.loads(line)
        if command["cmd"] == "round":
            master.emit("round", id=command["id"], **master.run_round(command))
        elif command["cmd"] == "close":
            break
    # stdin closed or asked to: the comparator is done (or gone).
    _leave(runner, 0)


def _leave(runner: MasterRunner, status: int) -> NoReturn:
    runner.quit()  # tells every worker to quit
    sys.exit(status)


if __name__ == "__main__":
    main()
