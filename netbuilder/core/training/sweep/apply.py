"""A trial's values put to use: its block parameters set in a copy of the graph and its training settings in the
settings (or the recipe) it trains with. A trial trains what `with_values` makes; "apply the best trial" writes
what `apply_trial` makes (the editor as one undoable edit, `netbuilder sweep --apply-best` into a new file)."""
from __future__ import annotations

from typing import Any

from .space import SweepError


def setting_value(name: str, value: Any) -> Any:
    """A sampled value as the setting takes it: augment's `flip+crop` is ["flip", "crop"] (`none`: [])."""
    if name == "augment":
        return [] if value in ("none", "", None) else str(value).split("+")
    return value


def with_values(graph, settings: dict[str, Any], values: dict[str, Any]):
    """(a copy of `graph` with each `BLOCK.PARAM` value set, `settings` with each setting's value). SweepError
    naming the value a block refuses (its graph is left as it was)."""
    from ...model.graph import GraphError

    graph, settings = graph.copy(), dict(settings)
    for name, value in values.items():
        if "." in name:
            block, param = name.split(".", 1)
            try:
                graph.set_param(graph.find(block).id, param, value)
            except GraphError as e:
                raise SweepError(f"{name}={value}: {e}") from None
        else:
            settings[name] = setting_value(name, value)
    return graph, settings


def recipe_with(recipe: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """A recipe that trains as `settings` do: the recipe's own entries updated, and every other setting that is not
    at its default added (a sweep's --data or --epochs, a swept value)."""
    from ...model.recipe import KEYS, check_recipe
    from ..config import TrainConfig

    defaults = {**TrainConfig().to_dict(), "val_fraction": 0.1, "test_fraction": 0.2}
    merged = dict(recipe)
    for key, value in settings.items():
        if key in KEYS and (key in recipe or value != defaults.get(key)):
            merged[key] = value
    return check_recipe(merged)


def apply_trial(graph, values: dict[str, Any], settings: dict[str, Any] | None = None):
    """(a new graph with the trial's block parameters, its recipe holding the trial's settings): `values` are the
    trial's parameters (as the study holds them), `settings` everything it trained with (None: only the swept
    settings go into the recipe). The graph given is left as it is. SweepError when a block is gone or refuses."""
    new, trained = with_values(graph, {}, values)
    if settings is not None:
        trained = {**settings, **trained}
    new.recipe = recipe_with(graph.recipe, trained)
    return new, dict(new.recipe)
