"""Activation functions."""
from __future__ import annotations

from .spec import Bool, Choice, Float, Int, LayerSpec, case, check_dim, module

_DIM = Int("dim", 1, -8, 8, help="dimension to normalize over, counting the batch as 0 (1: classes)")


def _dim_check(p: dict, shapes: list) -> str | None:
    return check_dim(p["dim"], shapes[0])


_SAME = (case((8,), (8,)), case((3, 4, 4), (3, 4, 4)))  # an elementwise function keeps the shape


def _simple(name: str, help: str, cls: str | None = None, doc: str = "", formula: str = "") -> LayerSpec:
    return LayerSpec(name, "activation", help, build=lambda p, s: module(cls or name), prefix=name.lower(),
                     cases=_SAME, doc=doc, formula=formula)


LAYERS = [
    _simple("ReLU", "max(0, x): the default choice for hidden layers.",
            doc=("Keeps positive values and zeroes negative ones. Cheap, and it does not saturate for positive "
                 "inputs: the usual choice after convolutions and hidden dense layers."),
            formula="y = max(0, x)"),
    _simple("ReLU6", "min(max(0, x), 6): ReLU capped at 6, as in MobileNet.",
            doc="A ReLU that never goes above 6, which keeps values small for low-precision inference.",
            formula="y = min(max(0, x), 6)"),
    LayerSpec(
        "LeakyReLU", "activation", "Like ReLU, but lets a small slope through for negative values.",
        params=(Float("negative_slope", 0.01, 0.0, 1.0, help="slope for negative inputs"),),
        build=lambda p, s: module("LeakyReLU", p["negative_slope"]), prefix="lrelu",
        cases=(*_SAME, case((8,), (8,), negative_slope=0.2)),
        doc="A ReLU that lets a little of the negative values through, so that no unit stops learning entirely.",
        formula="y = x for x > 0, negative_slope · x otherwise",
    ),
    LayerSpec(
        "PReLU", "activation", "Leaky ReLU whose negative slope is learned.",
        params=(Bool("per_channel", False, help="learn one slope per channel instead of one in all"),),
        build=lambda p, s: module("PReLU", s[0][0] if p["per_channel"] else 1), prefix="prelu",
        cases=(case((8,), (8,), 1), case((3, 4, 4), (3, 4, 4), 3, per_channel=True)),
        doc="A leaky ReLU whose negative slope a is a weight, learned with the rest (one, or one per channel).",
        formula="y = x for x > 0, a · x otherwise",
    ),
    LayerSpec(
        "ELU", "activation", "Exponential linear unit: smooth for negative values.",
        params=(Float("alpha", 1.0, 0.0, 100.0, help="value approached for large negative inputs"),),
        build=lambda p, s: module("ELU", p["alpha"]), prefix="elu", cases=(*_SAME, case((8,), (8,), alpha=0.5)),
        doc="Like ReLU for positive values; negative values curve smoothly down to −alpha.",
        formula="y = x for x > 0, alpha · (exp(x) − 1) otherwise",
    ),
    LayerSpec(
        "GELU", "activation", "Gaussian error linear unit, as in transformers.",
        params=(Choice("approximate", "none", ("none", "tanh"), help="use the faster tanh approximation"),),
        build=lambda p, s: module("GELU", approximate=p["approximate"]), prefix="gelu",
        cases=(*_SAME, case((8,), (8,), approximate="tanh")),
        doc="A smooth ReLU that weighs each value by how likely a normal variable is to be below it (BERT, GPT).",
        formula="y = x · Φ(x), Φ the standard normal distribution function",
    ),
    _simple("Sigmoid", "1 / (1 + exp(-x)): squashes values into (0, 1).",
            doc=("Squashes values into (0, 1). As a last layer it gives a probability, but the trainer's loss for "
                 "a one-output binary classifier (BCE with logits) applies the sigmoid itself: leave it out before "
                 "such an Output. Saturates for large inputs, which slows deep networks down."),
            formula="y = 1 / (1 + exp(−x))"),
    _simple("HardSigmoid", "A piecewise-linear sigmoid: min(max(x + 3, 0), 6) / 6 (MobileNetV3).", "Hardsigmoid",
            doc=("A sigmoid made of three straight pieces: 0 below −3, 1 above 3, a straight line in between. "
                 "Cheaper than the sigmoid on phones and small chips; MobileNetV3 uses it to gate channels in "
                 "its squeeze-and-excitation blocks. Keeps the shape."),
            formula="y = min(max(x + 3, 0), 6) / 6"),
    _simple("HardSwish", "x times HardSigmoid(x): a cheap Swish (MobileNetV3).", "Hardswish",
            doc=("x times HardSigmoid(x): 0 below −3, x above 3, a curve in between. It behaves like SiLU "
                 "(Swish) without an exponential, which is why MobileNetV3 uses it in its deeper layers. Keeps "
                 "the shape."),
            formula="y = x · min(max(x + 3, 0), 6) / 6"),
    _simple("SiLU", "x * sigmoid(x), also called Swish (EfficientNet).",
            doc=("x times its own sigmoid: close to ReLU for large values, but smooth, and slightly negative "
                 "just below 0. EfficientNet and many recent networks use it in place of ReLU; try it when a "
                 "deep ReLU network trains poorly. Keeps the shape."),
            formula="y = x · σ(x) = x / (1 + exp(−x))"),
    _simple("Mish", "x * tanh(softplus(x)): a smooth ReLU (YOLOv4).",
            doc=("A smooth ReLU much like SiLU: x times tanh of softplus(x), slightly negative just below 0. "
                 "Used in YOLOv4; it costs a little more to compute than ReLU or SiLU. Keeps the shape."),
            formula="y = x · tanh(ln(1 + exp(x)))"),
    _simple("Tanh", "Hyperbolic tangent: squashes values into (-1, 1).",
            doc="Squashes values into (−1, 1), centred on 0: the classic activation of LeNet-5 and recurrent cells.",
            formula="y = (exp(x) − exp(−x)) / (exp(x) + exp(−x))"),
    LayerSpec(
        "Softmax", "activation", "Turns scores into probabilities that sum to 1 along a dimension.",
        params=(_DIM,), build=lambda p, s: module("Softmax", dim=p["dim"]), check=_dim_check, prefix="softmax",
        cases=(case((10,), (10,)), case((3, 5), (3, 5), dim=-1)),
        doc=("Turns scores into probabilities along dim. The trainer's cross-entropy loss applies it itself, so a "
             "classifier's Output should receive the raw scores (logits): a Softmax before it slows training "
             "down. Useful inside a network (attention) or after training."),
        formula="y_i = exp(x_i) / Σ_j exp(x_j)",
    ),
    LayerSpec(
        "LogSoftmax", "activation", "Log of softmax; pair it with a negative log-likelihood loss.",
        params=(_DIM,), build=lambda p, s: module("LogSoftmax", dim=p["dim"]), check=_dim_check,
        prefix="logsoftmax", cases=(case((10,), (10,)), case((3, 5), (3, 5), dim=2)),
        doc=("The logarithm of softmax, computed stably. Cross-entropy already contains it: leave it out before a "
             "classifier's Output trained with the automatic loss."),
        formula="y_i = x_i − log Σ_j exp(x_j)",
    ),
]
