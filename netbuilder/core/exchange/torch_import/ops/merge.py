"""Add, Sub, Mul, Div: between computed tensors (Add, Subtract, Multiply blocks), with a number (a Scale), with a
parameter (a learned Bias or LayerScale, a learned position table), or with a constant (a sinusoidal position
code, a causal mask, else a learned tensor that starts at the constant's values); and matrix products."""
from __future__ import annotations

import re

import torch

from ...onnx_import.ops.elementwise import is_causal_mask, sinusoid_table
from ...onnx_import.refusals import Refusal
from ..values import Batched, Param, Val
from . import handles
from .common import number, shared, tensor_of
from .dense import linear_block

MERGE = {"add": "Add", "sub": "Subtract", "mul": "Multiply"}
NORMALIZE = re.compile(r"normalize_(?P<input>\w+)_(?P<which>mean|std)")


def _op(node) -> str:
    return node.op.split(".")[1].lstrip("r") if node.op.startswith("aten.") else node.op


@handles("aten.add.Tensor", "aten.sub.Tensor", "aten.mul.Tensor", "aten.div.Tensor", "aten.add.Scalar",
         "aten.sub.Scalar", "aten.mul.Scalar", "aten.div.Scalar", "aten.rsub.Scalar", "aten.rsub.Tensor")
def binary(imp, node):
    op = _op(node)
    a, b = node.arg(0), node.arg(1)
    alpha = node.kwargs.get("alpha", 1)
    if node.op.startswith("aten.rsub"):
        a, b, op = b, a, "sub"
    if alpha != 1:
        if not isinstance(b, Val) and number(b) is not None:
            b = number(b) * alpha
        else:
            raise Refusal("scales its second term (alpha)")
    a, b = _unbatched(a), _unbatched(b)
    if _normalizes(imp, op, a, b):
        return a  # the Input's own normalization: a setting of the Input, its statistics in the weights
    if isinstance(a, Val) and isinstance(b, Val):
        return merge(imp, node, op, a, b)
    if isinstance(a, Val):
        return with_constant(imp, node, op, a, b, constant_first=False)
    if isinstance(b, Val):
        return with_constant(imp, node, op, b, a, constant_first=True)
    raise Refusal("its inputs are neither computed tensors nor constants")


def _normalizes(imp, op: str, x, stat) -> bool:
    """(x - normalize_x_mean) / normalize_x_std on an Input x: what netbuilder's code writes for an Input that
    normalizes with the statistics of its training split."""
    match = NORMALIZE.fullmatch(stat.name) if isinstance(stat, Param) else None
    if match is None or not isinstance(x, Val) or (op, match["which"]) not in (("sub", "mean"), ("div", "std")):
        return False
    node = imp.graph.node(x.port.node_id)
    if node.type != "Input" or node.name != match["input"]:
        return False
    imp.normalization.setdefault(node.name, {})[match["which"]] = stat.tensor.detach().clone()
    if node.params["normalize"] != "zscore":
        imp.graph.set_param(node.id, "normalize", "zscore")
    return True


def _unbatched(value):
    return value.value if isinstance(value, Batched) else value  # repeated over the batch: it broadcasts


def merge(imp, node, op: str, a: Val, b: Val) -> Val:
    if op == "div":
        raise Refusal("divides one computed tensor by another (there is no Divide block)")
    if a.rank != b.rank:
        raise Refusal("broadcasts tensors of different ranks")
    if a.axes != b.axes:
        a, b = imp.val(imp.port(a, node)), imp.val(imp.port(b, node))
    layer = MERGE[op]
    params = {} if layer == "Subtract" else {"inputs": 2}
    return Val(imp.add(layer, params, [a.port, b.port], node), a.axes)


def with_constant(imp, node, op: str, x: Val, c, constant_first: bool) -> Val:
    value = number(c) if not isinstance(c, Param) else None
    if value is not None:
        if op == "div":
            if constant_first:
                raise Refusal("divides a number by a computed tensor (there is no reciprocal block)")
            return imp.unary(x, "Scale", {"factor": 1.0 / value}, node)
        if op == "sub":
            return imp.unary(x, "Scale", {"factor": -1.0, "offset": value} if constant_first else {"offset": -value},
                             node)
        return imp.unary(x, "Scale", {"factor": value} if op == "mul" else {"offset": value}, node)
    tensor = tensor_of(c)
    if tensor is None:
        raise Refusal("combines a computed tensor with something that is not a tensor")
    if op in ("div", "sub"):
        if isinstance(c, Param) or constant_first:
            raise Refusal(f"{'divides' if op == 'div' else 'subtracts'} by a weight (there is no block for it)")
        c = (1.0 / tensor) if op == "div" else -tensor
        op = "mul" if op == "div" else "add"
    x = imp.val(imp.port(x, node))
    shape = imp.shape_of(x.port)
    values = tensor_of(c)
    if values.dim() > len(shape) + 1 or (values.dim() == len(shape) + 1 and values.shape[0] != 1):
        raise Refusal(f"its {'x'.join(map(str, values.shape))} constant differs from one sample to the next")
    if values.dim() == len(shape) + 1:
        values = values[0]
        c = values if not isinstance(c, Param) else c
    if op == "add" and not isinstance(c, Param):
        if is_causal_mask(values.double().numpy(), shape):
            return imp.val(imp.add("CausalMask", {}, [x.port], node))
        if len(shape) == 2 and tuple(values.shape) == tuple(shape):
            table = sinusoid_table(*shape)
            if table is not None and torch.allclose(values.double(), torch.from_numpy(table), atol=1e-5):
                return imp.val(imp.add("PositionalEncoding", {"kind": "sinusoidal"}, [x.port], node))
    if op == "add" and len(shape) == 2 and tuple(values.shape) == tuple(shape):
        return imp.val(imp.add("PositionalEncoding", {"kind": "learned"}, [x.port], node, {"": _shaped(c, shape)},
                               shares=shared(c)))
    over, learned = _learned(values, shape)
    keep = isinstance(c, Param) and tuple(learned.shape) == tuple(c.tensor.shape)  # the parameter as it is
    weights = {"": c if keep else learned}
    layer = "Bias" if op == "add" else "LayerScale"
    return imp.val(imp.add(layer, {"over": over}, [x.port], node, weights, shares=shared(c) if keep else None))


def _shaped(c, shape):
    if isinstance(c, Param) and tuple(c.tensor.shape) == tuple(shape):
        return c
    return tensor_of(c).reshape(shape)


def _learned(c: torch.Tensor, shape: tuple) -> tuple[str, torch.Tensor]:
    """Which learned tensor a constant is (per feature, channel or element) and its values in that shape."""
    if c.dim() == 0 or (all(d == 1 for d in c.shape[:-1]) and c.shape[-1] == shape[-1]):
        return "features", torch.broadcast_to(c.reshape(-1), (shape[-1],)).clone()
    padded = c.reshape((1,) * (len(shape) - c.dim()) + tuple(c.shape))
    if padded.shape[0] == shape[0] and all(d == 1 for d in padded.shape[1:]):
        return "channels", padded.reshape((shape[0],) + (1,) * (len(shape) - 1)).clone()
    return "elements", torch.broadcast_to(padded, shape).clone()


@handles("aten.matmul.default", "aten.bmm.default", "aten.mm.default")
def matmul(imp, node):
    a, b = node.arg(0), node.arg(1)
    if isinstance(a, Val) and not isinstance(b, Val):
        if tensor_of(b) is None or tensor_of(b).dim() != 2:
            raise Refusal("multiplies by a constant that is not a matrix")
        return linear_block(imp, node, a, b, None, transposed=True)
    if not (isinstance(a, Val) and isinstance(b, Val)):
        raise Refusal("multiplies a constant by a computed tensor")
    if a.rank != b.rank or a.rank < 3:
        raise Refusal(f"multiplies tensors of {a.rank} and {b.rank} axes; MatMul needs the same number, with the batch")
    transposed = b.axes[:-2] == a.axes[:-2] and b.axes[-2:] == a.axes[-2:][::-1] \
        and a.axes[-2:] == tuple(sorted(a.axes[-2:]))
    if transposed:
        b = b.permuted(list(range(b.rank - 2)) + [b.rank - 1, b.rank - 2])  # the block transposes it itself
    a, b = imp.val(imp.port(a, node)), imp.val(imp.port(b, node))
    if a.batch_axis >= a.rank - 2:
        raise Refusal("multiplies along the batch axis")
    return imp.val(imp.add("MatMul", {"transpose": transposed}, [a.port, b.port], node))


@handles("aten.masked_fill.Scalar")
def masked_fill(imp, node):
    """x.masked_fill(mask, -inf) with a constant causal mask: a CausalMask block."""
    x, mask, fill = node.val(0), tensor_of(node.arg(1)), number(node.arg(2))
    if mask is None or fill is None or fill > -1e9:
        raise Refusal("only hiding attention scores behind a constant causal mask has a block")
    x = imp.val(imp.port(x, node))
    shape = imp.shape_of(x.port)
    hidden = torch.where(mask.bool(), float("-inf"), 0.0)
    if not is_causal_mask(hidden.double().numpy(), shape):
        raise Refusal("hides scores behind a mask that is not causal")
    return imp.val(imp.add("CausalMask", {}, [x.port], node))
