"""The compression axis without a server: negotiation, the decoder, the comparator's option,
results, budgets, CSV, report and diff. The ports' side is tests/test_conformance_compression.py."""

from __future__ import annotations

import dataclasses
import gzip
import json
import zlib

import pytest

from compare.budgets import check_budgets, parse_budget
from compare.export import render_csv
from compare.options import OptionError, options_from_args, plan
from compare.report import render_reports
from compare.report.diff import changes
from compare.results import Results
from shared.compression import (
    DecodeError,
    decode,
    negotiate_coding,
    open_compressor,
    open_decoder,
)
from shared.contract import ContractError

from .report_fixtures import FIXTURE, load
from .test_compare_units import AVAILABLE, DEFAULTS, _args

NEGOTIATED = {
    None: "identity",
    "": "identity",
    "gzip": "gzip",
    "zstd": "zstd",
    "gzip;q=0.5, zstd": "zstd",
    "gzip, zstd": "gzip",
    "*": "gzip",
    "zstd;q=0, *": "gzip",
    "gzip;q=0": "identity",
    "gzip;q=0.5, identity": "identity",
    "gzip, identity": "gzip",
    "br, compress": "identity",
    "x-gzip": "gzip",
    "gzip;q=abc": "identity",
    "gzip;q=2": "identity",
}


@pytest.mark.parametrize(("header", "coding"), NEGOTIATED.items())
def test_negotiation(header: str | None, coding: str) -> None:
    assert negotiate_coding(header) == coding


@pytest.mark.parametrize("header", ["gzip;q=0, *;q=0", "identity;q=0", "*;q=0", "br, *;q=0"])
def test_no_acceptable_coding_is_406(header: str) -> None:
    with pytest.raises(ContractError) as refused:
        negotiate_coding(header)
    assert refused.value.status == 406
    assert json.loads(refused.value.body())["error"].endswith("offered: gzip, zstd, identity")


def test_the_decoder_reads_every_gzip_member_and_zstd_frame() -> None:
    # What Django's gzip middleware sends: a gzip member per chunk. zlib alone stops at the first.
    members = b"".join(gzip.compress(b"batch %d " % i) for i in range(5))
    assert zlib.decompressobj(31).decompress(members) == b"batch 0 "
    decoder = open_decoder("gzip")
    assert b"".join(decoder.decode(members[i : i + 7]) for i in range(0, len(members), 7)) == (
        b"".join(b"batch %d " % i for i in range(5))
    )
    decoder.finish()
    frames = []
    for i in range(3):
        compressor = open_compressor("zstd")
        frames.append(compressor.compress(b"frame %d " % i) + compressor.finish())
    assert decode("zstd", b"".join(frames)) == b"frame 0 frame 1 frame 2 "
    for coding, body in (("gzip", members), ("zstd", b"".join(frames))):
        with pytest.raises(DecodeError):
            decode(coding, body[:-4])
        with pytest.raises(DecodeError):
            decode(coding, b"not compressed at all")
    with pytest.raises(DecodeError):
        open_decoder("br")


def test_compression_option() -> None:
    options = options_from_args(_args(), AVAILABLE, DEFAULTS)
    assert options.compression == ("none",)
    cells, _ = plan(options)
    assert {c.compression for c in cells} == {"none"}
    assert {c.headers()["Accept-Encoding"] for c in cells} == {"identity"}
    options = options_from_args(_args("--compression", "zstd,none,gzip"), AVAILABLE, DEFAULTS)
    assert options.compression == ("none", "gzip", "zstd")
    cells, note = plan(options)
    assert {c.compression for c in cells} == {"none", "gzip", "zstd"}
    assert "decoded" in note
    gzip_cell = next(c for c in cells if c.compression == "gzip")
    assert gzip_cell.headers() == {"Accept-Encoding": "gzip"}
    assert gzip_cell.label.endswith(" gzip")
    with pytest.raises(OptionError) as refused:
        options_from_args(_args("--compression", "gzip,br"), AVAILABLE, DEFAULTS)
    assert str(refused.value) == "--compression: unknown coding 'br'; expected none, gzip, zstd"


def _with_gzip(results: Results) -> Results:
    """The fixture with a gzip copy of every scenario: a third of the bytes on the wire."""
    coded = tuple(
        dataclasses.replace(
            s,
            compression="gzip",
            decoded_bytes=s.bytes,
            bytes=None if s.bytes is None else s.bytes // 3,
        )
        for s in results.scenarios
    )
    matrix = dataclasses.replace(results.matrix, compression=("none", "gzip"))
    return dataclasses.replace(results, scenarios=results.scenarios + coded, matrix=matrix)


def test_results_schema_and_round_trip() -> None:
    old = load()
    assert json.loads(FIXTURE.read_text())["schema_version"] < 6
    assert {s.compression for s in old.scenarios} == {"none"}
    assert all(s.compression_ratio in (None, 1.0) for s in old.scenarios)
    coded = _with_gzip(old)
    again = Results.from_dict(json.loads(coded.to_json()))
    assert again.scenarios == coded.scenarios
    assert len({s.key for s in again.scenarios}) == len(again.scenarios)
    gzipped = [s for s in again.scenarios if s.compression == "gzip" and s.bytes]
    assert gzipped
    assert all(s.compression_ratio and s.compression_ratio >= 2.9 for s in gzipped)


def test_budgets_csv_report_and_diff_know_the_coding() -> None:
    results = _with_gzip(load())
    port = results.ports[0].name
    budget = parse_budget("gzip.chunked.ttfb>0ms", [port], results.matrix.formats)
    breaches = check_budgets([budget], results)
    assert breaches
    assert all(b.scenario and b.scenario.compression == "gzip" for b in breaches)
    assert all(" gzip: " in b.line() for b in breaches)
    ratio = parse_budget("gzip.ratio<2", [port], results.matrix.formats)
    assert not [b for b in check_budgets([ratio], results) if b.scenario and b.scenario.bytes]
    header, *rows = render_csv(results).splitlines()
    assert "compression" in header.split(",")
    assert any(",gzip," in row and ",compression_ratio," in row for row in rows)
    files = render_reports(results)
    assert "## With and without compression" in files["summary.md"]
    assert any(name.startswith("charts/summary-compression-") for name in files)
    plain = render_reports(load())["summary.md"]
    assert "With and without compression" not in plain
    # The diff matches a scenario in its own coding only: gzip against gzip.
    found = changes(results, results)
    assert {c.scenario.compression for c in found} == {"none", "gzip"}
