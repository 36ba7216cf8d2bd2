"""Server-side figures for remote targets: Prometheus text for the serving process itself.

Standard process metrics plus the peak resident set since the last reset, which Linux keeps as
`VmHWM` in /proc/self/status and resets when 5 is written to /proc/self/clear_refs, and whatever
else the server adds (its data layer's connection ledger, shared/ledger.py). A comparator that
cannot see the server's process (another host, a container) reads these instead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import psutil

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PEAK_METRIC = "process_peak_resident_memory_bytes"


class Sample(NamedTuple):
    """One sample without labels: its name, type (`counter` or `gauge`), help text and value."""

    name: str
    kind: str
    text: str
    value: float


def peak_rss_bytes(pid: int | str = "self") -> int:
    """`VmHWM` of a process: the most memory it has had resident since start or the last reset."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")


def reset_peak(pid: int | str = "self") -> None:
    """Make `VmHWM` start again from the current resident set."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def render(process: psutil.Process | None = None, more: Iterable[Sample] = ()) -> bytes:
    """The process's samples, then `more`, as Prometheus text."""
    proc = process or psutil.Process(os.getpid())
    with proc.oneshot():
        cpu = proc.cpu_times()
        memory = proc.memory_info()
        created = proc.create_time()
        fds = proc.num_fds()
        threads = proc.num_threads()
    samples = [
        ("process_cpu_seconds_total", "counter", "User and system CPU time spent, seconds.",
         cpu.user + cpu.system),
        ("process_resident_memory_bytes", "gauge", "Resident memory size, bytes.", memory.rss),
        ("process_virtual_memory_bytes", "gauge", "Virtual memory size, bytes.", memory.vms),
        (PEAK_METRIC, "gauge",
         "Peak resident memory (VmHWM) since start or the last POST /metrics/reset-peak, bytes.",
         peak_rss_bytes(proc.pid)),
        ("process_start_time_seconds", "gauge", "Start time since the Unix epoch, seconds.",
         created),
        ("process_open_fds", "gauge", "Open file descriptors.", fds),
        ("process_threads", "gauge", "OS threads.", threads),
        ("process_scrape_time_seconds", "gauge", "When this page was made, Unix epoch seconds.",
         time.time()),
    ]  # fmt: skip
    lines: list[str] = []
    for name, kind, text, value in [*samples, *more]:
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", f"{name} {value}"]
    return ("\n".join(lines) + "\n").encode()


def parse(text: str) -> dict[str, float]:
    """Metric name to value, for the samples without labels (all that `render` writes)."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition(" ")
        if "{" not in name:
            values[name] = float(value.split()[0])
    return values
