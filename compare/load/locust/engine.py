"""`LocustEngine`: the comparator's side of the Locust engine. It starts the master as a child
process (compare/load/locust/master.py) and the local workers as `streambench load-worker`
processes, then asks the master for each round over the child's stdin and stdout. Nothing here
imports Locust or gevent: this runs in the comparator's asyncio process.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import json
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ...clients import Round
from ..base import ClientLoad, RoundSpec, serves_here, this_host
from ..processes import EngineError
from ..wire import spec_to_wire, timing_from_wire

if TYPE_CHECKING:
    from ...options import CompareOptions
    from ..choice import LocustOptions

__all__ = ["LocustEngine", "open_locust", "start_locust"]

# The master's first line: it binds a socket and imports Locust, no more.
MASTER_START_SECONDS = 30.0
# What any line of the master's may take beyond the round itself.
ANSWER_MARGIN_SECONDS = 60.0
# A worker asked to quit that is still there after this is stopped.
WORKER_STOP_SECONDS = 5.0


class LocustEngine:
    """Rounds sent by Locust workers, merged by the master: see compare/load/locust/."""

    name = "locust"
    # What reads the bodies in the workers (FastHttpUser's client), as ceilings name it.
    client = "geventhttpclient"

    def __init__(
        self,
        master: asyncio.subprocess.Process,
        address: tuple[str, int],
        workers: Sequence[asyncio.subprocess.Process],
        joined: Sequence[dict[str, Any]],
        master_log: Path,
    ) -> None:
        self._master = master
        self._address = address
        self._workers = list(workers)
        self._joined = list(joined)
        self._master_log = master_log
        self._here = this_host()
        self._rounds = 0

    @property
    def address(self) -> tuple[str, int]:
        return self._address

    @property
    def local_pids(self) -> list[int]:
        """The workers started on this machine (a test stops one mid-round)."""
        return [w.pid for w in self._workers]

    def describe(self) -> str:
        version = importlib.metadata.version("locust")
        host, port = self._address
        hosts = [w["host"] for w in self._joined]
        local = sum(h == self._here for h in hosts)
        where = f"{local} on this machine" if local else ""
        others = sorted({h for h in hosts if h != self._here})
        if others:
            remote = f"{len(hosts) - local} on {', '.join(others)}"
            where = f"{where}, {remote}" if where else remote
        client = importlib.metadata.version("geventhttpclient")
        return (
            f"locust {version} (FastHttpUser, geventhttpclient {client}), master on "
            f"{host}:{port}, {len(hosts)} worker(s): {where}"
        )

    async def run(self, spec: RoundSpec) -> Round:
        if spec.read_rate is not None:
            raise EngineError("the locust engine reads at full speed only (no --read-rate)")
        self._rounds += 1
        # Numbered: a round cancelled here (the memory cap) still ends in the master, and its
        # answer must not be taken for the next one's.
        answer = await self._ask(
            {"cmd": "round", "id": self._rounds, "spec": spec_to_wire(spec)}, "round"
        )
        while answer.get("id") != self._rounds:
            answer = await _expect(self._master, "round", self._master_log, None)
        if "error" in answer:
            raise EngineError(str(answer["error"]))
        workers = answer["workers"]
        load = ClientLoad(
            cpu_seconds=tuple(float(w["cpu_seconds"]) for w in workers),
            hosts=tuple(str(w["host"]) for w in workers),
            # Whether the workers sent from the servers' machine.
            same_machine=serves_here(spec.url)
            and all(str(w["host"]) == self._here for w in workers),
            load={str(w["host"]): w["load"] for w in workers},
        )
        return Round(
            [timing_from_wire(r) for r in answer["requests"]], float(answer["seconds"]), load
        )

    async def _ask(self, command: dict[str, Any], event: str) -> dict[str, Any]:
        assert self._master.stdin is not None
        self._master.stdin.write((json.dumps(command) + "\n").encode())
        await self._master.stdin.drain()
        # No time limit: the master gives up on a silent worker itself, after the requests' own.
        return await _expect(self._master, event, self._master_log, None)

    async def close(self) -> None:
        master = self._master
        if master.returncode is None and master.stdin is not None:
            with contextlib.suppress(OSError):
                master.stdin.write(b'{"cmd": "close"}\n')
                await master.stdin.drain()
                master.stdin.close()
        await _stop([master, *self._workers])


async def _expect(
    master: asyncio.subprocess.Process, event: str, log: Path, patience: float | None
) -> dict[str, Any]:
    """The master's next line of kind `event`; EngineError (one line) on its `error`, its
    exit or silence past `patience` seconds."""
    assert master.stdout is not None
    while True:
        try:
            line = await asyncio.wait_for(master.stdout.readline(), patience)
        except TimeoutError:
            raise EngineError(
                f"the locust master said nothing for {patience:g} s (its log: {log})"
            ) from None
        if not line:
            await master.wait()
            raise EngineError(
                f"the locust master exited with status {master.returncode}: {_last_line(log)}"
            )
        answer: dict[str, Any] = json.loads(line)
        if answer["event"] == event:
            return answer
        if answer["event"] == "error":
            raise EngineError(str(answer["message"]))
        # `joined` and `refused` lines are progress; the master's log keeps them too.


def _last_line(log: Path) -> str:
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return f"no log at {log}"
    return lines[-1] if lines else f"nothing in {log}"


async def _stop(processes: Sequence[asyncio.subprocess.Process]) -> None:
    async def stop(process: asyncio.subprocess.Process) -> None:
        try:
            await asyncio.wait_for(process.wait(), WORKER_STOP_SECONDS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    await asyncio.gather(*(stop(p) for p in processes))


@contextlib.asynccontextmanager
async def open_locust(options: CompareOptions, concurrency: int) -> AsyncIterator[LocustEngine]:
    """The engine `--load locust` asks for, its logs in the run's `logs/` (each worker makes as
    many users as its share of a round needs, whatever `concurrency`)."""
    async with start_locust(options.locust, (options.out or Path(".")) / "logs") as engine:
        yield engine


@contextlib.asynccontextmanager
async def start_locust(choice: LocustOptions, log_dir: Path) -> AsyncIterator[LocustEngine]:
    """The master and `choice.workers` local workers started, `choice.expect` joined; all
    stopped on the way out."""
    await asyncio.to_thread(log_dir.mkdir, parents=True, exist_ok=True)
    bind_host, bind_port = choice.master_bind
    master_log = log_dir / "locust-master.log"
    logs: list[IO[bytes]] = []
    processes: list[asyncio.subprocess.Process] = []
    try:
        logs.append(master_log.open("wb"))
        master = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "compare.load.locust.master",
            "--bind", f"{bind_host}:{bind_port}", "--expect", str(choice.expect),
            "--wait", str(choice.wait_seconds),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=logs[-1],
        )  # fmt: skip
        processes.append(master)
        listening = await _expect(master, "listening", master_log, MASTER_START_SECONDS)
        port = int(listening["port"])
        # Local workers reach a master bound to every interface through loopback.
        reach = "127.0.0.1" if bind_host in ("0.0.0.0", "*", "") else bind_host
        workers: list[asyncio.subprocess.Process] = []
        for number in range(choice.workers):
            logs.append((log_dir / f"locust-worker-{number}.log").open("wb"))
            worker = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "streambench", "load-worker", "--master", f"{reach}:{port}",
                stdin=asyncio.subprocess.DEVNULL, stdout=logs[-1], stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            processes.append(worker)
            workers.append(worker)
        ready = await _expect(
            master, "ready", master_log, choice.wait_seconds + ANSWER_MARGIN_SECONDS
        )
        engine = LocustEngine(master, (bind_host, port), workers, ready["workers"], master_log)
        try:
            yield engine
        finally:
            await engine.close()
    finally:
        for process in processes:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        for log in logs:
            log.close()
