"""The results file: stats, and a lossless round trip through results.json."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from compare.results import (
    SCHEMA_VERSION,
    Check,
    ClientCeiling,
    DatabaseInfo,
    Environment,
    Floor,
    Matrix,
    NotOffered,
    PortResult,
    Results,
    Scenario,
    ServerFigures,
    Stats,
    StreambenchInfo,
    StreamFigures,
    Verification,
    percentile,
)


def test_stats_of_values() -> None:
    stats = Stats.of([5.0, 1.0, 3.0, 2.0, 4.0])
    assert stats == Stats(
        median=3.0, p95=4.8, min=1.0, max=5.0, count=5, samples=(5.0, 1.0, 3.0, 2.0, 4.0)
    )


def test_stats_of_one_value() -> None:
    assert Stats.of([7]) == Stats(7.0, 7.0, 7.0, 7.0, 1, (7.0,))


def test_stats_refuses_nothing() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Stats.of([])
    assert Stats.maybe([]) is None


def test_percentile_interpolates() -> None:
    assert percentile([0.0, 10.0], 50) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 100) == 4.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0) == 1.0


def sample_results() -> Results:
    stats = Stats.of([0.1, 0.2, 0.3])
    return Results(
        created_at="2026-01-01T00:00:00Z",
        streambench=StreambenchInfo("0.1.0", "abc123", False),
        environment=Environment(
            python="3.11.7",
            platform="Linux",
            cpu_model="cpu",
            cpu_count=2,
            memory_bytes=1 << 30,
            client="httpx 0.28.1",
            layout=None,
            database=DatabaseInfo("postgresql://u@h/db", "15.19", embedded=False),
        ),
        settings={"pool_size": 10, "auth": False},
        matrix=Matrix(
            ports=("aiohttp",),
            rows=(10,),
            formats=("text",),
            concurrency=(1,),
            endpoints=("standard", "chunked"),
            repeats=3,
            batch=1000,
            warmup=1,
            quick=True,
            note="",
            layers=("asyncpg", "psycopg"),
        ),
        ports=(
            PortResult(
                name="aiohttp",
                framework="aiohttp 3.14.5",
                server="aiohttp 3.14.5",
                details="",
                url="http://127.0.0.1:1",
                target=False,
                server_metrics="proc",
                verification=Verification.of([Check("status", "pass", "200", "http://x")]),
                startup=stats,
                default_pair=True,
            ),
            PortResult(
                name="aiohttp",
                framework="aiohttp 3.14.5",
                server="aiohttp 3.14.5",
                details="",
                url="http://127.0.0.1:2",
                target=False,
                server_metrics="proc",
                verification=Verification.of([Check("status", "pass", "200", "http://x")]),
                startup=stats,
                layer="psycopg",
                default_pair=True,
            ),
        ),
        floor=(Floor(10, "text", 150, stats),),
        client_ceiling=(ClientCeiling(10, "text", 150, 1, stats, stats, 12.5),),
        scenarios=(
            Scenario(
                port="aiohttp",
                endpoint="chunked",
                source="cursor",
                rows=10,
                format="text",
                concurrency=1,
                repeats=3,
                requests=3,
                errors=0,
                error_examples=(),
                headers=stats,
                ttfb=stats,
                total=stats,
                bytes=150,
                chunks=Stats.of([1, 1, 1]),
                rows_per_second=100.0,
                megabytes_per_second=0.001,
                requests_per_second=None,
                floor_ratio=2.0,
                server=ServerFigures("proc", stats, None),
                arrival=((0.001, 0), (0.002, 150)),
                flags=("noisy",),
                flag_reasons={"noisy": "max/min 3.0"},
            ),
        ),
        duration_seconds=1.5,
        not_offered=(
            NotOffered("aiohttp", "psycopg", "copy", "psycopg offers fetch, cursor"),
            NotOffered("aiohttp", "django-orm", None, "aiohttp serves asyncpg, psycopg"),
        ),
    )


def test_round_trip(tmp_path: Path) -> None:
    results = sample_results()
    path = results.dump(tmp_path / "out" / "results.json")
    loaded = Results.load(path)
    assert loaded == results
    assert loaded.to_dict()["schema_version"] == SCHEMA_VERSION
    assert loaded.floor_for(10, "text") == results.floor[0]
    assert loaded.ceiling_for(10, "csv") is None


def test_a_contender_is_its_port_on_a_layer() -> None:
    results = sample_results()
    assert [p.contender for p in results.ports] == ["aiohttp", "aiohttp+psycopg"]
    scenario = results.scenarios[0]
    assert scenario.key[0] == "aiohttp"
    on_psycopg = dataclasses.replace(scenario, layer="psycopg")
    assert on_psycopg.contender == "aiohttp+psycopg"
    assert on_psycopg.key != scenario.key
    assert [n.label() for n in results.not_offered] == [
        "aiohttp+psycopg source=copy",
        "aiohttp on django-orm",
    ]


def test_reads_a_file_written_before_the_layers(tmp_path: Path) -> None:
    """Version 1 named no layer: its local servers read through asyncpg, the only layer there
    was, and its targets' layers are not known."""
    data = sample_results().to_dict()
    data["schema_version"] = 1
    del data["not_offered"], data["matrix"]["layers"]
    data["ports"] = data["ports"][:1]
    target = {**data["ports"][0], "name": "remote", "target": True}
    data["ports"].append(target)
    data["scenarios"].append({**data["scenarios"][0], "port": "remote"})
    for entry in (*data["ports"], *data["scenarios"]):
        entry.pop("layer", None)
        entry.pop("default_pair", None)
    loaded = Results.from_dict(data)
    assert loaded.schema_version == SCHEMA_VERSION
    assert loaded.matrix.layers == ("asyncpg",)
    assert [(p.name, p.layer) for p in loaded.ports] == [("aiohttp", "asyncpg"), ("remote", None)]
    assert [(s.port, s.layer) for s in loaded.scenarios] == [
        ("aiohttp", "asyncpg"),
        ("remote", None),
    ]
    assert loaded.not_offered == ()


def test_load_refuses_other_schema(tmp_path: Path) -> None:
    data = sample_results().to_dict()
    data["schema_version"] = 99
    with pytest.raises(ValueError, match="schema_version"):
        Results.from_dict(data)


def test_verification_failures() -> None:
    verification = Verification.of(
        [Check("a", "pass", ""), Check("b", "warn", "w"), Check("c", "fail", "f")]
    )
    assert not verification.passed
    assert [c.name for c in verification.failures] == ["c"]
    assert [c.name for c in verification.warnings] == ["b"]


def test_the_streams_side_by_side_round_trip(tmp_path: Path) -> None:
    results = sample_results()
    streams = StreamFigures(
        ttfb_p99=0.25,
        open_files=Stats.of([1040, 1052]),
        throughput=Stats.of([1e6, 2e6, 8e6]),
        spread=Stats.of([8.0, 6.5]),
        starved=3,
        streams=2048,
    )
    crowded = dataclasses.replace(
        results, scenarios=(dataclasses.replace(results.scenarios[0], streams=streams),)
    )
    loaded = Results.load(crowded.dump(tmp_path / "results.json"))
    assert loaded == crowded
    assert loaded.scenarios[0].streams == streams
    # A target without /proc: its open files were not counted, and stay null, not zero.
    blind = dataclasses.replace(streams, open_files=None)
    data = dataclasses.replace(
        crowded, scenarios=(dataclasses.replace(crowded.scenarios[0], streams=blind),)
    ).to_dict()
    assert data["scenarios"][0]["streams"]["open_files"] is None
    assert Results.from_dict(data).scenarios[0].streams == blind


def test_reads_a_file_written_before_the_streams_were_measured() -> None:
    """Version 6 measured no streams side by side: `streams` is null, not made up from the
    first byte's samples."""
    data = sample_results().to_dict()
    data["schema_version"] = 6
    for scenario in data["scenarios"]:
        del scenario["streams"]
    loaded = Results.from_dict(data)
    assert loaded.schema_version == SCHEMA_VERSION == 8
    assert loaded.scenarios[0].streams is None
    assert loaded.scenarios[0].ttfb == sample_results().scenarios[0].ttfb
