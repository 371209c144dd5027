"""Layers that only rearrange values: Flatten, Reshape, Permute."""
from __future__ import annotations

import math

from .spec import Int, Ints, LayerSpec, case, format_shape, module


def _reshape(m, x, shape, **_params):
    return x.reshape(x.shape[0], *shape)


def _reshape_check(p: dict, shapes: list) -> str | None:
    shape, size = p["shape"], math.prod(shapes[0])
    if shape.count(-1) > 1:
        return "at most one dimension of the shape may be -1"
    if 0 in shape or any(d < -1 for d in shape):
        return "the shape may hold positive sizes and one -1"
    known = math.prod(d for d in shape if d != -1)
    if (-1 in shape and size % known) or (-1 not in shape and size != known):
        return f"cannot reshape {size} values into {format_shape(shape)} ({known} values)"
    return None


def _permute(m, x, dims, **_params):
    return x.permute(*dims)


def _permute_check(p: dict, shapes: list) -> str | None:
    dims, rank = p["dims"], len(shapes[0]) + 1
    if sorted(dims) != list(range(rank)):
        return f"dims must order all {rank} dimensions 0..{rank - 1} (0 is the batch), got {tuple(dims)}"
    if dims[0] != 0:
        return "dims must keep the batch dimension first (start with 0)"
    return None


LAYERS = [
    LayerSpec(
        "Flatten", "shape", "Flattens each sample into one long vector (e.g. 64x2x2 becomes 256).",
        params=(Int("start_dim", 1, 1, 8, help="first dimension to flatten, counting the batch as 0"),),
        build=lambda p, s: module("Flatten", p["start_dim"]), prefix="flatten",
        cases=(case((4, 3, 3), (36,)), case((4, 3, 3), (4, 9), start_dim=2)),
        doc=("Joins every dimension from start_dim on into one: 64x4x4 becomes 1024. Put it between the "
             "last convolution or pooling and the first Linear."),
        formula="C x H x W → C·H·W",
    ),
    LayerSpec(
        "Reshape", "shape", "Gives each sample a new shape with the same number of values; one size may be -1.",
        params=(Ints("shape", [-1], min=-1, max=1_000_000, help="new shape without the batch, e.g. 16x4x4"),),
        forward=_reshape, check=_reshape_check, prefix="reshape",
        cases=(case((4, 3, 3), (36,)), case((4, 3, 3), (9, 4), shape=[9, 4]), case((36,), (4, 3, 3), shape=[-1, 3, 3])),
        summary=lambda p: f"to {format_shape(p['shape'])}",
        doc=("Rearranges each sample's values into a new shape with the same count; -1 stands for the "
             "size that makes the count right. E.g. 1x28x28 → 28x28 to read an image row by row with an "
             "LSTM."),
    ),
    LayerSpec(
        "Permute", "shape", "Reorders dimensions, e.g. 0,2,1 swaps the last two (the batch stays at 0).",
        params=(Ints("dims", [0, 2, 1], min=0, max=8, help="new order of the dimensions, batch first"),),
        forward=_permute, check=_permute_check, prefix="permute",
        cases=(case((4, 6), (6, 4)), case((2, 3, 4), (4, 2, 3), dims=[0, 3, 1, 2])),
        summary=lambda p: ",".join(map(str, p["dims"])),
        doc=("Reorders dimensions without changing any value: 0,2,1 turns channels x length into length x"
             " channels (e.g. before an LSTM that reads a Conv1d's output)."),
    ),
]
