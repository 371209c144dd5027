"""Operators that exporters write out in pieces, put back together before the walk.

- GELU as x * 0.5 * (1 + Erf(x / sqrt(2))) (every opset before 20; the factors in any of the exporters' orders)
- layer norm as ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div (then Mul and Add) before opset 17
- SiLU as x * Sigmoid(x), HardSwish as x * HardSigmoid(x), Mish as x * Tanh(Softplus(x))

A pattern is fused only when its inner values are used by nothing else; the fused node takes the place
of the pattern's last node and the name of its first (for block names).
"""
from __future__ import annotations

import math
from collections import defaultdict

import numpy as np


class _Graph:
    def __init__(self, nodes: list, constants: dict, outputs: set[str]) -> None:
        from onnx import helper, numpy_helper

        self.producer = {name: node for node in nodes for name in node.output}
        self.consumers: dict[str, list] = defaultdict(list)
        for node in nodes:
            for name in node.input:
                self.consumers[name].append(node)
        self.constants = dict(constants)
        for node in nodes:
            if node.op_type == "Constant" and node.attribute:
                a = node.attribute[0]
                value = helper.get_attribute_value(a)
                if a.name == "value":
                    self.constants[node.output[0]] = numpy_helper.to_array(value)
                elif a.name in ("value_float", "value_int", "value_floats", "value_ints"):
                    self.constants[node.output[0]] = np.array(value)
        for node in nodes:  # a weight passed on by an Identity (the exporter's deduplicated initializers)
            if node.op_type == "Identity" and node.input and node.input[0] in self.constants:
                self.constants[node.output[0]] = self.constants[node.input[0]]
        self.outputs = outputs

    def only_user(self, name: str):
        """The single node reading `name`, if exactly one does and it is not a graph output."""
        users = self.consumers.get(name, [])
        return users[0] if len(users) == 1 and name not in self.outputs else None

    def const(self, name: str) -> float | None:
        value = self.constants.get(name)
        return float(value.reshape(-1)[0]) if isinstance(value, np.ndarray) and value.size == 1 else None

    def made_by(self, name: str, op: str):
        node = self.producer.get(name)
        return node if node is not None and node.op_type == op else None

    def other(self, node, name: str) -> str | None:
        """The other input of a two-input node."""
        ins = list(node.input)
        if len(ins) != 2 or name not in ins:
            return None
        return ins[1] if ins[0] == name else ins[0]

    def attr(self, node, name: str, default=None):
        from onnx import helper

        for a in node.attribute:
            if a.name == name:
                return helper.get_attribute_value(a)
        return default


def fuse(nodes: list, constants: dict, outputs: set[str]) -> list:
    """The nodes with every pattern replaced by one node."""
    graph = _Graph(nodes, constants, outputs)
    replaced: dict[int, object] = {}  # id of a pattern's last node -> the fused node
    removed: set[int] = set()
    for node in nodes:
        if id(node) in removed:
            continue
        for match in (_gelu, _layer_norm, _gated):
            found = match(graph, node)
            if found and not any(id(n) in removed for n in found[0]):
                pattern, fused = found
                removed.update(id(n) for n in pattern)
                replaced[id(pattern[-1])] = fused
                break
    return [replaced.get(id(node), node) for node in nodes if id(node) not in removed or id(node) in replaced]


def _node(op: str, inputs: list[str], output: str, name: str, **attrs):
    from onnx import helper

    return helper.make_node(op, inputs, [output], name=name, **attrs)


def _close(value: float | None, wanted: float, tolerance: float = 1e-4) -> bool:
    return value is not None and abs(value - wanted) <= tolerance * max(1.0, abs(wanted))


def _gelu(g: _Graph, erf):
    """Erf(x / sqrt 2) -> + 1 -> * x -> * 0.5 (or x * 0.5 first, or * 0.5 then * x)."""
    if erf.op_type != "Erf":
        return None
    scale = g.producer.get(erf.input[0])
    if scale is None or scale.op_type not in ("Div", "Mul") or g.only_user(scale.output[0]) is not erf:
        return None
    x = scale.input[0]
    wanted = math.sqrt(2) if scale.op_type == "Div" else 1 / math.sqrt(2)
    add = g.only_user(erf.output[0])
    if not _close(g.const(scale.input[1]), wanted) or add is None or add.op_type != "Add" \
            or not _close(g.const(g.other(add, erf.output[0]) or ""), 1.0):
        return None
    times = g.only_user(add.output[0])
    if times is None or times.op_type != "Mul":
        return None
    partner = g.other(times, add.output[0])
    if _close(g.const(partner or ""), 0.5):  # 0.5 * (1 + erf) first, then times x (the dynamo exporter, opset 18)
        final = g.only_user(times.output[0])
        if final is None or final.op_type != "Mul" or g.other(final, times.output[0]) != x:
            return None
        pattern = [scale, erf, add, times, final]
    elif partner == x:
        half = g.only_user(times.output[0])
        if half is None or half.op_type != "Mul" or not _close(g.const(g.other(half, times.output[0]) or ""), 0.5):
            return None
        pattern = [scale, erf, add, times, half]
    else:
        half = g.made_by(partner or "", "Mul")
        if half is None or g.other(half, x) is None or not _close(g.const(g.other(half, x)), 0.5) \
                or g.only_user(half.output[0]) is not times:
            return None
        pattern = [half, scale, erf, add, times]
    return pattern, _node("Gelu", [x], pattern[-1].output[0], scale.name)


def _axes(g: _Graph, node) -> list[int] | None:
    axes = g.attr(node, "axes")
    if axes is None and len(node.input) > 1:
        value = g.constants.get(node.input[1])
        axes = value.reshape(-1).tolist() if isinstance(value, np.ndarray) else None
    return [int(a) for a in axes] if axes is not None else None


def _layer_norm(g: _Graph, mean):
    """x - mean(x), divided by sqrt(mean of its square + eps), then * scale + bias."""
    if mean.op_type != "ReduceMean" or not g.attr(mean, "keepdims", 1):
        return None
    axes, x = _axes(g, mean), mean.input[0]
    if not axes or any(a >= 0 for a in axes) or sorted(axes) != list(range(min(axes), 0)):
        return None
    sub = g.only_user(mean.output[0])
    if sub is None or sub.op_type != "Sub" or list(sub.input) != [x, mean.output[0]]:
        return None
    users = g.consumers.get(sub.output[0], [])
    power = next((u for u in users if u.op_type == "Pow"), None)
    divide = next((u for u in users if u.op_type == "Div"), None)
    if len(users) != 2 or power is None or divide is None or not _close(g.const(power.input[1]), 2.0) \
            or divide.input[0] != sub.output[0]:
        return None
    variance = g.only_user(power.output[0])
    if variance is None or variance.op_type != "ReduceMean" or _axes(g, variance) != axes:
        return None
    add = g.only_user(variance.output[0])
    eps = g.const(g.other(add, variance.output[0]) or "") if add is not None and add.op_type == "Add" else None
    root = g.only_user(add.output[0]) if eps is not None else None
    if root is None or root.op_type != "Sqrt" or g.only_user(root.output[0]) is not divide \
            or divide.input[1] != root.output[0]:
        return None
    pattern, scale, bias = [mean, sub, power, variance, add, root, divide], "", ""
    times = g.only_user(divide.output[0])
    if times is not None and times.op_type == "Mul" and g.other(times, divide.output[0]) in g.constants:
        pattern.append(times)
        scale = g.other(times, divide.output[0])
        plus = g.only_user(times.output[0])
        if plus is not None and plus.op_type == "Add" and g.other(plus, times.output[0]) in g.constants:
            pattern.append(plus)
            bias = g.other(plus, times.output[0])
    return pattern, _node("LayerNormalization", [x, scale, bias], pattern[-1].output[0], mean.name,
                          axis=min(axes), epsilon=eps)


def _gated(g: _Graph, mul):
    """x * f(x): SiLU, HardSwish, Mish."""
    if mul.op_type != "Mul" or len(mul.input) != 2:
        return None
    for x, gate in (tuple(mul.input), tuple(reversed(mul.input))):
        inner = g.producer.get(gate)
        if inner is None or g.only_user(gate) is not mul or (inner.op_type != "Tanh" and list(inner.input[:1]) != [x]):
            continue
        if inner.op_type == "Sigmoid":
            return [inner, mul], _node("SiLU", [x], mul.output[0], inner.name)
        if inner.op_type == "HardSigmoid" and _close(g.attr(inner, "alpha", 0.2), 1 / 6, 1e-6) \
                and _close(g.attr(inner, "beta", 0.5), 0.5):
            return [inner, mul], _node("HardSwish", [x], mul.output[0], inner.name)
        if inner.op_type == "Tanh":
            softplus = g.made_by(inner.input[0], "Softplus")
            if softplus is not None and softplus.input[0] == x and g.only_user(softplus.output[0]) is inner:
                return [softplus, inner, mul], _node("Mish", [x], mul.output[0], softplus.name)
    return None
