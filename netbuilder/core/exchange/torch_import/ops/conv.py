"""Convolutions: 1-D and 2-D, transposed 2-D, with their weights."""
from __future__ import annotations

from ...onnx_import.refusals import Refusal
from ..values import Val
from . import handles
from .common import ints, one, optional_weight, shared, tensor_of, weight


def _conv(imp, node, x: Val, w, b, stride, padding, dilation, groups, transposed=False, output_padding=0) -> Val:
    kernel = tensor_of(w)
    rank = kernel.dim() - 2
    if rank not in (1, 2) or (transposed and rank != 2):
        raise Refusal(f"a {rank}-D {'transposed ' if transposed else ''}convolution has no block")
    port = imp.port(x, node)
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise Refusal(f"padding '{padding}' has no setting")
        pad = padding
    else:
        pad = one(ints(padding, rank))
    out = int(kernel.shape[1]) * int(groups) if transposed else int(kernel.shape[0])
    params = {"out_channels": out, "kernel_size": one(list(kernel.shape[2:])), "stride": one(ints(stride, rank)),
              "padding": pad, "dilation": one(ints(dilation, rank)), "groups": int(groups), "bias": b is not None}
    if transposed:
        params["output_padding"] = one(ints(output_padding, rank))
        layer = "ConvTranspose2d"
    else:
        layer = "Conv2d" if rank == 2 else "Conv1d"
    weights = {"weight": w} | ({"bias": b} if b is not None else {})
    return imp.val(imp.add(layer, params, [port], node, weights, shares=shared(w)))


@handles("aten.conv1d.default", "aten.conv2d.default", "aten.conv1d.padding", "aten.conv2d.padding")
def conv(imp, node):
    return _conv(imp, node, node.val(0), weight(node, 1), optional_weight(node, 2, "bias"),
                 node.arg(3, "stride", 1), node.arg(4, "padding", 0), node.arg(5, "dilation", 1),
                 node.arg(6, "groups", 1))


@handles("aten.conv_transpose2d.input")
def conv_transpose(imp, node):
    return _conv(imp, node, node.val(0), weight(node, 1), optional_weight(node, 2, "bias"),
                 node.arg(3, "stride", 1), node.arg(4, "padding", 0), node.arg(7, "dilation", 1),
                 node.arg(6, "groups", 1), transposed=True, output_padding=node.arg(5, "output_padding", 0))


@handles("aten.convolution.default")
def convolution(imp, node):
    """The decomposed form: (input, weight, bias, stride, padding, dilation, transposed, output_padding, groups)."""
    return _conv(imp, node, node.val(0), weight(node, 1), optional_weight(node, 2), node.arg(3), node.arg(4),
                 node.arg(5), node.arg(8), transposed=bool(node.arg(6)), output_padding=node.arg(7))
