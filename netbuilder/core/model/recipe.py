"""A document's training recipe: the settings that make an example learn, kept beside its graph.

    "recipe": {"data": "xor:n=800:noise=0", "epochs": 200, "optimizer": "adam", "lr": 0.05}

The keys are those of `netbuilder train`'s options (and of TrainConfig). Here they are only checked for
their JSON type; their values are checked where they are used (TrainConfig.check, DataSpec.parse). No torch.
"""
from __future__ import annotations

import math
from typing import Any

from ..base.errors import NetbuilderError

KEYS: dict[str, type | tuple[type, ...]] = {
    "data": str, "epochs": int, "batch_size": int, "optimizer": str, "lr": (int, float), "momentum": (int, float), "beta1": (int, float),
    "weight_decay": (int, float), "l1": (int, float), "loss": str, "schedule": str, "step_size": int,
    "gamma": (int, float), "grad_clip": (int, float), "early_stopping": int, "augment": list, "seed": int,
    "val_fraction": (int, float), "test_fraction": (int, float),
}
CONFIG_KEYS = [key for key in KEYS if key not in ("data", "val_fraction", "test_fraction")]


class RecipeError(NetbuilderError):
    """A recipe entry of the wrong kind."""


def check_recipe(recipe: Any) -> dict[str, Any]:
    """The recipe as a plain dict, or RecipeError naming the first bad entry."""
    if not isinstance(recipe, dict):
        raise RecipeError("a recipe must be an object of training settings")
    checked = {}
    for key, value in recipe.items():
        if key not in KEYS:
            raise RecipeError(f"unknown setting {str(key)[:40]!r} (settings: {', '.join(KEYS)})")
        kind = KEYS[key]
        if isinstance(value, bool) or not isinstance(value, kind) or (
                isinstance(value, float) and not math.isfinite(value)):
            raise RecipeError(f"{key!r} has the wrong kind of value: {str(value)[:40]!r}")
        if key == "augment" and not all(isinstance(a, str) or (isinstance(a, dict) and isinstance(a.get("name"), str))
                                        for a in value):
            raise RecipeError("'augment' must be a list of names (\"rotate=15\") or {\"name\": ...} objects")
        checked[key] = [dict(a) if isinstance(a, dict) else a for a in value] if key == "augment" else value
    return checked


def resolve(explicit: dict[str, Any], recipe: dict[str, Any], resumed: dict[str, Any] | None = None) -> dict:
    """Every training setting from, in order: what was given explicitly (options, the panel), the resumed
    run's own settings, the graph's recipe; settings named nowhere are left out (their defaults apply)."""
    settings = dict(check_recipe(recipe))
    settings.update({k: v for k, v in (resumed or {}).items() if k in KEYS})
    settings.update({k: v for k, v in explicit.items() if v is not None})
    return settings
