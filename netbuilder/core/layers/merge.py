"""Blocks that combine several tensors. Input order follows the ports: in1, in2, ..."""
from __future__ import annotations

import functools
import operator

from .spec import Bool, Int, LayerSpec, case, check_dim, format_shape

_INPUTS = Int("inputs", 2, 2, 16, help="number of input ports")
MAX_CONCAT = 128  # DenseNet-201 joins 49 tensors in one place


def broadcast_problem(shapes: list) -> str | None:
    """A complaint unless the shapes broadcast: the same rank, and in each dimension equal sizes or 1
    (squeeze-and-excitation: 64x1x1 times 64x8x8). The batch is never broadcast."""
    for i, shape in enumerate(shapes[1:], start=2):
        if len(shape) != len(shapes[0]) or any(a != b and 1 not in (a, b) for a, b in zip(shapes[0], shape)):
            return (f"inputs must have the same shape: in1 is {format_shape(shapes[0])}, in{i} is "
                    f"{format_shape(shape)} (a size of 1 may stand for any)")
    return None


def _broadcast_check(p: dict, shapes: list) -> str | None:
    return broadcast_problem(shapes)


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


def _matmul_check(p: dict, shapes: list) -> str | None:
    a, b = shapes
    if len(a) < 2 or len(b) != len(a):
        return (f"multiplies matrices: in1 and in2 need the same rank, at least 2 (rows x columns), "
                f"got {format_shape(a)} and {format_shape(b)}")
    rows_b = b[-1] if p["transpose"] else b[-2]
    if a[-1] != rows_b:
        which = "the last size of in2 (it is transposed)" if p["transpose"] else "the second-to-last size of in2"
        return f"in1 is {format_shape(a)}, in2 is {format_shape(b)}: the last size of in1 must equal {which}"
    return broadcast_problem([a[:-2], b[:-2]]) and (
        f"the leading sizes must match or be 1: in1 is {format_shape(a)}, in2 is {format_shape(b)}")


def _add(m, *xs, **_params):
    return functools.reduce(operator.add, xs)


def _multiply(m, *xs, **_params):
    return functools.reduce(operator.mul, xs)


def _subtract(m, a, b, **_params):
    return a - b


def _matmul(m, a, b, transpose, **_params):
    import torch

    return torch.matmul(a, b.transpose(-2, -1) if transpose else b)


def _concat(m, *xs, dim, **_params):
    import torch

    return torch.cat(list(xs), dim=dim)


LAYERS = [
    LayerSpec(
        "Add", "merge",
        "Adds its inputs element by element (a residual connection); a size 1 is repeated to match.",
        params=(_INPUTS,), forward=_add, inputs="inputs", check=_broadcast_check, prefix="add",
        cases=(case((4, 6, 6), (4, 6, 6)), case((5,), (5,), inputs=3),
               case({"in1": (4, 6, 6), "in2": (4, 1, 1)}, (4, 6, 6))),
        doc=("Adds tensors element by element. ResNet's residual connection: a block's output plus its input "
             "lets very deep networks train. A size of 1 is repeated to match the other input."),
        formula="y = in1 + in2 + …",
    ),
    LayerSpec(
        "Multiply", "merge",
        "Multiplies its inputs element by element (gating; squeeze-and-excitation scales 64x8x8 by 64x1x1).",
        params=(_INPUTS,), forward=_multiply, inputs="inputs", check=_broadcast_check, prefix="mul",
        cases=(case((4, 6, 6), (4, 6, 6)), case((5,), (5,), inputs=3),
               case({"in1": (4, 6, 6), "in2": (4, 1, 1)}, (4, 6, 6))),
        doc=("Multiplies tensors element by element, e.g. to gate a signal by the sigmoid of another; a size of 1 "
             "is repeated (squeeze-and-excitation scales each channel)."),
        formula="y = in1 · in2 · …",
    ),
    LayerSpec(
        "Subtract", "merge", "in1 minus in2, element by element; a size 1 is repeated to match.",
        forward=_subtract, inputs=2, check=_broadcast_check, prefix="sub",
        cases=(case((3, 5), (3, 5)), case({"in1": (1, 5), "in2": (3, 1)}, (3, 5))),
        doc=("Subtracts in2 from in1 element by element; the order of the ports matters. Both inputs need the "
             "same rank, and a size of 1 is repeated to match the other (1x5 minus 3x1 gives 3x5). Followed by "
             "Abs it measures how two embeddings differ, as in a Siamese network."),
        formula="y = in1 − in2",
    ),
    LayerSpec(
        "MatMul", "merge",
        "Matrix product of in1 and in2 over their last two dimensions (attention: queries x keys).",
        params=(Bool("transpose", False, help="multiply by in2 with its last two dimensions swapped (q kᵀ)"),),
        forward=_matmul, inputs=2, check=_matmul_check, prefix="matmul",
        summary=lambda p: "in1 · in2ᵀ" if p["transpose"] else "in1 · in2",
        cases=(case({"in1": (2, 5, 4), "in2": (2, 4, 3)}, (2, 5, 3)),  # 2 heads: (5x4)(4x3)
               case({"in1": (6, 8), "in2": (7, 8)}, (6, 7), transpose=True),  # scores of 6 queries on 7 keys
               case({"in1": (3, 5, 4), "in2": (1, 4, 2)}, (3, 5, 2))),
        doc=("Multiplies matrices: in1 of n x k by in2 of k x m gives n x m; leading dimensions (such as heads) "
             "are matched one to one, and a size of 1 there is repeated. No weights. It builds attention by hand:"
             " queries times keys with transpose on gives the scores, then Scale, Softmax, and a second MatMul "
             "with the values."),
        formula="y[i, j] = Σ_k in1[i, k] · in2[k, j]  (with transpose: in2[j, k])",
    ),
    LayerSpec(
        "Concat", "merge", "Joins its inputs along a dimension (1: channels), in port order.",
        params=(Int("inputs", 2, 2, MAX_CONCAT, help="number of input ports"),
                Int("dim", 1, -8, 8, help="dimension to join along, counting the batch as 0")),
        forward=_concat, inputs="inputs", check=_concat_check, prefix="cat",
        cases=(case((4, 6, 6), (8, 6, 6)), case((2, 5), (2, 15), inputs=3, dim=-1),
               case((2, 3, 3), (64, 3, 3), inputs=32)),  # a DenseNet block's 32 feature maps
        doc=("Joins its inputs along dim (1: channels), in port order: 64x28x28 and 32x28x28 give "
             "96x28x28. The four branches of an Inception module meet this way. Every other dimension "
             "must match."),
    ),
]
