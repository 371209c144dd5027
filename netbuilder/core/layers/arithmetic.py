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
    ),
    LayerSpec(
        "LayerScale", "math",
        "Multiplies by learned factors, one per feature, channel or element (ConvNeXt's layer scale).",
        params=(_OVER, Float("init", 1.0, -1e6, 1e6, help="the factors' starting value")),
        build=lambda p, s: parameter(learned_shape(p["over"], s[0]), p["init"]), forward=_times,
        summary=lambda p: f"per {p['over'][:-1]}", prefix="gamma",
        cases=(case((5, 8), (5, 8), 8), case((4, 3, 3), (4, 3, 3), 4, over="channels", init=1e-6),
               case((2, 3), (2, 3), 6, over="elements")),
    ),
    LayerSpec(
        "Bias", "math", "Adds learned offsets, one per feature, channel or element.",
        params=(_OVER,),
        build=lambda p, s: parameter(learned_shape(p["over"], s[0])), forward=_plus,
        summary=lambda p: f"per {p['over'][:-1]}", prefix="bias",
        cases=(case((5, 8), (5, 8), 8), case((4, 3, 3), (4, 3, 3), 4, over="channels"),
               case((2, 3), (2, 3), 6, over="elements")),
    ),
    LayerSpec("Abs", "math", "|x|: the absolute value of each element.", forward=_abs, prefix="abs", cases=_SAME),
    LayerSpec("Exp", "math", "e^x of each element.", forward=_exp, prefix="exp", cases=_SAME),
]
