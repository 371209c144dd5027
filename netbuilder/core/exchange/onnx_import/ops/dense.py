"""Gemm and MatMul (a Linear with a constant matrix, a MatMul block between two computed tensors), and
Gather (an Embedding when it looks up rows of a constant, a Select or Slice when it picks computed entries)."""
from __future__ import annotations

import numpy as np

from ..refusals import Refusal
from ..views import View
from . import handles
from .common import ints, last_axis, on_axis
from .conv import weight_hint


def linear(imp, node, view: View, weight: np.ndarray, bias: np.ndarray | None, weight_input: int = 1) -> View:
    """A Linear block (weight: out x in) on the view's last axis."""
    canon = last_axis(imp, node, view, "multiplies by a matrix")
    weights = {"weight": weight} | ({"bias": bias} if bias is not None else {})
    port = imp.add("Linear", {"out_features": int(weight.shape[0]), "bias": bias is not None}, [canon.port], node,
                   weights, hint=weight_hint(node.weight_name(weight_input)), shares=node.weight_source(weight_input))
    return imp.rewrap(port, canon)


@handles("Gemm", attrs={"alpha", "beta", "transA", "transB"}, inputs=3)
def gemm(imp, node):
    view, weight = node.view(), node.const(1)
    if weight is None or node.attr("transA", 0) or view.rank != 2:
        raise Refusal("only x @ W^T + b with a constant W has a block")
    weight = weight if node.attr("transB", 0) else weight.T
    if float(node.attr("alpha", 1.0)) != 1.0:  # (a copy only where it changes something: weights are big)
        weight = weight * float(node.attr("alpha", 1.0))
    bias = node.const(2)
    if node.input(2) is not None and bias is None:
        raise Refusal("its bias C is not a constant")
    if bias is not None:
        bias = bias * float(node.attr("beta", 1.0))
        rows = bias.reshape(-1, bias.shape[-1]) if bias.ndim == 2 else bias.reshape(1, -1)
        if bias.ndim > 2 or (rows != rows[:1]).any():
            raise Refusal(f"its bias C of shape {'x'.join(map(str, bias.shape))} differs from one sample to the next")
        bias = np.broadcast_to(rows[0], (weight.shape[0],))
    return linear(imp, node, view, weight, bias)


@handles("MatMul", inputs=2)
def matmul(imp, node):
    a, b = node.input(0), node.input(1)
    if isinstance(a, View) and isinstance(b, np.ndarray):
        if b.ndim != 2:
            raise Refusal("multiplies by a constant that is not a matrix")
        return linear(imp, node, a, b.T, None)
    if not (isinstance(a, View) and isinstance(b, View)):
        raise Refusal("multiplies a constant by a computed tensor")
    if a.rank != b.rank or a.rank < 3:
        raise Refusal(f"multiplies tensors of {a.rank} and {b.rank} axes; MatMul needs the same number, with the batch")
    ca, cb = imp.canonical(a, node), imp.canonical(b, node)
    if (ca.axes, ca.batch_axis, ca.side) != (cb.axes, cb.batch_axis, cb.side) or ca.batch_axis >= a.rank - 2 \
            or ca.side != "alone":
        raise Refusal("multiplies tensors whose batches sit in different places")
    port = imp.add("MatMul", {}, [ca.port, cb.port], node)
    return imp.rewrap(port, ca)


@handles("Gather", attrs={"axis"}, inputs=2)
def gather(imp, node):
    data, index = node.input(0), node.input(1)
    axis = int(node.attr("axis", 0))
    if isinstance(data, np.ndarray) and isinstance(index, View):
        if data.ndim != 2 or axis != 0 or index.dtype != "int64":
            raise Refusal("only looking up rows of a constant matrix (an embedding) has a block")
        port = imp.add("Embedding", {"num_embeddings": int(data.shape[0]), "embedding_dim": int(data.shape[1])},
                       [imp.block(index, node)], node, {"weight": data}, hint=weight_hint(node.weight_name(0)),
                       shares=node.weight_source(0))
        return imp.view_of(port)
    if not isinstance(data, View) or not isinstance(index, np.ndarray):
        raise Refusal("only picking constant indices of a computed tensor, or rows of a constant, has a block")
    canon, block_axis = on_axis(imp, node, data, axis, "picks entries")
    size = data.shape[axis % data.rank]
    picks = [i % size for i in ints(index)]
    if index.ndim == 0:
        port = imp.add("Select", {"dim": block_axis, "index": picks[0]}, [canon.port], node)
        return imp.rewrap(port, canon.without(axis % data.rank))
    if index.ndim == 1 and picks == list(range(picks[0], picks[0] + len(picks))):
        port = imp.add("Slice", {"dim": block_axis, "start": picks[0], "end": picks[-1] + 1}, [canon.port], node)
        return imp.rewrap(port, canon)
    raise Refusal(f"picks the entries {picks[:6]} (only one index, or a run of them, has a block)")

