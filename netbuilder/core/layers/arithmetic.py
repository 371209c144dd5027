"""Elementwise arithmetic: constant and learned factors and offsets, |x|, exp(x)."""
from __future__ import annotations

from .spec import Bool, Choice, Float, Ints, LayerSpec, case, check_dim, format_shape, format_value, parameter

_SAME = (case((8,), (8,)), case((3, 4, 4), (3, 4, 4)))


def _scale(m, x, factor, offset, **_params):
    if factor != 1.0:
        x = x * factor
    if offset != 0.0:
        x = x + offset
    return x


def _scale_summary(p: dict) -> str:
    parts = [f"x{format_value(p['factor'])}" if p["factor"] != 1.0 else "",
             f"{p['offset']:+g}" if p["offset"] != 0.0 else ""]
    return " ".join(part for part in parts if part) or "identity"


def _abs(m, x, **_params):
    return x.abs()


def _exp(m, x, **_params):
    return x.exp()


_OVER = Choice("over", "features", ("features", "channels", "elements"),
               help="features: one value per entry of the last dimension; channels: one per channel "
                    "(dimension 1); elements: one per value of a sample")


def learned_shape(over: str, shape: tuple) -> tuple:
    """The shape of the learned tensor, broadcast against a batch of `shape` (batch excluded)."""
    if over == "features":
        return (shape[-1],)
    if over == "channels":
        return (shape[0], *[1] * (len(shape) - 1))
    return tuple(shape)


def _mean(m, x, dims, keepdim, **_params):
    return x.mean(dim=tuple(dims), keepdim=keepdim)


def _mean_check(p: dict, shapes: list) -> str | None:
    rank = len(shapes[0]) + 1
    for dim in p["dims"]:
        problem = check_dim(dim, shapes[0])
        if problem:
            return problem
    if len({d % rank for d in p["dims"]}) != len(p["dims"]):
        return f"dims {format_shape(tuple(p['dims']))} name a dimension twice"
    return None


def _times(m, x, **_params):
    return x * m


def _plus(m, x, **_params):
    return x + m


LAYERS = [
    LayerSpec(
        "Scale", "math", "Multiplies by a constant factor, then adds a constant offset: x * factor + offset.",
        params=(Float("factor", 1.0, -1e9, 1e9, help="the constant to multiply by"),
                Float("offset", 0.0, -1e9, 1e9, help="the constant to add")),
        forward=_scale, summary=_scale_summary, prefix="scale",
        cases=(*_SAME, case((5,), (5,), factor=0.125), case((2, 3), (2, 3), factor=-1.0, offset=1.0)),
        doc=("Multiplies every value by the same constant, then adds another: nothing is learned, and the shape"
             " is kept. Use it to scale attention scores by 1 / √d (factor 0.125 for 64 features per head), or "
             "to turn values in (0, 1) into (−1, 1) (factor 2, offset −1). factor −1 with offset 1 gives 1 − x."),
        formula="y = x · factor + offset",
    ),
    LayerSpec(
        "LayerScale", "math",
        "Multiplies by learned factors, one per feature, channel or element (ConvNeXt's layer scale).",
        params=(_OVER, Float("init", 1.0, -1e6, 1e6, help="the factors' starting value")),
        build=lambda p, s: parameter(learned_shape(p["over"], s[0]), p["init"]), forward=_times,
        summary=lambda p: f"per {p['over'][:-1]}", prefix="gamma",
        cases=(case((5, 8), (5, 8), 8), case((4, 3, 3), (4, 3, 3), 4, over="channels", init=1e-6),
               case((2, 3), (2, 3), 6, over="elements")),
        doc=("Multiplies its input by learned factors γ: one per feature (the last dimension), one per channel "
             "(dimension 1) or one per value, and keeps the shape. ConvNeXt and deep vision transformers put it "
             "at the end of each residual branch, before the Add, with a tiny init such as 1e-6, so that each "
             "block starts close to the identity and very deep networks train steadily."),
        formula="y = γ ⊙ x, γ learned (features: size of the last dimension; channels: C; elements: every value)",
    ),
    LayerSpec(
        "Bias", "math", "Adds learned offsets, one per feature, channel or element.",
        params=(_OVER,),
        build=lambda p, s: parameter(learned_shape(p["over"], s[0])), forward=_plus,
        summary=lambda p: f"per {p['over'][:-1]}", prefix="bias",
        cases=(case((5, 8), (5, 8), 8), case((4, 3, 3), (4, 3, 3), 4, over="channels"),
               case((2, 3), (2, 3), 6, over="elements")),
        doc=("Adds learned offsets b, starting at zero: one per feature (the last dimension), one per channel "
             "(dimension 1) or one per value, and keeps the shape. Use it where a layer has no bias of its own "
             "(a MatMul, a Linear or convolution with bias off) and you want one after another step."),
        formula="y = x + b, b learned (features: size of the last dimension; channels: C; elements: every value)",
    ),
    LayerSpec("Abs", "math", "|x|: the absolute value of each element.", forward=_abs, prefix="abs", cases=_SAME,
              doc=("Replaces each value by its size, dropping the sign; the shape is kept and nothing is learned. "
                   "After a Subtract it gives the distance between two embeddings feature by feature, as Siamese "
                   "networks compare a pair of images."),
              formula="y = |x|"),
    LayerSpec("Exp", "math", "e^x of each element.", forward=_exp, prefix="exp", cases=_SAME,
              doc=("Raises e to the power of each value; every output is positive and the shape is kept. Use it to "
                   "turn a predicted log-variance into a variance, or log-scores into positive weights. It grows "
                   "fast: inputs above about 88 overflow float32 to infinity."),
              formula="y = exp(x) = eˣ"),
    LayerSpec(
        "Mean", "math", "Averages over the given dimensions: mean pooling over a sequence (dims 1).",
        params=(Ints("dims", [1], min=-8, max=8, help="the dimensions to average over, counting the batch as 0"),
                Bool("keepdim", False, help="keep each averaged dimension with size 1")),
        forward=_mean, check=_mean_check, prefix="mean",
        summary=lambda p: f"over {','.join(map(str, p['dims']))}" + (", keep" if p["keepdim"] else ""),
        cases=(case((5, 8), (8,)), case((4, 6, 6), (4, 1, 1), dims=[2, 3], keepdim=True),
               case((3, 5, 2), (3,), dims=[-1, 2])),
        doc=("Replaces the values along dims by their mean. dims 1 turns a sequence x features into features: the"
             " mean pooling that sentence classifiers and some vision transformers use instead of a class token. "
             "dims 2,3 of an image is a global average (GlobalAvgPool2d). No weights."),
        formula="y = mean of x over dims",
    ),
]
