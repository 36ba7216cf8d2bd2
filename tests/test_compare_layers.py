"""The comparator's data-layer axis, its pure parts: `--layers`, the contenders it gives, what is
not offered, and the layer in budgets. The layers are the registry's; a port's own layer is the
registered port's (`PortDescriptor.layers`) wherever one brings it."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence

import pytest

from compare.budgets import parse_budget
from compare.options import CompareOptions, OptionError, add_arguments, options_from_args
from shared.contract import SOURCES
from shared.layers import DEFAULT_LAYER, SHARED_LAYERS, LayerSpec

PAIRS = [("a@own", None), ("b@uvicorn", None), ("b@granian", None)]
DEFAULTS = ["a@own", "b@uvicorn"]
# The registry's shared layers: a copy-less one (an ORM) and one that offers every source.
NO_COPY = next(name for name, spec in SHARED_LAYERS.items() if "copy" not in spec.sources)
EVERY_SOURCE = next(
    name
    for name, spec in SHARED_LAYERS.items()
    if name != DEFAULT_LAYER and set(spec.sources) == set(SOURCES)
)


def _options(
    *argv: str, port_layers: Mapping[str, Sequence[LayerSpec]] | None = None
) -> CompareOptions:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return options_from_args(parser.parse_args(list(argv)), PAIRS, DEFAULTS, port_layers)


def _own_layer(name: str, requires: tuple[str, ...] = ()) -> LayerSpec:
    """A layer a port brings itself, as Django brings its ORM; only its name and sources matter
    to the comparator, which never imports it."""
    return LayerSpec(name, f"{name.replace('-', '_')}:create_layer", ("fetch", "cursor"), requires)


def test_default_is_todays_run_on_the_default_layer() -> None:
    options = _options("--ports", "a,b")
    assert options.layers == (DEFAULT_LAYER,)
    assert [(c.pair, c.layer, c.name) for c in options.contenders] == [
        ("a@own", DEFAULT_LAYER, "a@own"),
        ("b@uvicorn", DEFAULT_LAYER, "b@uvicorn"),
    ]
    assert options.not_offered == ()
    assert options.contender_names == ("a@own", "b@uvicorn")


def test_every_pair_on_every_layer_in_the_registrys_order() -> None:
    options = _options("--ports", "b", "--layers", f"{EVERY_SOURCE},{DEFAULT_LAYER}")
    assert options.layers == (DEFAULT_LAYER, EVERY_SOURCE)
    assert [c.name for c in options.contenders] == ["b@uvicorn", f"b@uvicorn+{EVERY_SOURCE}"]
    assert options.not_offered == ()


def test_a_source_the_layer_does_not_offer_is_not_offered() -> None:
    options = _options("--ports", "b", "--layers", f"{DEFAULT_LAYER},{NO_COPY}")
    [orm] = [c for c in options.contenders if c.layer == NO_COPY]
    assert "copy" not in orm.sources
    [left_out] = options.not_offered
    assert (left_out.port, left_out.layer, left_out.source) == ("b@uvicorn", NO_COPY, "copy")
    assert left_out.reason == f"{NO_COPY} offers {', '.join(orm.sources)} only"
    # Only the sources the run reads: without copy, nothing is left out.
    assert _options("--ports", "b", "--layers", NO_COPY, "--sources", "cursor").not_offered == ()


def test_a_ports_own_layer_is_a_choice_and_not_offered_elsewhere() -> None:
    own = {"a@own": (_own_layer("own-orm"),)}
    options = _options("--ports", "a,b", "--layers", f"{DEFAULT_LAYER},own-orm", port_layers=own)
    assert [c.name for c in options.contenders] == ["a@own", "a@own+own-orm", "b@uvicorn"]
    [left_out] = [n for n in options.not_offered if n.source is None]
    assert (left_out.port, left_out.layer) == ("b@uvicorn", "own-orm")
    assert left_out.reason.startswith("own-orm is a's own layer; b serves asyncpg")
    # Every copy the run reads through own-orm is not offered either.
    assert [(n.port, n.source) for n in options.not_offered if n.source] == [("a@own", "copy")]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--layers", "nope"], "--layers: no data layer 'nope'; choose from asyncpg, "),
        (["--layers", "asyncpg,"], "--layers: empty item"),
        (["--layers", "asyncpg,asyncpg"], "given twice"),
        (["--layers", "own-orm", "--ports", "b"], "--layers: none of the ports serves own-orm"),
        (
            ["--layers", "asyncpg", "--target", "x=http://h:1"],
            "a --target is measured on whatever layer it runs",
        ),
        (
            ["--layers", "ghost-orm", "--ports", "a"],
            "--layers: data layer 'ghost-orm' needs streambench_no_such_driver, which is not "
            "installed",
        ),
    ],
)
def test_layer_errors_are_one_line_naming_the_choices(argv: list[str], message: str) -> None:
    own = {
        "a@own": (
            _own_layer("own-orm"),
            _own_layer("ghost-orm", requires=("streambench_no_such_driver",)),
        )
    }
    with pytest.raises(OptionError) as error:
        _options(*argv, port_layers=own)
    assert message in str(error.value)
    assert "\n" not in str(error.value)
    if "choose from" in message:
        # Every name: the shared layers and each port's own.
        assert str(error.value).endswith(", ".join([*SHARED_LAYERS, "own-orm", "ghost-orm"]))


def test_budgets_scope_a_layer_a_contender_or_a_port_on_every_layer() -> None:
    options = _options(
        "--ports", "b", "--layers", f"{DEFAULT_LAYER},{NO_COPY}",
        "--fail-if", f"{NO_COPY}.chunked.x-floor>4",
        "--fail-if", f"b@uvicorn+{NO_COPY}.total:p95>1s",
        "--fail-if", "b@uvicorn.errors>0",
    )  # fmt: skip
    scopes = [(b.scope, b.kinds) for b in options.budgets]
    assert scopes == [
        ((NO_COPY, "chunked"), ("layer", "endpoint")),
        ((f"b@uvicorn+{NO_COPY}",), ("name",)),
        (("b@uvicorn",), ("name",)),
    ]
    with pytest.raises(OptionError, match="'sqlite' is no endpoint, source, format, data layer"):
        _options("--ports", "b", "--fail-if", "sqlite.total>1s")


def test_a_budget_about_what_is_not_offered_names_only_that() -> None:
    options = _options("--ports", "b", "--layers", f"{DEFAULT_LAYER},{NO_COPY}")
    [left_out] = options.not_offered
    budget = parse_budget(f"{NO_COPY}.copy.total>1s", ["b@uvicorn"], ["text"], options.layers)
    assert budget.only_not_offered(left_out)
    for other in (f"{NO_COPY}.cursor.total>1s", f"{DEFAULT_LAYER}.copy.total>1s", "total>1s"):
        budget = parse_budget(other, ["b@uvicorn"], ["text"], options.layers)
        assert not budget.only_not_offered(left_out), other


def test_a_contender_sits_out_the_cells_its_layer_does_not_offer() -> None:
    from compare.groups import Contender, group_cells, taking_part
    from compare.options import plan

    options = _options(
        "--ports", "b", "--layers", f"{DEFAULT_LAYER},{NO_COPY}", "--rows", "10",
        "--concurrency", "1",
    )  # fmt: skip
    contenders = [
        Contender(c.name, None, None, layer=c.layer, sources=c.sources) for c in options.contenders
    ]
    cells, _ = plan(options)
    # Fresh servers per (endpoint, source, format): no server for the ORM where it offers nothing.
    for group in group_cells(cells):
        names = [c.name for c in taking_part(group, contenders)]
        expected = ["b@uvicorn"] + ([] if group[0].source == "copy" else [f"b@uvicorn+{NO_COPY}"])
        assert names == expected, group
    # One server each for every scenario: the ORM's serves what it offers and sits out the rest.
    [every] = group_cells(cells, reuse_servers=True)
    assert [c.name for c in taking_part(every, contenders)] == [c.name for c in contenders]
    orm = contenders[1]
    assert {c.source for c in every if orm.offers(c)} == {"fetch", "cursor"}
