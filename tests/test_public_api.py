"""Each package's public surface: every name in `__all__` is there (ruff's RUF022 keeps it sorted).

The packages are the project's own (pyproject's wheel packages, their subpackages, and every
registered port's package), found rather than listed, so a new port or subpackage is covered."""

from __future__ import annotations

import importlib
import pkgutil
import tomllib
from pathlib import Path

import pytest

from shared.ports import registered_ports

ROOT = Path(__file__).resolve().parent.parent


def _packages() -> list[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    roots = set(pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])
    roots |= {target.partition(":")[0].split(".")[0] for target in registered_ports().values()}
    found = []
    for root in sorted(roots):
        found.append(root)
        module = importlib.import_module(root)
        for info in pkgutil.walk_packages(module.__path__, prefix=f"{root}."):
            if info.ispkg:
                found.append(info.name)
    return found


@pytest.mark.parametrize("package", _packages())
def test_all_names_exist(package: str) -> None:
    module = importlib.import_module(package)
    assert hasattr(module, "__all__"), f"{package} has no __all__: say what it exports"
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names what it lacks: {missing}"
    assert len(set(module.__all__)) == len(module.__all__), f"{package}.__all__ repeats a name"
