"""The floors of the project: no import runs from a lower layer up to a higher one.

`shared/` is the data layer every port and the comparator stand on: it imports no port, not the
comparator and not the command line. The comparator measures ports it is handed and knows no
port's package and not the command line above it. Every import counts wherever it is written (in
a function, under `TYPE_CHECKING`, or as `importlib.import_module("...")` with a literal name).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.ports import registered_ports

ROOT = Path(__file__).resolve().parent.parent

# What each layer must not import, beside every port's package.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "shared": ("compare", "streambench"),
    "compare": ("streambench",),
}
PORT_PREFIX = "impl_"


def _port_packages() -> set[str]:
    return {target.partition(":")[0].split(".")[0] for target in registered_ports().values()}


def imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in `tree` that names its module outright."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # A relative import stays inside its own top-level package.
            yield node.lineno, node.module
        elif (
            isinstance(node, ast.Call)
            and _called_name(node.func) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and not node.args[0].value.startswith(".")
        ):
            yield node.lineno, node.args[0].value


def _called_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def layer_violations(layer: str, forbidden: set[str]) -> list[str]:
    """One line per import in `layer` of a package in `forbidden` or of a port's package."""
    found = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, module in imported_modules(tree):
            top = module.split(".")[0]
            if top in forbidden or top.startswith(PORT_PREFIX):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_import_runs_up_from(layer: str) -> None:
    forbidden = set(FORBIDDEN[layer]) | _port_packages()
    violations = layer_violations(layer, forbidden)
    assert not violations, (
        f"{layer}/ must not import {', '.join(FORBIDDEN[layer])} or a port's package "
        f"({PORT_PREFIX}*): move the piece to the layer that needs it\n" + "\n".join(violations)
    )


def test_the_import_walk_sees_every_kind_of_import() -> None:
    tree = ast.parse(
        "import impl_x.app\n"
        "from streambench.cli import main\n"
        "from . import sibling\n"
        "def later():\n"
        "    from compare.run import run_compare\n"
        "    importlib.import_module('impl_y.server')\n"
        "    importlib.import_module('.results', __name__)\n"
    )
    assert [module for _, module in imported_modules(tree)] == [
        "impl_x.app",
        "streambench.cli",
        "compare.run",
        "impl_y.server",
    ]
