"""High concurrency end to end, once and small: one pair, 200 rows, 1 and 256 streams at once,
through the `streambench` CLI. It proves the figures land (open files counted above the streams
open, the first byte's tail, the spread, a stream starved behind a small pool), not how fast
anything is: performance figures belong to benchmarks/high_concurrency.py."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from compare.report.high_concurrency import HEADING
from compare.results import Results
from streambench.cli import main

from .conftest import REFERENCE_PAIR

STREAMS = 256
POOL = 4


@pytest.mark.timeout(300)
def test_256_streams_at_once_are_measured_side_by_side(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("STREAMBENCH_JWT_SECRET", raising=False)
    # A pool far smaller than the streams: most wait for a connection another stream gives back.
    monkeypatch.setenv("STREAMBENCH_POOL_SIZE", str(POOL))
    out = tmp_path / "run"
    argv = ["compare", "--ports", REFERENCE_PAIR, "--rows", "200", "--endpoints", "chunked"]
    argv += ["--sources", "cursor", "--concurrency", f"1,{STREAMS}", "--repeats", "1"]
    assert main([*argv, "--out", str(out)]) == 0

    results = Results.load(out / "results.json")
    by_concurrency = {s.concurrency: s for s in results.scenarios}
    assert set(by_concurrency) == {1, STREAMS}
    alone, crowded = by_concurrency[1], by_concurrency[STREAMS]
    for scenario in (alone, crowded):
        assert scenario.errors == 0, scenario.error_examples
        streams = scenario.streams
        assert streams is not None
        assert streams.streams == scenario.concurrency
        assert streams.open_files is not None, "a local server's open files were not counted"
        assert streams.ttfb_p99 is not None
        assert scenario.ttfb is not None
        assert streams.ttfb_p99 >= scenario.ttfb.p95 >= scenario.ttfb.median
    assert alone.streams is not None
    assert crowded.streams is not None
    # Every stream holds a socket on the server (kept alive after the round too).
    assert crowded.streams.open_files is not None
    assert crowded.streams.open_files.max > STREAMS, crowded.streams.open_files
    assert alone.streams.open_files is not None
    assert alone.streams.open_files.max < STREAMS
    assert alone.streams.spread is None, "one stream has no spread"
    assert alone.streams.starved == 0
    assert crowded.streams.spread is not None
    assert crowded.streams.spread.median >= 1.0
    # A cursor holds its connection to the end of its body: with 4 connections, the fifth
    # stream's first byte comes after a stream has finished.
    assert crowded.streams.starved is not None, "a /chunked stream is judged"
    assert 0 < crowded.streams.starved < STREAMS, crowded.streams
    assert "starved" in crowded.flags
    assert crowded.flag_reasons["starved"].startswith(f"{crowded.streams.starved} of {STREAMS}")

    with (out / "results.csv").open() as file:
        figures = {(r["concurrency"], r["figure"]) for r in csv.DictReader(file)}
    assert {(str(STREAMS), name) for name in ("open_files", "ttfb_p99", "stream_spread")} <= figures
    assert HEADING in (out / "index.html").read_text()
    assert HEADING in (out / f"{REFERENCE_PAIR}.md").read_text()
