"""A sweep's definition: what varies (space.py), the figure it optimises and in which direction, how many trials, the
time budget, the sampler and the pruner. It is kept in its Optuna study (as the study's user attribute
`definition`), so that every process and machine joining the study sweeps the same thing, and the editor can show
and continue a study it did not start.

The figures (`metric`):
    val_loss      the validation loss of the weights a trial keeps (the default; lower is better)
    val_metric    the validation accuracy (higher is better), or MSE for regression (lower)
    test_loss, test_metric   the same on the test split (a sweep tuned on them no longer has an unseen test figure)
    headline      the figure the runs table shows for that kind of network (runs/headline.py), on the test split
Each epoch the validation loss (or, for a figure where higher is better, the validation metric) is reported to
the study, for the pruner and for the curves.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from .space import SweepError, SweepParam, parse_param

METRICS = ("val_loss", "val_metric", "test_loss", "test_metric", "headline")
SAMPLERS = ("tpe", "random", "grid")
DIRECTIONS = {"min": "minimize", "max": "maximize", "minimize": "minimize", "maximize": "maximize"}
DEFINITION_FORMAT = "netbuilder.sweep"
PRUNE_STARTUP = 3  # trials that complete before the pruner compares others with them
PRUNE_WARMUP = 1  # epochs every trial trains before it may be pruned


@dataclass
class SweepDefinition:
    params: list[SweepParam]
    metric: str = "val_loss"
    direction: str | None = None  # "minimize" or "maximize"; None: the metric's own (resolve())
    trials: int = 20  # in the whole study, over every process and machine
    timeout: float | None = None  # seconds for this command: no trial starts after it
    sampler: str = "tpe"
    prune: bool = False
    seed: int | None = None  # the sampler's (each worker process adds its index); None: a fresh one
    extra: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        if self.metric not in METRICS:
            raise SweepError(f"unknown figure {str(self.metric)[:40]!r} to optimise; use one of {', '.join(METRICS)}")
        if self.direction is not None and self.direction not in DIRECTIONS:
            raise SweepError(f"the direction is min or max, not {str(self.direction)[:20]!r}")
        if self.sampler not in SAMPLERS:
            raise SweepError(f"unknown sampler {str(self.sampler)[:30]!r}; use one of {', '.join(SAMPLERS)}")
        if isinstance(self.trials, bool) or not isinstance(self.trials, int) or not 1 <= self.trials <= 100_000:
            raise SweepError(f"the number of trials must be 1..100000, got {str(self.trials)[:20]}")
        if self.timeout is not None and not (isinstance(self.timeout, (int, float)) and self.timeout > 0):
            raise SweepError(f"the time budget must be a number of seconds above 0, got {str(self.timeout)[:20]}")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0):
            raise SweepError(f"the sampler's seed must be a whole number >= 0, got {str(self.seed)[:20]}")
        if self.sampler == "grid":
            self.grid()

    def grid(self) -> dict[str, list]:
        """The grid a grid sweep walks (SweepError for a float range)."""
        return {p.name: p.grid_values() for p in self.params}

    def grid_size(self) -> int:
        size = 1
        for values in self.grid().values():
            size *= len(values)
        return size

    @property
    def direction_word(self) -> str:
        return "max" if self.direction == "maximize" else "min"

    def key(self, settings: dict[str, Any]) -> str:
        """Six hex digits that change with what the study's trials are comparable under: the parameters, the
        figure and direction, the sampler, the pruner and the settings it starts from (not the number of trials or
        the time budget, which a continued sweep may change)."""
        what = {"params": [p.text for p in self.params], "metric": self.metric, "direction": self.direction,
                "sampler": self.sampler, "prune": self.prune, "settings": settings}
        return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:6]

    def default_study_name(self, settings: dict[str, Any]) -> str:
        """`lr+conv1.out_channels-3f9a0c`: what a sweep's study is called when no name is given, so that running
        the same command again continues it."""
        names = "+".join(p.name for p in self.params)
        if len(names) > 60:
            names = names[:57] + "..."
        return f"{names}-{self.key(settings)}"

    def to_dict(self) -> dict:
        return {"format": DEFINITION_FORMAT, "version": 1, "params": [p.text for p in self.params],
                "metric": self.metric, "direction": self.direction, "trials": self.trials, "timeout": self.timeout,
                "sampler": self.sampler, "prune": self.prune, "seed": self.seed}

    @classmethod
    def from_dict(cls, data: Any) -> SweepDefinition:
        if not isinstance(data, dict) or data.get("format") != DEFINITION_FORMAT:
            raise SweepError("the study holds no netbuilder sweep definition (was it made by another program?)")
        if not isinstance(data.get("version"), int) or data["version"] > 1:
            raise SweepError("the study was made by a newer netbuilder")
        try:
            definition = cls([parse_param(text) for text in data["params"]], data["metric"], data["direction"],
                             data["trials"], data["timeout"], data["sampler"], data["prune"], data.get("seed"))
        except (KeyError, TypeError):
            raise SweepError("the study's sweep definition is damaged") from None
        definition.check()
        return definition


def metric_kind(graph, source) -> tuple[str | None, str]:
    """(the validation metric a run of `graph` on the loaded dataset `source` reports: accuracy, mse or None; the
    loss it trains on: the automatic loss's name, or objective), as the Trainer will choose them."""
    from ...build.compile import loss_blocks
    from ...checks.shapes import infer_shapes
    from ..objective import build_objective

    if loss_blocks(graph):
        return build_objective(graph, infer_shapes(graph)).metric, "objective"
    return ("accuracy" if source.data.is_classification else "mse"), "auto"


def resolve_direction(definition: SweepDefinition, graph, metric: str | None, loss: str) -> str:
    """The direction the figure improves in: as given, else the figure's own (losses and MSE go down; accuracy and
    the headline figure of classifiers and segmenters go up). SweepError for a figure the network does not have."""
    from ..runs.headline import headline

    name = definition.metric
    if name in ("val_metric", "test_metric") and metric is None:
        raise SweepError(f"this network reports no {name.split('_')[0]} metric (only its loss): sweep "
                         f"{name.split('_')[0]}_loss")
    if name == "headline":
        test = {"loss": 1.0, **({metric: 0.5} if metric else {})}
        figure = headline({"test": test, "metric": metric, "loss": loss}, graph.to_dict())
        if figure is None:
            raise SweepError("this kind of network has no headline figure (a GAN's losses are a game, not a score): "
                             "sweep val_loss")
        own = "maximize" if figure.better == "higher" else "minimize"
    elif name in ("val_metric", "test_metric"):
        own = "maximize" if metric == "accuracy" else "minimize"
    else:
        own = "minimize"
    return DIRECTIONS[definition.direction] if definition.direction else own


def epoch_figure(definition: SweepDefinition, direction: str) -> str:
    """Which per-epoch figure is reported to the study (for the pruner and the curves): the validation metric for
    a metric (and for a headline figure that goes up: accuracy, IoU), else the validation loss."""
    if definition.metric in ("val_metric", "test_metric"):
        return "val_metric"
    return "val_metric" if definition.metric == "headline" and direction == "maximize" else "val_loss"
