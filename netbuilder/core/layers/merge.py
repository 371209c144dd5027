"""Blocks that combine several tensors. Input order follows the ports: in1, in2, ..."""
from __future__ import annotations

import functools
import operator

from .spec import Int, LayerSpec, case, check_dim, format_shape

_INPUTS = Int("inputs", 2, 2, 16, help="number of input ports")


def _same_shapes(p: dict, shapes: list) -> str | None:
    for i, shape in enumerate(shapes[1:], start=2):
        if shape != shapes[0]:
            return f"inputs must have the same shape: in1 is {format_shape(shapes[0])}, in{i} is {format_shape(shape)}"
    return None


def _concat_check(p: dict, shapes: list) -> str | None:
    rank, dim = len(shapes[0]) + 1, p["dim"]
    problem = check_dim(dim, shapes[0])
    if problem:
        return problem
    keep = [i for i in range(rank - 1) if i != dim % rank - 1]
    for i, shape in enumerate(shapes[1:], start=2):
        if len(shape) != len(shapes[0]) or any(shape[k] != shapes[0][k] for k in keep):
            return (f"inputs must match except along dim {dim}: "
                    f"in1 is {format_shape(shapes[0])}, in{i} is {format_shape(shape)}")
    return None


def _add(m, *xs, **_params):
    return functools.reduce(operator.add, xs)


def _multiply(m, *xs, **_params):
    return functools.reduce(operator.mul, xs)


def _concat(m, *xs, dim, **_params):
    import torch

    return torch.cat(list(xs), dim=dim)


LAYERS = [
    LayerSpec(
        "Add", "merge", "Adds its inputs element by element (e.g. a residual connection).",
        params=(_INPUTS,), forward=_add, inputs="inputs", check=_same_shapes, prefix="add",
        cases=(case((4, 6, 6), (4, 6, 6)), case((5,), (5,), inputs=3)),
        doc=("Adds tensors of the same shape element by element. ResNet's residual connection: a block's "
             "output plus its input lets very deep networks train."),
        formula="y = in1 + in2 + …",
    ),
    LayerSpec(
        "Multiply", "merge", "Multiplies its inputs element by element (e.g. gating).",
        params=(_INPUTS,), forward=_multiply, inputs="inputs", check=_same_shapes, prefix="mul",
        cases=(case((4, 6, 6), (4, 6, 6)), case((5,), (5,), inputs=3)),
        doc=("Multiplies tensors of the same shape element by element, e.g. to gate a signal by the "
             "sigmoid of another."),
        formula="y = in1 · in2 · …",
    ),
    LayerSpec(
        "Concat", "merge", "Joins its inputs along a dimension (1: channels), in port order.",
        params=(_INPUTS, Int("dim", 1, -8, 8, help="dimension to join along, counting the batch as 0")),
        forward=_concat, inputs="inputs", check=_concat_check, prefix="cat",
        cases=(case((4, 6, 6), (8, 6, 6)), case((2, 5), (2, 15), inputs=3, dim=-1)),
        doc=("Joins its inputs along dim (1: channels), in port order: 64x28x28 and 32x28x28 give "
             "96x28x28. The four branches of an Inception module meet this way. Every other dimension "
             "must match."),
    ),
]
