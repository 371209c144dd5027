"""Activations and other functions of each element (they run on a block output in any order of its axes)."""
from __future__ import annotations

from ...onnx_import.refusals import Refusal
from ..values import Val
from . import handles
from .common import block_dim, number, shared, tensor_of, weight

SIMPLE = {"aten.relu.default": "ReLU", "aten.sigmoid.default": "Sigmoid", "aten.tanh.default": "Tanh",
          "aten.hardsigmoid.default": "HardSigmoid", "aten.hardswish.default": "HardSwish",
          "aten.silu.default": "SiLU", "aten.mish.default": "Mish", "aten.abs.default": "Abs",
          "aten.exp.default": "Exp"}


@handles(*SIMPLE)
def simple(imp, node):
    return imp.unary(node.val(0), SIMPLE[node.op], {}, node)


@handles("aten.hardtanh.default")
def hardtanh(imp, node):
    low, high = node.arg(1, "min_val", -1.0), node.arg(2, "max_val", 1.0)
    if (low, high) != (0.0, 6.0):
        raise Refusal(f"clamps to {low:g}..{high:g} (ReLU6 clamps to 0..6)")
    return imp.unary(node.val(0), "ReLU6", {}, node)


@handles("aten.leaky_relu.default")
def leaky_relu(imp, node):
    return imp.unary(node.val(0), "LeakyReLU", {"negative_slope": float(node.arg(1, "negative_slope", 0.01))}, node)


@handles("aten.elu.default")
def elu(imp, node):
    if node.arg(2, "scale", 1) != 1 or node.arg(3, "input_scale", 1) != 1:
        raise Refusal("scales its input or output (SELU and the like have no block)")
    return imp.unary(node.val(0), "ELU", {"alpha": float(node.arg(1, "alpha", 1.0))}, node)


@handles("aten.gelu.default")
def gelu(imp, node):
    return imp.unary(node.val(0), "GELU", {"approximate": node.arg(1, "approximate", "none")}, node)


@handles("aten.prelu.default")
def prelu(imp, node):
    x, w = node.val(0), weight(node, 1)
    count = tensor_of(w).numel()
    if count > 1:  # one slope per channel (torch's axis 1): the block's channels must be that axis
        x = imp.val(imp.port(x, node))
    return Val(imp.add("PReLU", {"per_channel": count > 1}, [x.port], node, {"weight": w}, shares=shared(w)), x.axes)


def _softmax(imp, node, layer: str):
    x = node.val(0)
    if node.arg(2, "half_to_float", None) not in (None, False) and not isinstance(node.arg(2), bool):
        raise Refusal("changes the dtype")
    dim = block_dim(x, int(node.arg(1, "dim")), "normalizes")
    return imp.unary(x, layer, {"dim": dim}, node)


@handles("aten.softmax.int", "aten._softmax.default")
def softmax(imp, node):
    return _softmax(imp, node, "Softmax")


@handles("aten.log_softmax.int", "aten._log_softmax.default")
def log_softmax(imp, node):
    return _softmax(imp, node, "LogSoftmax")


@handles("aten.dropout.default")
def dropout(imp, node):
    return imp.unary(node.val(0), "Dropout", {"p": float(node.arg(1, "p", 0.5))}, node)


@handles("aten.feature_dropout.default")
def dropout2d(imp, node):
    x = imp.val(imp.port(node.val(0), node))
    if len(imp.shape_of(x.port)) != 3:
        raise Refusal("drops channels of a tensor that is not an image (Dropout2d drops image channels)")
    return imp.unary(x, "Dropout2d", {"p": float(node.arg(1, "p", 0.5))}, node)


@handles("aten.pow.Tensor_Scalar")
def power(imp, node):
    exponent = number(node.arg(1))
    raise Refusal(f"raises to the power {exponent:g} (there is no power block)" if exponent is not None
                  else "raises to a power (there is no power block)")
