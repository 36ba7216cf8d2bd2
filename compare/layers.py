"""The data-layer axis of a run: which (pair, layer) contenders `--layers` gives, and what is not
offered.

A layer is a server setting, so a port on each layer is a contender of its own, in a process of
its own: its memory and CPU are that layer's alone, and its rounds interleave with the other
layers' as the ports' do. What a layer or a port cannot serve (no `copy` through an ORM, no
Django ORM on aiohttp) is left out and listed as not offered, never run and never a failure.

Pure: the layers each port brings come in as an argument, nothing is imported or started here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shared.layers import SHARED_LAYERS, LayerSpec, LayerUnavailable, choose_layer, layers_for

from .results import NotOffered, contender_name


class LayerError(ValueError):
    """A `--layers` the run cannot have; the message names the choices."""


@dataclass(frozen=True)
class LocalContender:
    """A pair (`port@server`) started with one data layer, and the sources that layer offers."""

    pair: str
    layer: str
    sources: tuple[str, ...]
    # The HTTP versions of the run its server speaks (compare/options.py fills them in).
    http: tuple[str, ...] = ("1.1",)

    @property
    def name(self) -> str:
        return contender_name(self.pair, self.layer)


def layer_choices(port_layers: Mapping[str, Sequence[LayerSpec]]) -> dict[str, LayerSpec]:
    """Every layer a run can name: the shared ones, then each port's own, in registry order."""
    choices = dict(SHARED_LAYERS)
    for own in port_layers.values():
        for spec in own:
            choices.setdefault(spec.name, spec)
    return choices


def chosen_layers(
    names: Sequence[str], port_layers: Mapping[str, Sequence[LayerSpec]]
) -> tuple[str, ...]:
    """`names` in the registry's order, each known and with its driver installed."""
    choices = layer_choices(port_layers)
    for name in names:
        if name not in choices:
            raise LayerError(f"--layers: no data layer {name!r}; choose from {', '.join(choices)}")
        try:
            choose_layer(name, tuple(choices.values()))
        except LayerUnavailable as error:  # its driver is not installed
            raise LayerError(f"--layers: {error}") from None
    return tuple(name for name in choices if name in names)


def plan_contenders(
    pairs: Sequence[str],
    layers: Sequence[str],
    port_layers: Mapping[str, Sequence[LayerSpec]],
    sources: Sequence[str],
) -> tuple[tuple[LocalContender, ...], tuple[NotOffered, ...]]:
    """Every pair on every layer it can serve, pair by pair; and what is not offered: a layer
    a pair's port does not serve, and each source of the run (`sources`) a layer does not offer."""
    contenders: list[LocalContender] = []
    not_offered: list[NotOffered] = []
    for pair in pairs:
        offered = layers_for(port_layers.get(pair, ()))
        for layer in layers:
            spec = offered.get(layer)
            if spec is None:
                not_offered.append(
                    NotOffered(
                        pair, layer, None, _served_elsewhere(layer, pair, offered, port_layers)
                    )
                )
                continue
            contenders.append(LocalContender(pair, layer, spec.sources))
            not_offered.extend(
                NotOffered(pair, layer, source, f"{layer} offers {', '.join(spec.sources)} only")
                for source in dict.fromkeys(sources)
                if source not in spec.sources
            )
    return tuple(contenders), tuple(not_offered)


def _served_elsewhere(
    layer: str,
    pair: str,
    offered: Mapping[str, LayerSpec],
    port_layers: Mapping[str, Sequence[LayerSpec]],
) -> str:
    port = pair.partition("@")[0]
    owners = sorted(
        {
            name.partition("@")[0]
            for name, own in port_layers.items()
            if layer in {s.name for s in own}
        }
    )
    whose = f"{' and '.join(owners)}'s own layer" if owners else "no port's layer here"
    return f"{layer} is {whose}; {port} serves {', '.join(offered)}"
