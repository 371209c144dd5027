"""BatchNormalization, LayerNormalization (also rebuilt from its pieces by patterns.py) and LRN."""
from __future__ import annotations

import numpy as np

from ..refusals import Refusal
from . import handles
from .common import on_axis
from .conv import weight_hint


@handles("BatchNormalization", attrs={"epsilon", "momentum", "spatial", "training_mode", "is_test"}, inputs=5)
def batch_norm(imp, node):
    if not node.attr("spatial", 1) or node.attr("training_mode", 0):
        raise Refusal("only inference with one statistic per channel has a block")
    scale, bias, mean, var = (node.const(i) for i in range(1, 5))
    if any(v is None for v in (scale, bias, mean, var)):
        raise Refusal("its statistics are not constants")
    port = imp.block(node.view(), node)
    rank = len(imp.shape_of(port))
    if rank not in (1, 2, 3):
        raise Refusal(f"normalizes a {rank + 1}-D tensor (1-D and 2-D batch norms have blocks)")
    params = {"eps": float(node.attr("epsilon", 1e-5)), "momentum": round(1.0 - float(node.attr("momentum", 0.9)), 6)}
    weights = {"weight": scale, "bias": bias, "running_mean": mean, "running_var": var,
               "num_batches_tracked": np.array(0, dtype=np.int64)}
    out = imp.add("BatchNorm2d" if rank == 3 else "BatchNorm1d", params, [port], node, weights,
                  hint=weight_hint(node.weight_name(1)))
    return imp.view_of(out)


@handles("LayerNormalization", attrs={"axis", "epsilon", "stash_type"}, inputs=3)
def layer_norm(imp, node):
    view = node.view()
    axis = int(node.attr("axis", -1)) % view.rank
    dims = view.rank - axis
    shape = tuple(view.shape[axis:])
    scale = node.const(1) if node.input(1) is not None else np.ones(shape, np.float32)  # a fused norm without one
    bias = node.const(2)
    if scale is None or (node.input(2) is not None and bias is None):
        raise Refusal("its scale and bias are not constants")
    canon, block_axis = on_axis(imp, node, view, axis, "normalizes")
    if [canon.axes[a] for a in range(axis, view.rank)] != list(range(block_axis, block_axis + dims)) \
            or canon.batch_axis > axis or block_axis + dims - 1 != len(imp.shape_of(canon.port)):
        raise Refusal("normalizes axes that are not the last ones once the batch is first")
    weights = {"weight": np.broadcast_to(scale, shape)}
    if bias is not None:
        weights["bias"] = np.broadcast_to(bias, shape)
    port = imp.add("LayerNorm", {"dims": dims, "eps": float(node.attr("epsilon", 1e-5)), "bias": bias is not None},
                   [canon.port], node, weights, hint=weight_hint(node.weight_name(1)))
    return imp.rewrap(port, canon)


@handles("LRN", attrs={"alpha", "beta", "bias", "size"})
def lrn(imp, node):
    size = int(node.attr("size"))
    if size % 2 == 0:
        raise Refusal(f"an even size ({size}) centres its window differently from PyTorch's")
    params = {"size": size, "alpha": float(node.attr("alpha", 1e-4)), "beta": float(node.attr("beta", 0.75)),
              "k": float(node.attr("bias", 1.0))}
    port = imp.add("LocalResponseNorm", params, [imp.block(node.view(), node)], node)
    return imp.view_of(port)
