"""Activation functions."""
from __future__ import annotations

from .spec import Bool, Choice, Float, Int, LayerSpec, case, check_dim, module

_DIM = Int("dim", 1, -8, 8, help="dimension to normalize over, counting the batch as 0 (1: classes)")


def _dim_check(p: dict, shapes: list) -> str | None:
    return check_dim(p["dim"], shapes[0])


_SAME = (case((8,), (8,)), case((3, 4, 4), (3, 4, 4)))  # an elementwise function keeps the shape


def _simple(name: str, help: str, cls: str | None = None) -> LayerSpec:
    return LayerSpec(name, "activation", help, build=lambda p, s: module(cls or name), prefix=name.lower(),
                     cases=_SAME)


LAYERS = [
    _simple("ReLU", "max(0, x): the default choice for hidden layers."),
    _simple("ReLU6", "min(max(0, x), 6): ReLU capped at 6, as in MobileNet."),
    LayerSpec(
        "LeakyReLU", "activation", "Like ReLU, but lets a small slope through for negative values.",
        params=(Float("negative_slope", 0.01, 0.0, 1.0, help="slope for negative inputs"),),
        build=lambda p, s: module("LeakyReLU", p["negative_slope"]), prefix="lrelu",
        cases=(*_SAME, case((8,), (8,), negative_slope=0.2)),
    ),
    LayerSpec(
        "PReLU", "activation", "Leaky ReLU whose negative slope is learned.",
        params=(Bool("per_channel", False, help="learn one slope per channel instead of one in all"),),
        build=lambda p, s: module("PReLU", s[0][0] if p["per_channel"] else 1), prefix="prelu",
        cases=(case((8,), (8,), 1), case((3, 4, 4), (3, 4, 4), 3, per_channel=True)),
    ),
    LayerSpec(
        "ELU", "activation", "Exponential linear unit: smooth for negative values.",
        params=(Float("alpha", 1.0, 0.0, 100.0, help="value approached for large negative inputs"),),
        build=lambda p, s: module("ELU", p["alpha"]), prefix="elu", cases=(*_SAME, case((8,), (8,), alpha=0.5)),
    ),
    LayerSpec(
        "GELU", "activation", "Gaussian error linear unit, as in transformers.",
        params=(Choice("approximate", "none", ("none", "tanh"), help="use the faster tanh approximation"),),
        build=lambda p, s: module("GELU", approximate=p["approximate"]), prefix="gelu",
        cases=(*_SAME, case((8,), (8,), approximate="tanh")),
    ),
    _simple("Sigmoid", "1 / (1 + exp(-x)): squashes values into (0, 1)."),
    _simple("HardSigmoid", "A piecewise-linear sigmoid: min(max(x + 3, 0), 6) / 6 (MobileNetV3).", "Hardsigmoid"),
    _simple("HardSwish", "x times HardSigmoid(x): a cheap Swish (MobileNetV3).", "Hardswish"),
    _simple("SiLU", "x * sigmoid(x), also called Swish (EfficientNet)."),
    _simple("Mish", "x * tanh(softplus(x)): a smooth ReLU (YOLOv4)."),
    _simple("Tanh", "Hyperbolic tangent: squashes values into (-1, 1)."),
    LayerSpec(
        "Softmax", "activation", "Turns scores into probabilities that sum to 1 along a dimension.",
        params=(_DIM,), build=lambda p, s: module("Softmax", dim=p["dim"]), check=_dim_check, prefix="softmax",
        cases=(case((10,), (10,)), case((3, 5), (3, 5), dim=-1)),
    ),
    LayerSpec(
        "LogSoftmax", "activation", "Log of softmax; pair it with a negative log-likelihood loss.",
        params=(_DIM,), build=lambda p, s: module("LogSoftmax", dim=p["dim"]), check=_dim_check,
        prefix="logsoftmax", cases=(case((10,), (10,)), case((3, 5), (3, 5), dim=2)),
    ),
]
