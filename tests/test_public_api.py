"""Each package's public surface: every name in `__all__` is there (ruff's RUF022 keeps it sorted)."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(
    "package", ["shared", "compare", "compare.report", "impl_aiohttp", "impl_starlette"]
)
def test_all_names_exist(package: str) -> None:
    module = importlib.import_module(package)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names what it lacks: {missing}"
    assert len(set(module.__all__)) == len(module.__all__), f"{package}.__all__ repeats a name"
