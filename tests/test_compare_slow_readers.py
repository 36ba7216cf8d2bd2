"""Slow readers end to end: the comparator reading at a set rate against a pair that waits for
its reader and one that does not, on real servers and real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from compare.results import Results
from streambench.cli import main

from .conftest import REFERENCE_PAIR

BUFFERING = "buffering=tests.buffering_port:PORT"
# ndjson rows of about 285 bytes: a body of about 28 MB, several times what the kernel's socket
# buffers take of it (up to 4 MiB sent, 64 KiB received), read at 20 MB/s in about 1.4 s.
ROWS = 100_000


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("STREAMBENCH_JWT_SECRET", raising=False)
    monkeypatch.setenv("STREAMBENCH_POOL_SIZE", "4")
    monkeypatch.setenv("STREAMBENCH_EXTRA_PORTS", BUFFERING)


@pytest.mark.timeout(300)
def test_a_slow_reader_shows_who_waits_and_what_the_database_pays(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "slow"
    argv = ["compare", "--ports", f"{REFERENCE_PAIR},buffering", "--endpoints", "chunked"]
    argv += ["--sources", "copy", "--formats", "ndjson", "--rows", str(ROWS)]
    argv += ["--concurrency", "1", "--repeats", "1", "--read-rate", "20MB/s", "--out", str(out)]
    code = main(argv)
    printed = capsys.readouterr().out
    assert code == 0, printed

    results = Results.load(out / "results.json")
    assert results.matrix.read_rates == (20e6,)
    scenarios = {s.port: s for s in results.scenarios}
    assert set(scenarios) == {REFERENCE_PAIR, "buffering@uvicorn"}
    for scenario in scenarios.values():
        assert scenario.errors == 0, scenario.error_examples
        assert scenario.read_rate == 20e6
        assert scenario.reached_rate is not None
        assert scenario.reached_rate.median < 20e6 * 1.05, "the reader kept to its rate"
        assert "rate-unreached" not in scenario.flags, scenario.flag_reasons
        database = scenario.database
        assert database is not None
        assert database.connection_seconds is not None
        assert database.held_peak in (1, 2), "the stream, and the small request sent meanwhile"
        assert database.checkouts_failed == 0
        assert scenario.bystander is not None, "a request was sent one second in"
        assert scenario.bystander.refused == 0, scenario.bystander.examples
        abort = scenario.abort
        assert abort is not None
        assert abort.leaked == 0
        assert abort.reset is not None
        assert abort.close is not None

    waits, buffers = scenarios[REFERENCE_PAIR], scenarios["buffering@uvicorn"]
    body = waits.bytes
    assert body is not None
    assert body > 20_000_000
    assert waits.memory_per_stream is not None
    assert waits.memory_per_stream < body / 8, (
        "a pair that waits holds a chunk or two, not the body"
    )
    assert "buffers-ahead" not in waits.flags, waits.flag_reasons
    assert "buffers-ahead" in buffers.flags, (buffers.memory_per_stream, buffers.flag_reasons)
    # The pair that waits holds its COPY (and its connection) while the reader reads; the one
    # that buffers has read everything long before its reader is done.
    assert waits.database is not None
    assert buffers.database is not None
    assert waits.database.connection_seconds is not None
    assert buffers.database.connection_seconds is not None
    assert waits.database.connection_seconds.median > 2 * buffers.database.connection_seconds.median
    assert "read at 20MB/s" in printed
    assert "buffering@uvicorn chunked/copy" in printed
    assert "buffers-ahead" in printed
