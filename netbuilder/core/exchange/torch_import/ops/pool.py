"""Pooling, means (global average pooling, mean pooling over a sequence) and resizing."""
from __future__ import annotations

from ...onnx_import.refusals import Refusal
from . import handles
from .common import ints, one


def _image(imp, node, rank: int):
    port = imp.port(node.val(0), node)
    if len(imp.shape_of(port)) != rank:
        raise Refusal(f"pools a tensor of {len(imp.shape_of(port)) + 1} axes")
    return port


def _pool_params(node, rank: int, kernel_at: int = 1) -> dict:
    kernel = ints(node.arg(kernel_at, "kernel_size"), rank)
    stride = node.arg(kernel_at + 1, "stride", [])
    stride = ints(stride, rank) if stride not in ([], None) else kernel
    return {"kernel_size": one(kernel), "stride": None if stride == kernel else one(stride),
            "padding": one(ints(node.arg(kernel_at + 2, "padding", 0), rank))}


@handles("aten.max_pool2d.default", "aten.max_pool1d.default", "aten.max_pool2d_with_indices.default")
def max_pool(imp, node):
    rank = 1 if "1d" in node.op else 2
    if set(ints(node.arg(4, "dilation", 1), rank)) != {1}:
        raise Refusal("dilated pooling has no block")
    params = _pool_params(node, rank) | {"ceil_mode": bool(node.arg(5, "ceil_mode", False))}
    out = imp.val(imp.add(f"MaxPool{rank}d", params, [_image(imp, node, rank + 1)], node))
    return [out, None] if "with_indices" in node.op else out


@handles("aten.avg_pool2d.default")
def avg_pool(imp, node):
    if node.arg(6, "divisor_override") is not None:
        raise Refusal("a divisor_override has no block")
    params = _pool_params(node, 2) | {"ceil_mode": bool(node.arg(4, "ceil_mode", False)),
                                      "count_include_pad": bool(node.arg(5, "count_include_pad", True))}
    return imp.val(imp.add("AvgPool2d", params, [_image(imp, node, 3)], node))


@handles("aten.adaptive_avg_pool2d.default", "aten._adaptive_avg_pool2d.default")
def adaptive_avg_pool(imp, node):
    size = [int(d) if d is not None else None for d in ints(node.arg(1, "output_size"), 2)]
    port = _image(imp, node, 3)
    if None in size:
        size = [s if s is not None else imp.shape_of(port)[i + 1] for i, s in enumerate(size)]
    return imp.val(imp.add("AdaptiveAvgPool2d", {"output_size": one(size)}, [port], node))


@handles("aten.mean.dim")
def mean(imp, node):
    """Over height and width of an image: a global average; over other axes: a Mean block (mean pooling)."""
    x = imp.val(imp.port(node.val(0), node))
    dims = node.arg(1, "dim")
    dims = list(range(1, x.rank)) if dims in (None, []) else [int(d) for d in (dims if isinstance(dims, (list, tuple))
                                                                                else [dims])]
    keep = bool(node.arg(2, "keepdim", False))
    if node.kwargs.get("dtype") is not None:
        raise Refusal("changes the dtype")
    if any(d % x.rank == 0 for d in dims):
        raise Refusal("averages over the batch")
    if x.rank == 4 and sorted(d % 4 for d in dims) == [2, 3]:
        layer, params = ("AdaptiveAvgPool2d", {"output_size": 1}) if keep else ("GlobalAvgPool2d", {})
        return imp.val(imp.add(layer, params, [x.port], node))
    return imp.val(imp.add("Mean", {"dims": dims, "keepdim": keep}, [x.port], node))


def _resize(imp, node, mode: str, size, scales, align: bool):
    """An Upsample block, or a Resize where the module says more (a size, or align_corners given for bilinear)."""
    port = _image(imp, node, 3)
    call = node.origin.innermost
    module = imp.live(call) if call is not None and call.class_name == "Upsample" else None
    resize = module is not None and (module.align_corners is not None or module.size is not None)
    if size is not None:
        return imp.val(imp.add("Resize", {"by": "size", "size": [int(s) for s in size], "mode": mode,
                                          "align_corners": align}, [port], node))
    factors = [float(f) for f in scales] if isinstance(scales, (list, tuple)) else [float(scales)] * 2
    if len(set(factors)) != 1:
        height, width = imp.shape_of(port)[1:]
        size = [int(height * factors[0]), int(width * factors[1])]
        return imp.val(imp.add("Resize", {"by": "size", "size": size, "mode": mode, "align_corners": align},
                               [port], node))
    if align or resize:
        return imp.val(imp.add("Resize", {"scale_factor": factors[0], "mode": mode, "align_corners": align},
                               [port], node))
    return imp.val(imp.add("Upsample", {"scale_factor": factors[0], "mode": mode}, [port], node))


@handles("aten.upsample_nearest2d.vec")
def upsample_nearest(imp, node):
    return _resize(imp, node, "nearest", node.arg(1, "output_size"), node.arg(2, "scale_factors"), False)


@handles("aten.upsample_bilinear2d.vec")
def upsample_bilinear(imp, node):
    return _resize(imp, node, "bilinear", node.arg(1, "output_size"), node.arg(3, "scale_factors"),
                   bool(node.arg(2, "align_corners", False)))
