"""Linear layers (F.linear, a matrix product with a weight) and embeddings."""
from __future__ import annotations

from ...onnx_import.refusals import Refusal
from ..values import Param, Val
from . import handles
from .common import last_axes, optional_weight, shared, tensor_of, weight


def linear_block(imp, node, x: Val, w, b, transposed: bool = False) -> Val:
    """A Linear block on the last axis of x; w is out x in (in x out when `transposed`: x @ W)."""
    matrix = tensor_of(w)
    if matrix.dim() != 2:
        raise Refusal(f"multiplies by a {matrix.dim()}-D weight (a Linear needs a matrix)")
    if transposed:
        w, matrix = matrix.t().contiguous(), matrix.t()
    x = last_axes(imp, node, x, 1, "multiplies by a matrix")
    if imp.shape_of(x.port)[-1] != matrix.shape[1]:
        raise Refusal(f"multiplies {imp.shape_of(x.port)[-1]} features by a {matrix.shape[1]}-row weight")
    weights = {"weight": w} | ({"bias": b} if b is not None else {})
    port = imp.add("Linear", {"out_features": int(matrix.shape[0]), "bias": b is not None}, [x.port], node,
                   weights, shares=shared(w))
    return Val(port, x.axes)


@handles("aten.linear.default")
def linear(imp, node):
    return linear_block(imp, node, node.val(0), weight(node, 1), optional_weight(node, 2, "bias"))


@handles("aten.addmm.default")
def addmm(imp, node):
    """bias + x @ W (a Linear decomposed); W is usually a transposed weight (permute of a parameter)."""
    bias, x, w = node.arg(0), node.val(1), weight(node, 2)
    if node.kwargs.get("beta", 1) != 1 or node.kwargs.get("alpha", 1) != 1:
        raise Refusal("scales its terms (alpha, beta)")
    return linear_block(imp, node, x, w, weight(node, 0, what="bias") if bias is not None else None, transposed=True)


@handles("aten.embedding.default")
def embedding(imp, node):
    table, ids = weight(node, 0, what="table"), node.val(1)
    padding = node.arg(2, "padding_idx", -1)
    if padding not in (-1, None):
        raise Refusal(f"padding_idx {padding} (a vector that never trains) has no Embedding setting")
    if node.arg(4, "sparse", False) or node.arg(3, "scale_grad_by_freq", False):
        raise Refusal("sparse gradients and scale_grad_by_freq have no Embedding setting")
    matrix = tensor_of(table)
    if matrix.dim() != 2:
        raise Refusal("looks up rows of a table that is not a matrix")
    if not ids.plain:
        ids = imp.val(imp.port(ids, node))
    port = imp.add("Embedding", {"num_embeddings": int(matrix.shape[0]), "embedding_dim": int(matrix.shape[1])},
                   [ids.port], node, {"weight": table}, shares=shared(table))
    return imp.val(port)


def matmul_with_weight(imp, node, x: Val, w) -> Val:
    """x @ W, W a parameter or constant matrix: a Linear without bias."""
    if isinstance(w, Param) or tensor_of(w) is not None:
        return linear_block(imp, node, x, tensor_of(w), None, transposed=True)
    raise Refusal("multiplies by something that is neither computed nor a weight")
