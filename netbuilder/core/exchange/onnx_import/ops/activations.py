"""Elementwise activations (one block on the tensor as it is), softmax along an axis, Dropout, Identity."""
from __future__ import annotations

from ..refusals import Refusal
from . import handles
from .common import on_axis, scalar

SIMPLE = {"Relu": "ReLU", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Abs": "Abs", "Exp": "Exp", "HardSwish": "HardSwish",
          "Mish": "Mish", "SiLU": "SiLU"}  # SiLU: x * Sigmoid(x), fused by patterns.py


@handles(*SIMPLE)
def simple(imp, node):
    return imp.unary(node.view(), SIMPLE[node.op], {}, node)


@handles("LeakyRelu", attrs={"alpha"})
def leaky_relu(imp, node):
    return imp.unary(node.view(), "LeakyReLU", {"negative_slope": float(node.attr("alpha", 0.01))}, node)


@handles("Elu", attrs={"alpha"})
def elu(imp, node):
    return imp.unary(node.view(), "ELU", {"alpha": float(node.attr("alpha", 1.0))}, node)


@handles("Gelu", attrs={"approximate"})
def gelu(imp, node):
    return imp.unary(node.view(), "GELU", {"approximate": node.attr("approximate", "none")}, node)


@handles("HardSigmoid", attrs={"alpha", "beta"})
def hard_sigmoid(imp, node):
    alpha, beta = float(node.attr("alpha", 0.2)), float(node.attr("beta", 0.5))
    if abs(alpha - 1 / 6) > 1e-6 or abs(beta - 0.5) > 1e-6:
        raise Refusal(f"HardSigmoid with alpha {alpha:g}, beta {beta:g} differs from PyTorch's (1/6, 0.5)")
    return imp.unary(node.view(), "HardSigmoid", {}, node)


@handles("Clip", attrs={"min", "max"}, inputs=3)
def clip(imp, node):
    low = scalar(node.const(1)) if node.input(1) is not None else node.attr("min")
    high = scalar(node.const(2)) if node.input(2) is not None else node.attr("max")
    if (node.input(1) is not None and low is None) or (node.input(2) is not None and high is None):
        raise Refusal("its bounds are not constants")
    if low == 0 and high == 6:
        return imp.unary(node.view(), "ReLU6", {}, node)
    if low == 0 and high is None:
        return imp.unary(node.view(), "ReLU", {}, node)
    raise Refusal(f"only Clip(0, 6) (ReLU6) and Clip(0) (ReLU) have blocks, not Clip({low}, {high})")


@handles("Softmax", "LogSoftmax", attrs={"axis"})
def softmax(imp, node):
    view = node.view()
    axis = int(node.attr("axis", -1 if node.opset >= 13 else 1)) % view.rank
    if node.opset < 13 and any(d != 1 for d in view.shape[axis + 1:]):
        raise Refusal(f"before opset 13 it normalizes over every axis from {axis} on, which no block does")
    canon, block_axis = on_axis(imp, node, view, axis, "normalizes")
    port = imp.add(node.op, {"dim": block_axis}, [canon.port], node)
    return imp.rewrap(port, canon)


@handles("PRelu", inputs=2)
def prelu(imp, node):
    slope = node.const(1)
    if slope is None:
        raise Refusal("its slope is not a constant")
    view = node.view()
    if slope.size > 1 and (view.rank < 2 or slope.reshape(-1).size != view.shape[1]
                           or slope.ndim > 1 and slope.shape[0] != view.shape[1]):
        raise Refusal(f"a slope of shape {'x'.join(map(str, slope.shape))} is not one per channel")
    port = imp.add("PReLU", {"per_channel": slope.size > 1}, [imp.block(view, node)], node,
                   {"weight": slope.reshape(-1)})
    return imp.view_of(port)


@handles("Dropout", attrs={"ratio", "seed"}, inputs=3)
def dropout(imp, node):
    training = node.const(2)
    if node.input(2) is not None and (training is None or bool(training.reshape(-1)[0])):
        raise Refusal("it runs in training mode")
    ratio = node.attr("ratio", 0.5)
    if node.input(1) is not None:
        if node.const(1) is None:
            raise Refusal("its ratio is not a constant")
        ratio = scalar(node.const(1))
    return imp.unary(node.view(), "Dropout", {"p": float(ratio)}, node)


@handles("Identity")
def identity(imp, node):
    return node.input(0)


@handles("Neg")
def neg(imp, node):
    return imp.unary(node.view(), "Scale", {"factor": -1.0}, node)


@handles("Erf", "Softplus", "Sqrt", "Reciprocal", "Log")
def not_alone(imp, node):
    raise Refusal(f"{node.op} has no block of its own (only inside GELU, Mish or a layer norm)")


@handles("Pow", inputs=2)
def power(imp, node):
    exponent = node.const(1)
    what = f"to the power {float(exponent.reshape(-1)[0]):g}" if exponent is not None and exponent.size == 1 else \
        "to a power"
    raise Refusal(f"raises {what}: Pow has no block of its own (only inside a layer norm)")
