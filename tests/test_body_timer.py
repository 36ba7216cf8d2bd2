"""`BodyTimer`, the one timing every reader drives (the asyncio clients and the Locust engine's
greenlets): what it counts per piece and what makes a request fail."""

from __future__ import annotations

import time

from compare.clients import BodyTimer


def test_pieces_are_timed_as_they_arrive_and_empty_ones_are_no_pieces() -> None:
    timer = BodyTimer("text")
    time.sleep(0.01)
    timer.headers(200)
    assert timer.piece(b"") == 0
    assert timer.piece(b"object_id:1 \nobject_id:") == 23
    time.sleep(0.01)
    assert timer.piece(b"2 \n") == 26
    timing = timer.finished(2, 26)
    assert timing.ok, timing.error
    assert timing.chunks == 2
    assert [received for _, received in timing.arrival] == [23, 26]
    assert timing.headers is not None
    assert timing.ttfb is not None
    assert 0.01 <= timing.headers <= timing.ttfb < timing.arrival[-1][0] <= timing.total
    assert timing.rows == 2


def test_status_rows_and_bytes_each_fail_a_request() -> None:
    def read(status: int, body: bytes) -> BodyTimer:
        timer = BodyTimer("text")
        timer.headers(status)
        timer.piece(body)
        return timer

    assert read(503, b"").finished(0).error == "status 503"
    assert read(200, b"a\nb\n").finished(3).error == "2 rows, expected 3"
    assert read(200, b"a\nb\n").finished(2, 5).error == "4 bytes, expected 5"
    failed = read(200, b"a\n").failed(ConnectionError("reset"))
    assert (failed.ok, failed.error) == (False, "ConnectionError: reset after 2 bytes")
    assert failed.ttfb is not None
