"""Batch norm, layer norm, and local response norm (a module read whole: it exports as a dozen operators)."""
from __future__ import annotations

import torch

from ...onnx_import.refusals import Refusal
from ..naming import op_name
from ..values import Param, Val
from . import handles, reads
from .common import last_axes, number, optional_weight, shared


def _batch_norm(imp, node, x, w, b, mean, var, momentum, eps) -> Val:
    if w is None or b is None:
        raise Refusal("a batch norm without a learned scale and shift (affine=False) has no block")
    if mean is None or var is None:
        raise Refusal("a batch norm without running statistics has no block")
    port = imp.port(x, node)
    rank = len(imp.shape_of(port))
    if rank not in (1, 2, 3):
        raise Refusal(f"normalizes a {rank + 1}-D tensor (1-D and 2-D batch norms have blocks)")
    momentum = 0.1 if momentum in (None, 0.0) else float(momentum)  # eval mode passes 0 for momentum=None
    weights = {"weight": w, "bias": b, "running_mean": mean, "running_var": var,
               "num_batches_tracked": _batches(imp, mean)}
    layer = "BatchNorm2d" if rank == 3 else "BatchNorm1d"
    return imp.val(imp.add(layer, {"eps": float(eps), "momentum": momentum}, [port], node, weights, shares=shared(w)))


def _batches(imp, mean):
    """The module's num_batches_tracked, when the running mean is its buffer."""
    if isinstance(mean, Param):
        name = mean.name.rsplit(".", 1)[0] + ".num_batches_tracked" if "." in mean.name else "num_batches_tracked"
        if name in imp.program.state_dict:
            return Param(name, imp.program.state_dict[name])
    return torch.tensor(0, dtype=torch.int64)


@handles("aten.batch_norm.default")
def batch_norm(imp, node):
    if node.arg(5, "training", False):
        raise Refusal("normalizes with the batch's own statistics (exported in training mode)")
    return _batch_norm(imp, node, node.val(0), optional_weight(node, 1, "weight"), optional_weight(node, 2, "bias"),
                       optional_weight(node, 3, "running_mean"), optional_weight(node, 4, "running_var"),
                       node.arg(6, "momentum"), node.arg(7, "eps", 1e-5))


@handles("aten._native_batch_norm_legit_no_training.default")
def batch_norm_decomposed(imp, node):
    out = _batch_norm(imp, node, node.val(0), optional_weight(node, 1), optional_weight(node, 2),
                      optional_weight(node, 3), optional_weight(node, 4), node.arg(5), node.arg(6))
    return [out, None, None]


@handles("aten.layer_norm.default", "aten.native_layer_norm.default")
def layer_norm(imp, node):
    shape = [int(d) for d in node.arg(1, "normalized_shape")]
    w, b = optional_weight(node, 2, "weight"), optional_weight(node, 3, "bias")
    eps = float(node.arg(4, "eps", 1e-5))
    x = last_axes(imp, node, node.val(0), len(shape), "normalizes")
    if w is None and b is not None:
        raise Refusal("a layer norm with a shift but no scale has no block")
    weights = ({"weight": w} if w is not None else {}) | ({"bias": b} if b is not None else {})
    params = {"dims": len(shape), "eps": eps, "elementwise_affine": w is not None, "bias": b is not None}
    out = Val(imp.add("LayerNorm", params, [x.port], node, weights, shares=shared(w)), x.axes)
    return [out, None, None] if node.op == "aten.native_layer_norm.default" else out


@reads("LocalResponseNorm")
def local_response_norm(imp, region):
    """size from the window of its 3-D average pool, alpha, k and beta from the constants it uses."""
    module = imp.live(region.call)
    if module is not None:
        params = {"size": module.size, "alpha": float(module.alpha), "beta": float(module.beta), "k": float(module.k)}
    else:
        pools = region.ops("aten.avg_pool3d.default", "aten.avg_pool2d.default")
        scalars = {op_name(n): number(n.args[1]) for n in region.ops("aten.mul.Tensor", "aten.add.Tensor",
                                                                        "aten.pow.Tensor_Scalar")
                   if number(n.args[1]) is not None}
        if not pools or len(scalars) != 3:
            raise Refusal("its operators are not those of torch's local response norm")
        params = {"size": int(pools[0].args[1][0]), "alpha": scalars["aten.mul.Tensor"],
                  "k": scalars["aten.add.Tensor"], "beta": scalars["aten.pow.Tensor_Scalar"]}
    if params["size"] % 2 == 0:
        raise Refusal(f"an even size ({params['size']}) has no block")
    (x,) = [v for v in region.tensor_inputs(imp.values) if isinstance(v, Val)][:1] or [None]
    if x is None:
        raise Refusal("it is not called on a computed tensor")
    out = imp.val(imp.add("LocalResponseNorm", params, [imp.port(x)], imp.region_op(region)))
    return {n: out for n in region.outputs}
