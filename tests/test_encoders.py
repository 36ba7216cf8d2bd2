"""Encoders: streamed bytes equal buffered bytes for every format, batch size and row count."""

from __future__ import annotations

import csv
import hashlib
import io
import json

import pytest

from shared.database import Database
from shared.encoders import ENCODERS, FORMATS, encode_all, encode_chunks

from .conftest import TEST_ROWS

ROW_COUNTS = [0, 1, 2, 999, 1000, 1001, 2500]
BATCH_SIZES = [1, 7, 1000, TEST_ROWS + 1]


async def _streamed(db: Database, fmt: str, rows: int, batch: int) -> tuple[bytes, int]:
    encoder = ENCODERS[fmt]
    chunks = [
        chunk
        async for chunk in encode_chunks(encoder, db.stream_batches(encoder.columns, rows, batch))
    ]
    return b"".join(chunks), len(chunks)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("rows", ROW_COUNTS)
async def test_streamed_equals_buffered(database: Database, fmt: str, rows: int) -> None:
    encoder = ENCODERS[fmt]
    buffered = encode_all(encoder, await database.fetch_all(encoder.columns, rows))
    for batch in BATCH_SIZES:
        if batch == 1 and rows > 1001:
            continue  # one round trip a row: covered by the smaller counts
        streamed, _ = await _streamed(database, fmt, rows, batch)
        assert streamed == buffered, f"{fmt} rows={rows} batch={batch}"
    _assert_parses(fmt, buffered, rows)


def _assert_parses(fmt: str, body: bytes, rows: int) -> None:
    if fmt == "text":
        lines = body.decode().splitlines(keepends=True)
        assert lines == [f"object_id:{i} \n" for i in range(1, rows + 1)]
    elif fmt == "ndjson":
        objects = [json.loads(line) for line in body.decode().split("\n") if line]
        assert [o["id"] for o in objects] == list(range(1, rows + 1))
    elif fmt == "json":
        objects = json.loads(body)
        assert [o["id"] for o in objects] == list(range(1, rows + 1))
    elif fmt == "csv":
        records = list(csv.reader(io.StringIO(body.decode(), newline="")))
        assert records[0] == ["id", "sender", "recipient", "body", "created_at"]
        assert [int(r[0]) for r in records[1:]] == list(range(1, rows + 1))


async def test_chunk_per_batch(database: Database) -> None:
    _, chunks = await _streamed(database, "text", 3500, 1000)
    assert chunks == 6, "batches of 100, 200, 400, 800, 1000 and 1000 rows"
    _, chunks = await _streamed(database, "json", 2500, 1000)
    assert chunks == 6, "five batches, then the closing bracket"
    _, chunks = await _streamed(database, "text", 150, 50)
    assert chunks == 3, "never more rows than the batch size"


async def test_escaping_survives_every_format(database: Database) -> None:
    rows = 70  # every body variant (7) many times over
    json_rows = json.loads(
        encode_all(ENCODERS["json"], await database.fetch_all(ENCODERS["json"].columns, rows))
    )
    ndjson_rows = [
        json.loads(line)
        for line in encode_all(
            ENCODERS["ndjson"], await database.fetch_all(ENCODERS["ndjson"].columns, rows)
        )
        .decode()
        .splitlines()
    ]
    csv_rows = list(
        csv.DictReader(
            io.StringIO(
                encode_all(
                    ENCODERS["csv"], await database.fetch_all(ENCODERS["csv"].columns, rows)
                ).decode(),
                newline="",
            )
        )
    )
    assert json_rows == ndjson_rows
    for from_json, from_csv in zip(json_rows, csv_rows, strict=True):
        assert {k: str(v) for k, v in from_json.items()} == from_csv
    bodies = "".join(row["body"] for row in json_rows)
    for needle in ['"', ",", "\n", "\t", "\\", "✓", "漢字", "🚀"]:
        assert needle in bodies, f"the data set should exercise {needle!r}"
    assert json_rows[0]["created_at"] == "2024-01-01T00:00:01+00:00"


# Content is a pure function of the row number: these never change without a new SEED_VERSION.
TEXT_1000_SHA256 = "ea330690105f69505017ff76d2bdaf59b78d33c2953bfb36dd3c01d8d9b24976"
NDJSON_1000_SHA256 = "34d2b06fcb96cc6173b9395a497562301ccc50b4192e986b93234805c9fe3ec3"


async def test_first_thousand_rows_are_fixed(database: Database) -> None:
    text = encode_all(ENCODERS["text"], await database.fetch_all(("id",), 1000))
    ndjson = encode_all(
        ENCODERS["ndjson"], await database.fetch_all(ENCODERS["ndjson"].columns, 1000)
    )
    assert hashlib.sha256(text).hexdigest() == TEXT_1000_SHA256
    assert hashlib.sha256(ndjson).hexdigest() == NDJSON_1000_SHA256
