"""Add, Sub, Mul, Div and Sum: between computed tensors (broadcasting), or with a constant.

A constant scalar becomes a Scale; a constant vector after a Linear, a convolution or a batch norm goes
into that block's bias (or scales the batch norm); anything else is a learned tensor of its own: a Bias or
a LayerScale per feature, channel or element, or a PositionalEncoding for a (sequence, features) table.
"""
from __future__ import annotations

import math

import numpy as np

from ..folding import Batched
from ..refusals import Refusal
from ..views import View
from . import handles
from .common import aligned, same_layout, scalar

MERGE = {"Add": "Add", "Mul": "Multiply", "Sub": "Subtract", "Sum": "Add"}
CHANNEL_BLOCKS = {"Conv1d", "Conv2d", "ConvTranspose2d", "BatchNorm1d", "BatchNorm2d"}


def _operand(value):
    return value.array if isinstance(value, Batched) else value  # repeated over the batch: it broadcasts


@handles("Add", "Sub", "Mul", "Div", inputs=2)
def binary(imp, node):
    a, b = _operand(node.input(0)), _operand(node.input(1))
    if isinstance(a, View) and isinstance(b, View):
        return merge(imp, node, [a, b])
    if isinstance(a, View) and isinstance(b, np.ndarray):
        return with_constant(imp, node, a, b, constant_first=False)
    if isinstance(b, View) and isinstance(a, np.ndarray):
        return with_constant(imp, node, b, a, constant_first=True)
    raise Refusal("its inputs are neither computed tensors nor constants")


@handles("Sum", inputs=64)
def sum_(imp, node):
    inputs = [node.view(i) for i in range(len(node.ins))]
    return inputs[0] if len(inputs) == 1 else merge(imp, node, inputs)


def merge(imp, node, inputs: list[View]) -> View:
    if node.op == "Div":
        raise Refusal("divides one computed tensor by another (there is no Divide block)")
    layer = MERGE[node.op]
    params = {} if layer == "Subtract" else {"inputs": len(inputs)}
    if all(same_layout(inputs[0], v) for v in inputs[1:]):  # e.g. x * sigmoid(x): no need to rearrange
        port = imp.add(layer, params, [v.port for v in inputs], node)
        return View(port, inputs[0].axes, inputs[0].groups, imp.dtype_of(port))
    if any(v.rank != inputs[0].rank for v in inputs):
        raise Refusal("broadcasts tensors of different ranks")
    canons = [imp.canonical(v, node) for v in inputs]
    if any((c.axes, c.batch_axis, c.side) != (canons[0].axes, canons[0].batch_axis, canons[0].side) for c in canons):
        raise Refusal("combines tensors whose batches sit in different places")
    port = imp.add(layer, params, [c.port for c in canons], node)
    return imp.rewrap(port, canons[0])


def with_constant(imp, node, view: View, c: np.ndarray, constant_first: bool) -> View:
    op, c = node.op, np.asarray(c, dtype=np.float32)
    if op == "Div":
        if constant_first:
            raise Refusal("divides a constant by a computed tensor (there is no reciprocal block)")
        op, c = "Mul", 1.0 / c
    if op == "Sub" and not constant_first:
        op, c = "Add", -c
    value = scalar(c) if c.ndim <= view.rank else None
    if op == "Sub":  # c - x
        if value is not None:
            return imp.unary(view, "Scale", {"factor": -1.0, "offset": value}, node)
        view, op = imp.unary(view, "Scale", {"factor": -1.0}, node), "Add"
    if value is not None:
        return imp.unary(view, "Scale", {"factor": value} if op == "Mul" else {"offset": value}, node)
    canon = imp.canonical(view, node)
    c = aligned(c, view, canon)
    if _fused(imp, canon.port, c, op):
        return imp.rewrap(canon.port, canon)
    shape = imp.shape_of(canon.port)
    if op == "Add" and is_causal_mask(c, shape):
        return imp.rewrap(imp.add("CausalMask", {}, [canon.port], node), canon)
    if not np.isfinite(c).all():
        raise Refusal("adds a constant with infinite values that is not a causal mask")
    if op == "Add" and len(shape) == 2 and c.shape == shape:
        table = sinusoid_table(*shape)
        kind = "sinusoidal" if table is not None and np.allclose(c, table, atol=1e-5) else "learned"
        port = imp.add("PositionalEncoding", {"kind": kind}, [canon.port], node, {"": c} if kind == "learned" else {})
        return imp.rewrap(port, canon)
    over, weight = _learned(c, shape)
    port = imp.add("Bias" if op == "Add" else "LayerScale", {"over": over}, [canon.port], node, {"": weight})
    return imp.rewrap(port, canon)


def _learned(c: np.ndarray, shape: tuple) -> tuple[str, np.ndarray]:
    """Which learned tensor a constant is (per feature, channel or element) and its values in that shape."""
    if all(d == 1 for d in c.shape[:-1]) and c.shape[-1] == shape[-1]:
        return "features", c.reshape(-1)
    if c.shape[0] == shape[0] and all(d == 1 for d in c.shape[1:]):
        return "channels", c.reshape((shape[0],) + (1,) * (len(shape) - 1))
    return "elements", np.broadcast_to(c, shape)


def _fused(imp, port, c: np.ndarray, op: str) -> bool:
    """Put a per-feature constant into the bias of the Linear (per-channel: convolution, batch norm) that made
    the tensor, or scale the batch norm, when nothing else reads that block yet."""
    node = imp.graph.node(port.node_id)
    if imp.consumers(port) or port.port != "out" or c.ndim == 0:
        return False
    if node.type == "Linear" and op == "Add" and all(d == 1 for d in c.shape[:-1]):
        size = node.params["out_features"]
    elif node.type in CHANNEL_BLOCKS and all(d == 1 for d in c.shape[1:]):
        size = imp.shape_of(port)[0]
        if op == "Mul" and not node.type.startswith("BatchNorm"):
            return False
    else:
        return False
    if c.size not in (1, size):
        return False
    vector = np.broadcast_to(c.reshape(-1), (size,)).astype(np.float32)
    if op == "Mul":
        imp.set_weight(port, "weight", imp.weight(port, "weight") * vector)
        imp.set_weight(port, "bias", imp.weight(port, "bias") * vector)
        return True
    if node.type.startswith("BatchNorm") or node.params.get("bias"):
        imp.set_weight(port, "bias", imp.weight(port, "bias") + vector)
        return True
    imp.graph.set_param(node.id, "bias", True)
    imp.set_weight(port, "bias", vector)
    imp.refresh(node.id)
    return True


def sinusoid_table(length: int, features: int) -> np.ndarray | None:
    """The table of PositionalEncoding(sinusoidal): sin and cos of position / 10000^(2i / features)."""
    if features % 2:
        return None
    position = np.arange(length, dtype=np.float64)[:, None]
    rate = np.exp(np.arange(0, features, 2, dtype=np.float64) * (-math.log(10000.0) / features))
    angles = position * rate
    return np.stack([np.sin(angles), np.cos(angles)], axis=-1).reshape(length, features)


def causal_hidden(rows: int, columns: int) -> np.ndarray:
    return np.arange(columns)[None, :] > np.arange(rows)[:, None]


def is_causal_mask(c: np.ndarray, shape: tuple, hidden_value: np.ndarray | None = None) -> bool:
    """0 on and below the diagonal of the last two axes, minus infinity (or below -1e9) above it."""
    if len(shape) < 2 or c.ndim < 2 or c.shape[-2:] != tuple(shape[-2:]) or any(d != 1 for d in c.shape[:-2]):
        return False
    hidden = causal_hidden(*shape[-2:])
    values = c.reshape(shape[-2:])
    return bool(hidden.any() and (values[~hidden] == 0).all() and (values[hidden] <= -1e9).all())


@handles("Where", inputs=3)
def where(imp, node):
    """x.masked_fill(mask, -inf): Where(mask, -inf, x) with a causal mask."""
    condition, fill, x = node.const(0), node.const(1), node.input(2)
    if condition is None or fill is None or not isinstance(x, View) or fill.size != 1 \
            or float(fill.reshape(-1)[0]) > -1e9:
        raise Refusal("only hiding attention scores behind a constant causal mask has a block")
    canon = imp.canonical(x, node)
    shape = imp.shape_of(canon.port)
    mask = aligned(condition.astype(np.float32), x, canon)
    if not is_causal_mask(np.where(mask > 0, -np.inf, 0.0), shape):
        raise Refusal("hides scores behind a mask that is not causal")
    return imp.rewrap(imp.add("CausalMask", {}, [canon.port], node), canon)
