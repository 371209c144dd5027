"""Elementwise arithmetic: constant and learned factors and offsets, |x|, exp(x)."""
from __future__ import annotations

from .spec import Choice, Float, LayerSpec, case, format_value, parameter

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
]
