"""The workers' split: every test of a pair in one worker, whatever its other parameters."""

from __future__ import annotations

import pytest

from ._scheduling import pair_scope

PAIRS = {"aiohttp@aiohttp", "starlette@uvicorn", "django@granian"}


@pytest.mark.parametrize(
    ("nodeid", "scope"),
    [
        ("tests/test_a.py::test_x[starlette@uvicorn]", "starlette@uvicorn"),
        ("tests/test_a.py::test_x[starlette@uvicorn-fetch]", "starlette@uvicorn"),
        ("tests/test_a.py::test_x[django@granian-latin-1 byte]", "django@granian"),
        ("tests/test_a.py::test_x[10-ndjson-django@granian]", "django@granian"),
        ("tests/test_a.py::test_x[a@b-starlette@uvicorn]", "starlette@uvicorn"),
        ("tests/test_a.py::test_plain", "tests/test_a.py::test_plain"),
        ("tests/test_a.py::test_x[text]", "tests/test_a.py::test_x[text]"),
        (
            "tests/test_a.py::test_x[starlette@uvicornx]",
            "tests/test_a.py::test_x[starlette@uvicornx]",
        ),
    ],
)
def test_a_pairs_tests_share_one_scope(nodeid: str, scope: str) -> None:
    assert pair_scope(nodeid, PAIRS) == scope
