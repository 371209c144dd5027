"""What a sweep may vary: a training setting (`lr`, `batch_size`, `optimizer`, ...) or a block's parameter
(`conv1.out_channels`, `drop1.p`, a loss block's `weight`), each over values written as on the command line:

    lr=1e-4:1e-1:log         a float range, sampled on a log scale (`lo:hi` alone: linear)
    batch_size=32:256:int    an integer range (`lo:hi:int:log`: on a log scale)
    conv1.out_channels=16,32,64          a list of choices (numbers, words, true/false)
    augment=none,flip,flip+crop          augmentations: names joined by +, or none

`parse_param(text)` reads one; `check_params(params, graph, settings)` refuses, in one line each, a name that is
neither a setting nor a block's parameter and a value the setting or the layer never takes, before a trial starts.
A value that is fine on its own but makes the graph invalid (a kernel larger than its input) is found by the trial
that tries it: that trial fails, the sweep goes on. No torch, no optuna at import time.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ...base.errors import NetbuilderError, brief_text, summarize

# the training settings a sweep may vary, with the kind of value each takes
SETTINGS: dict[str, str] = {
    "lr": "float", "momentum": "float", "beta1": "float", "weight_decay": "float", "l1": "float", "gamma": "float",
    "grad_clip": "float", "batch_size": "int", "epochs": "int", "step_size": "int", "early_stopping": "int",
    "seed": "int", "optimizer": "word", "schedule": "word", "loss": "word", "augment": "augment",
}
MAX_GRID = 10_000  # grid points a grid sweep may have
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


class SweepError(NetbuilderError):
    """A sweep that cannot be run as defined (a parameter that does not exist, a range the setting never takes,
    a study that sweeps something else); the message says which and why."""


@dataclass(frozen=True)
class SweepParam:
    """One thing a sweep varies and the values it may take: a float or int range (`log`: sampled on a log scale)
    or a list of choices."""

    name: str  # `lr`, or `BLOCK.PARAM`
    kind: str  # "float", "int" or "choice"
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    choices: tuple = ()

    @property
    def block(self) -> str | None:
        """The block whose parameter this is, or None for a training setting."""
        return self.name.split(".", 1)[0] if "." in self.name else None

    @property
    def param(self) -> str:
        return self.name.split(".", 1)[1] if "." in self.name else self.name

    @property
    def values_text(self) -> str:
        """The values as they are written: `1e-4:0.1:log`, `16,32,64`."""
        if self.kind == "choice":
            return ",".join(_word(c) for c in self.choices)
        flags = ([":int"] if self.kind == "int" else []) + ([":log"] if self.log else [])
        return f"{_word(self.low)}:{_word(self.high)}{''.join(flags)}"

    @property
    def text(self) -> str:
        return f"{self.name}={self.values_text}"

    def __str__(self) -> str:
        return self.text

    def distribution(self):
        """Its Optuna distribution."""
        import optuna

        if self.kind == "float":
            return optuna.distributions.FloatDistribution(float(self.low), float(self.high), log=self.log)
        if self.kind == "int":
            return optuna.distributions.IntDistribution(int(self.low), int(self.high), log=self.log)
        return optuna.distributions.CategoricalDistribution(list(self.choices))

    def grid_values(self) -> list:
        """Every value a grid sweep tries: the choices, or each whole number of an integer range."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int" and self.high - self.low < MAX_GRID:
            return list(range(int(self.low), int(self.high) + 1))
        if self.kind == "int":
            raise SweepError(f"{self.name}: {self.values_text} has {self.high - self.low + 1:,} values, too many "
                             "for a grid: list the ones to try (a,b,c)")
        raise SweepError(f"{self.name}: a grid sweep tries listed values, not a float range ({self.values_text}): "
                         f"write them as a list, e.g. {self.name}={_example_list(self)}")

    def for_use(self, value: Any) -> Any:
        """A sampled value as the setting or the block takes it (augment: `flip+crop` -> ["flip", "crop"])."""
        if self.name == "augment":
            return [] if value in ("none", "") else str(value).split("+")
        return value


def _word(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _whole(p: SweepParam) -> str:
    """A float range's whole numbers as an integer range is written: `2:8`."""
    return f"{math.ceil(p.low)}:{max(math.ceil(p.low), math.floor(p.high))}"


def _example_list(p: SweepParam) -> str:
    low, high = float(p.low), float(p.high)
    if p.log and low > 0:
        values = [low * (high / low) ** (i / 3) for i in range(4)]
    else:
        values = [low + (high - low) * i / 3 for i in range(4)]
    return ",".join(f"{v:.2g}" for v in values)


def _number(text: str, what: str) -> float | int:
    text = text.strip()
    if not NUMBER.fullmatch(text):
        raise SweepError(f"{what}: {brief_text(text, 30)!r} is not a number")
    value = float(text)
    if not math.isfinite(value):
        raise SweepError(f"{what}: {brief_text(text, 30)!r} is not a finite number")
    return int(text) if re.fullmatch(r"[+-]?\d+", text) else value


def _choice(text: str) -> Any:
    text = text.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if NUMBER.fullmatch(text):
        value = float(text)
        if math.isfinite(value):
            return int(text) if re.fullmatch(r"[+-]?\d+", text) else value
    return text


def parse_values(name: str, values: str) -> SweepParam:
    """The values of `name` written as `lo:hi[:int][:log]` or `a,b,c` (a single value is one choice)."""
    text = values.strip()
    if not text:
        raise SweepError(f"{name}: no values given (write lo:hi, lo:hi:log, lo:hi:int or a,b,c)")
    if ":" in text:
        parts = [p.strip() for p in text.split(":")]
        flags = [p.lower() for p in parts[2:]]
        unknown = [f for f in flags if f not in ("log", "int")]
        if len(parts) < 2 or unknown or len(set(flags)) != len(flags):
            raise SweepError(f"{name}={brief_text(text, 40)}: a range is lo:hi, lo:hi:log, lo:hi:int or lo:hi:int:log")
        low, high = _number(parts[0], f"{name}'s low end"), _number(parts[1], f"{name}'s high end")
        integer, log = "int" in flags, "log" in flags
        if integer and not (isinstance(low, int) and isinstance(high, int)):
            raise SweepError(f"{name}={text}: an integer range needs whole numbers at both ends")
        if low > high:
            raise SweepError(f"{name}={text}: the low end {_word(low)} is above the high end {_word(high)}")
        if log and low <= 0:
            raise SweepError(f"{name}={text}: a log range needs a low end above 0, got {_word(low)}")
        if integer:
            return SweepParam(name, "int", int(low), int(high), log)
        return SweepParam(name, "float", float(low), float(high), log)
    choices = [_choice(c) for c in text.split(",")]
    if any(c == "" for c in choices):
        raise SweepError(f"{name}={brief_text(text, 40)}: an empty choice (two commas, or one at an end)")
    if len({(type(c), c) for c in choices}) != len(choices):
        raise SweepError(f"{name}={brief_text(text, 40)}: a choice is listed twice")
    return SweepParam(name, "choice", choices=tuple(choices))


def parse_param(text: str) -> SweepParam:
    """`NAME=VALUES` (see the module's doc)."""
    name, sep, values = str(text).partition("=")
    name = name.strip()
    if not sep or not name:
        raise SweepError(f"{brief_text(text, 40)!r}: write NAME=VALUES, e.g. lr=1e-4:1e-1:log or "
                         "conv1.out_channels=16,32,64")
    return parse_values(name, values)


def check_params(params: list[SweepParam], graph, settings: dict[str, Any]) -> None:
    """Refuse (SweepError, one line) a parameter that does not exist, one named twice, and values a setting or a
    layer never takes (each choice and both ends of a range are tried on their own)."""
    if not params:
        raise SweepError("nothing to sweep: give at least one parameter (--param lr=1e-4:1e-1:log)")
    seen = set()
    for p in params:
        if p.name in seen:
            raise SweepError(f"{p.name} is swept twice: give it once")
        seen.add(p.name)
        if p.block is None:
            _check_setting(p, settings)
        else:
            _check_block_param(p, graph)


def _ends(p: SweepParam) -> list:
    return list(p.choices) if p.kind == "choice" else [p.low, p.high]


def _check_setting(p: SweepParam, settings: dict[str, Any]) -> None:
    from ..config import LOSSES, OPTIMIZERS, SCHEDULES, TrainConfig, TrainingError

    kind = SETTINGS.get(p.name)
    if kind is None:
        raise SweepError(f"{brief_text(p.name, 40)!r} is neither a training setting nor a block's parameter "
                         f"(BLOCK.PARAM); settings: {', '.join(SETTINGS)}")
    if kind in ("word", "augment") and p.kind != "choice":
        raise SweepError(f"{p.name} takes names: list them ({p.name}=a,b,c)")
    if kind == "int" and p.kind == "float":
        raise SweepError(f"{p.name} takes whole numbers: write {p.name}={_whole(p)}:int, or a list")
    words = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES, "loss": LOSSES}.get(p.name)
    base = {k: v for k, v in settings.items() if k in TrainConfig.__dataclass_fields__}
    for value in _ends(p):
        if words is not None and value not in words:
            raise SweepError(f"{p.name}: {brief_text(_word(value), 30)!r} is not one of {', '.join(words)}")
        if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            raise SweepError(f"{p.name} takes whole numbers, got {brief_text(_word(value), 30)}")
        if kind == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise SweepError(f"{p.name} takes numbers, got {brief_text(_word(value), 30)!r}")
        try:
            TrainConfig(**{**base, p.name: p.for_use(value)}).check()
        except TrainingError as e:
            raise SweepError(f"{p.name}={_word(value)}: {e}") from None


def _check_block_param(p: SweepParam, graph) -> None:
    from ...layers import ParamError
    from ...model.graph import GraphError

    try:
        node = graph.find(p.block)
    except GraphError:
        names = [n.name for n in graph.nodes]
        raise SweepError(f"{p.name}: no block named {brief_text(p.block, 40)!r} (blocks: "
                         f"{summarize(names, limit=12, width=300)})") from None
    spec = {param.name: param for param in node.spec.params}
    if p.param not in spec:
        have = ", ".join(spec) or "none"
        raise SweepError(f"{p.name}: {node.label} has no parameter {brief_text(p.param, 40)!r} (its parameters: "
                         f"{have})")
    param = spec[p.param]
    if p.kind != "choice" and param.kind not in ("int", "float", "ints"):
        raise SweepError(f"{p.name} takes {param.kind} values: list them ({p.name}=a,b)")
    if p.kind == "float" and param.kind in ("int", "ints"):
        raise SweepError(f"{p.name} takes whole numbers: write {p.name}={_whole(p)}:int, or a list")
    for value in _ends(p):
        try:
            param.check(value)
        except ParamError as e:
            raise SweepError(f"{p.name}={_word(value)}: {node.label}: {e}") from None
