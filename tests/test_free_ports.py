"""Ports handed to servers about to start are never handed out twice while they start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compare import free_ports
from compare.free_ports import HOST, free_port

PICKS = 300
PICKER = (
    "import sys; from pathlib import Path; from compare.free_ports import free_port; "
    "print(*(free_port(claims=Path(sys.argv[1])) for _ in range(int(sys.argv[2]))))"
)


def test_processes_picking_at_once_never_get_the_same_port(tmp_path: Path) -> None:
    # 600 picks from the kernel's ~14,000 ports of this kind repeat about a dozen of them when
    # nothing is claimed; two test workers each starting servers pick this way.
    pickers = [
        subprocess.Popen(
            [sys.executable, "-c", PICKER, str(tmp_path), str(PICKS)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    ports = [int(port) for picker in pickers for port in picker.communicate(timeout=60)[0].split()]
    assert all(picker.returncode == 0 for picker in pickers)
    assert len(ports) == 2 * PICKS
    repeated = sorted({port for port in ports if ports.count(port) > 1})
    assert not repeated, f"handed out twice: {repeated}"


@pytest.fixture
def kernel_picks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """What the kernel's "any free port" answers next, in order."""
    answers: list[int] = []
    monkeypatch.setattr(free_ports, "_unbound_port", lambda host: answers.pop(0))
    return answers


def test_a_claimed_port_is_passed_over(tmp_path: Path, kernel_picks: list[int]) -> None:
    kernel_picks.extend([40001, 40001, 40003])
    assert free_port(claims=tmp_path) == 40001
    assert free_port(claims=tmp_path) == 40003


def test_a_stale_claim_is_forgotten(tmp_path: Path, kernel_picks: list[int]) -> None:
    stale = tmp_path / "40001"
    stale.touch()
    long_ago = time.time() - free_ports.CLAIM_SECONDS - 1
    os.utime(stale, (long_ago, long_ago))
    (tmp_path / "40005").touch()
    kernel_picks.append(40001)
    assert free_port(claims=tmp_path) == 40001
    assert stale.stat().st_mtime > long_ago
    assert sorted(path.name for path in tmp_path.iterdir()) == ["40001", "40005"]


def test_the_port_is_free_to_listen_on() -> None:
    port = free_port()
    with socket.socket() as server:
        server.bind((HOST, port))
        server.listen()


def test_it_says_so_when_every_pick_is_claimed(tmp_path: Path, kernel_picks: list[int]) -> None:
    (tmp_path / "40001").touch()
    kernel_picks.extend([40001] * free_ports.ATTEMPTS)
    with pytest.raises(OSError, match="no unclaimed free port"):
        free_port(claims=tmp_path)
