"""Pooling, global averages, Resize (and the old Upsample) and Pad."""
from __future__ import annotations

import numpy as np

from ..refusals import Refusal
from . import handles
from .common import ints

POOL_ATTRS = {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "strides"}


def _pool(imp, node, kind: str):
    kernel = list(node.attr("kernel_shape", []))
    rank = len(kernel)
    if rank not in (1, 2) or any(d != 1 for d in node.attr("dilations", [1] * rank)):
        raise Refusal("only 1-D and 2-D pooling without dilation has blocks")
    if kind == "AvgPool" and rank == 1:
        raise Refusal("1-D average pooling has no block")
    if node.attr("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise Refusal(f"auto_pad {node.attr('auto_pad')} is not supported")
    port = imp.block(node.view(), node)
    sizes = imp.shape_of(port)[1:]
    strides = list(node.attr("strides", [1] * rank))
    pads = list(node.attr("pads", [0] * 2 * rank))
    ceil = bool(node.attr("ceil_mode", 0))
    include = bool(node.attr("count_include_pad", 0))
    if kind == "AvgPool" and rank == 2 and not include and _one_window_over_all(sizes, kernel, strides, pads):
        return imp.view_of(imp.add("AdaptiveAvgPool2d", {"output_size": 1}, [port], node))  # Caffe's last pool
    if pads[:rank] != pads[rank:]:
        if kind == "AvgPool" and include and not ceil:  # zeros that count: a Pad block first
            padding = [p for b, e in zip(pads[:rank][::-1], pads[rank:][::-1]) for p in (b, e)]
            port = imp.add("Pad", {"padding": padding}, [port], node)
            pads = [0] * 2 * rank
        elif kind == "MaxPool" and not ceil and _ceil_equivalent(sizes, kernel, strides, pads):
            pads, ceil = pads[:rank] * 2, True  # the extra end padding only completes the last window
        else:
            raise Refusal(f"asymmetric padding {pads} has no block")
    params = {"kernel_size": kernel, "stride": strides, "padding": pads[:rank], "ceil_mode": ceil}
    if kind == "AvgPool":
        params["count_include_pad"] = include or not any(pads)
    out = imp.add(f"{kind}{rank}d", params, [port], node)
    return imp.view_of(out)


def _one_window_over_all(sizes, kernel, strides, pads) -> bool:
    """A padded pooling with a single window that covers the whole input: a global average."""
    rank = len(kernel)
    return any(pads) and all(0 <= size + b + e - k < s and k - b >= size
                             for size, k, s, b, e in zip(sizes, kernel, strides, pads[:rank], pads[rank:]))


def _ceil_equivalent(sizes, kernel, strides, pads) -> bool:
    rank = len(kernel)
    for size, k, s, begin, end in zip(sizes, kernel, strides, pads[:rank], pads[rank:]):
        wanted = (size + begin + end - k) // s + 1
        got = -(-(size + 2 * begin - k) // s) + 1
        if (got - 1) * s >= size + begin:  # PyTorch drops a last window that starts in the padding
            got -= 1
        if end < begin or got != wanted or begin > k // 2:
            return False
    return True


@handles("MaxPool", attrs=POOL_ATTRS | {"storage_order"})
def max_pool(imp, node):
    return _pool(imp, node, "MaxPool")


@handles("AveragePool", attrs=POOL_ATTRS | {"count_include_pad"})
def average_pool(imp, node):
    return _pool(imp, node, "AvgPool")


@handles("GlobalAveragePool")
def global_average_pool(imp, node):
    port = imp.block(node.view(), node)
    if len(imp.shape_of(port)) != 3:
        raise Refusal("only the global average of an image (channels x height x width) has a block")
    return imp.view_of(imp.add("AdaptiveAvgPool2d", {"output_size": 1}, [port], node))


@handles("GlobalMaxPool")
def global_max_pool(imp, node):
    port = imp.block(node.view(), node)
    if len(imp.shape_of(port)) != 3:
        raise Refusal("only the global maximum of an image (channels x height x width) has a block")
    return imp.view_of(imp.add("AdaptiveMaxPool2d", {"output_size": 1}, [port], node))


@handles("ReduceMean", attrs={"axes", "keepdims", "noop_with_empty_axes"}, inputs=2)
def reduce_mean(imp, node):
    """Over height and width of an image: a global average pool; over other axes: a Mean block."""
    view = node.view()
    axes = ints(node.const(1)) if node.input(1) is not None else node.attr("axes")
    keep = bool(node.attr("keepdims", 1))
    if not axes:
        if node.attr("noop_with_empty_axes", 0):
            return view
        raise Refusal("averages over every axis, the batch too")
    axes = sorted({a % view.rank for a in axes})
    if view.rank == 4 and axes == [2, 3] and view.batch_axis() == 0:
        port = imp.block(view, node)
        layer, params = ("AdaptiveAvgPool2d", {"output_size": 1}) if keep else ("GlobalAvgPool2d", {})
        return imp.view_of(imp.add(layer, params, [port], node))
    canon = imp.canonical(view, node)
    if canon.batch_axis in axes or canon.side != "alone":
        raise Refusal("averages over the batch")
    port = imp.add("Mean", {"dims": [canon.axes[a] for a in axes], "keepdim": keep}, [canon.port], node)
    if not keep:
        for a in reversed(axes):
            canon = canon.without(a)
    return imp.rewrap(port, canon)


RESIZE_ATTRS = {"antialias", "axes", "coordinate_transformation_mode", "cubic_coeff_a", "exclude_outside",
                "extrapolation_value", "keep_aspect_ratio_policy", "mode", "nearest_mode"}


@handles("Resize", attrs=RESIZE_ATTRS, inputs=4)
def resize(imp, node):
    mode = node.attr("mode", "nearest")
    coordinates = node.attr("coordinate_transformation_mode", "half_pixel" if node.opset >= 11 else "asymmetric")
    if node.attr("antialias", 0) or node.attr("axes") is not None or node.attr("exclude_outside", 0):
        raise Refusal("antialias, axes and exclude_outside are not supported")
    if mode == "nearest":
        nearest = node.attr("nearest_mode", "round_prefer_floor") if node.opset >= 11 else "floor"
        if (coordinates, nearest) != ("asymmetric", "floor"):
            raise Refusal(f"nearest resizing with {coordinates} coordinates and {nearest} rounding differs from "
                          "PyTorch's (asymmetric, floor)")
        params = {"mode": "nearest"}
    elif mode == "linear":
        if coordinates not in ("half_pixel", "pytorch_half_pixel", "align_corners"):
            raise Refusal(f"linear resizing with {coordinates} coordinates differs from PyTorch's")
        params = {"mode": "bilinear", "align_corners": coordinates == "align_corners"}
    else:
        raise Refusal(f"{mode} resizing has no block (nearest and bilinear have)")
    scales_at, sizes_at = (1, None) if node.opset < 11 else (2, 3)
    return _resize(imp, node, params, node.const(scales_at) if node.input(scales_at) is not None else None,
                   node.const(sizes_at) if sizes_at and node.input(sizes_at) is not None else None)


@handles("Upsample", attrs={"mode", "scales"}, inputs=2)
def upsample(imp, node):
    if node.attr("mode", "nearest") != "nearest":
        raise Refusal("linear Upsample uses asymmetric coordinates, unlike PyTorch's bilinear resizing")
    scales = node.const(1) if node.input(1) is not None else np.array(node.attr("scales"), dtype=np.float32)
    return _resize(imp, node, {"mode": "nearest"}, scales, None)


def _resize(imp, node, params: dict, scales, sizes):
    port = imp.block(node.view(), node)
    shape = imp.shape_of(port)
    if len(shape) != 3:
        raise Refusal("only images (channels x height x width) have a resize block")
    if sizes is not None and sizes.size:
        wanted = ints(sizes)
        if len(wanted) != 4 or wanted[1] != shape[0]:
            raise Refusal(f"resizes to {wanted}, changing more than height and width")
        params |= {"by": "size", "size": wanted[2:]}
    elif scales is not None and scales.size == 4:
        factors = [float(f) for f in scales.reshape(-1)]
        if factors[:2] != [1.0, 1.0]:
            raise Refusal(f"scales {factors} change more than height and width")
        if factors[2] == factors[3]:
            params |= {"by": "factor", "scale_factor": factors[2]}
        elif all(float(d * f).is_integer() for d, f in zip(shape[1:], factors[2:])):
            params |= {"by": "size", "size": [int(d * f) for d, f in zip(shape[1:], factors[2:])]}
        else:
            raise Refusal(f"scales height and width by different factors {factors[2:]} that are not whole sizes")
    else:
        raise Refusal("neither its scales nor its sizes are constants")
    return imp.view_of(imp.add("Resize", params, [port], node))


PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}


@handles("Pad", attrs={"mode", "pads", "value"}, inputs=4)
def pad(imp, node):
    view = node.view()
    mode = PAD_MODES.get(node.attr("mode", "constant"))
    pads = ints(node.const(1)) if node.input(1) is not None else node.attr("pads")
    value = node.const(2) if node.input(2) is not None else np.array(node.attr("value", 0.0))
    if mode is None or pads is None or value is None:
        raise Refusal("only constant pads of a constant, reflect, edge or wrap mode have a block")
    rank = view.rank
    axes = [a % rank for a in ints(node.const(3))] if node.input(3) is not None else list(range(rank))
    begins, ends = [0] * rank, [0] * rank
    for i, axis in enumerate(axes):
        begins[axis], ends[axis] = pads[i], pads[i + len(axes)]
    if any(p < 0 for p in begins + ends):
        raise Refusal("negative pads (cropping) have no block")
    if begins[0] or ends[0]:
        raise Refusal("pads the batch")
    padded = [a for a in range(1, rank) if begins[a] or ends[a]]
    if not padded:
        return view
    first = padded[0]
    if rank - first > 3:
        raise Refusal("pads more than the last three axes")
    padding = [p for a in range(rank - 1, first - 1, -1) for p in (begins[a], ends[a])]
    params = {"padding": padding, "mode": mode, "value": float(np.asarray(value).reshape(-1)[0]) if mode == "constant"
              else 0.0}
    return imp.view_of(imp.add("Pad", params, [imp.block(view, node)], node))

