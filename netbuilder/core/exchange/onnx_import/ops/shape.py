"""Rearranging: Reshape, Flatten, Transpose, Squeeze, Unsqueeze change only the view (no block); Shape reads
it; Concat, Split and Slice cut or join along an axis; Expand and Cast pass a tensor through unchanged."""
from __future__ import annotations

import math

import numpy as np

from .. import views
from ..folding import Batched
from ..refusals import Refusal
from ..views import View
from . import handles
from .common import ints, on_axis, shape_text

INT_MAX = 2**62
TYPES = {1: "float32", 7: "int64"}


@handles("Reshape", attrs={"allowzero", "shape"}, inputs=2)
def reshape(imp, node):
    view = node.view()
    target = node.const(1) if node.input(1) is not None else node.attr("shape")
    if target is None:
        raise Refusal("its target shape is not a constant")
    dims = ints(target)
    if node.attr("allowzero", 0) and 0 in dims:
        raise Refusal("allowzero with a 0 in the shape is not supported")
    dims = [view.shape[i] if d == 0 else d for i, d in enumerate(dims)]
    if dims.count(-1) == 1:
        known = math.prod(d for d in dims if d != -1)
        dims[dims.index(-1)] = math.prod(view.shape) // known if known else 0
    return _reshaped(view, dims, node, imp)


def _reshaped(view: View, dims: list[int], node, imp=None) -> View:
    result = views.reshape(view, dims) if math.prod(dims) == math.prod(view.shape) else None
    if result is None and imp is not None and dims and dims[0] == imp.batch and view.batch_axis() == 0 \
            and math.prod(dims[1:]) == math.prod(view.shape) // imp.batch:
        port = imp.block(view, node)  # 4x3x3 to 9x4: no cut of the axes gives it, a Reshape block does
        return imp.view_of(imp.add("Reshape", {"shape": dims[1:]}, [port], node))
    if result is None:
        raise Refusal(f"reshapes {shape_text(view.shape)} to {shape_text(dims)}, which cuts across the batch")
    return _from(result, node)


def _from(view: View, node) -> View:
    view.origin = node
    return view


@handles("Flatten", attrs={"axis"})
def flatten(imp, node):
    view = node.view()
    axis = int(node.attr("axis", 1))
    axis = axis + view.rank if axis < 0 else axis  # -rank..rank, as ONNX counts: -rank is 0
    if not 0 <= axis <= view.rank:
        raise Refusal(f"its axis {node.attr('axis')} is outside -{view.rank}..{view.rank}")
    if axis == 0 and view.batch_axis() == 0:
        raise Refusal("flattens the whole batch into one row (axis 0); netbuilder keeps the samples of a batch apart")
    return _reshaped(view, [math.prod(view.shape[:axis]), math.prod(view.shape[axis:])], node, imp)


@handles("Transpose", attrs={"perm"})
def transpose(imp, node):
    view = node.view()
    return _from(views.transpose(view, list(node.attr("perm", range(view.rank - 1, -1, -1)))), node)


@handles("Squeeze", attrs={"axes"}, inputs=2)
def squeeze(imp, node):
    view = node.view()
    axes = ints(node.const(1)) if node.input(1) is not None else node.attr("axes")
    if axes is None:
        axes = [i for i, d in enumerate(view.shape) if d == 1 and i != view.batch_axis()]
    result = views.squeeze(view, list(axes))
    if result is None:
        raise Refusal(f"squeezes axes {list(axes)} of a {shape_text(view.shape)} tensor")
    return _from(result, node)


@handles("Unsqueeze", attrs={"axes"}, inputs=2)
def unsqueeze(imp, node):
    axes = ints(node.const(1)) if node.input(1) is not None else node.attr("axes")
    if axes is None:
        raise Refusal("its axes are not constants")
    return _from(views.unsqueeze(node.view(), list(axes)), node)


@handles("Shape", attrs={"start", "end"})
def shape(imp, node):
    full = np.array(node.view().shape, dtype=np.int64)
    return full[node.attr("start", 0):node.attr("end", len(full))]


@handles("Size")
def size(imp, node):
    return np.array(math.prod(node.view().shape), dtype=np.int64)


@handles("Cast", attrs={"to", "saturate"})
def cast(imp, node):
    view = node.view()
    if TYPES.get(node.attr("to")) != view.dtype:
        raise Refusal(f"converts {view.dtype} values to type {node.attr('to')} (there is no conversion block)")
    return view


@handles("Expand", inputs=2)
def expand(imp, node):
    view, target = node.view(), node.const(1)
    if target is None:
        raise Refusal("its shape is not a constant")
    try:
        shape = list(np.broadcast_shapes(tuple(view.shape), tuple(ints(target))))
    except ValueError:
        raise Refusal(f"expands a {shape_text(view.shape)} tensor to {shape_text(ints(target))}, which it does not "
                      "broadcast to") from None
    if shape != view.shape:
        raise Refusal(f"repeats a computed tensor ({shape_text(view.shape)} to {shape_text(shape)}); no block repeats "
                      "values")
    return view


@handles("Concat", attrs={"axis"}, inputs=256)
def concat(imp, node):
    axis = int(node.attr("axis"))
    parts = node.ins
    if len(parts) == 1 and isinstance(parts[0], View):
        return parts[0]
    if all(isinstance(v, View) for v in parts):
        canons = [imp.canonical(v, node) for v in parts]
        first = canons[0]
        if any((c.axes, c.batch_axis, c.side) != (first.axes, first.batch_axis, first.side) for c in canons):
            raise Refusal("joins tensors whose batches sit in different places")
        _, block_axis = on_axis(imp, node, parts[0], axis, "joins")
        port = imp.add("Concat", {"inputs": len(parts), "dim": block_axis}, [c.port for c in canons], node)
        return imp.rewrap(port, first)
    if len(parts) == 2 and isinstance(parts[1], View) and not isinstance(parts[0], View):
        return _class_token(imp, node, parts[0], parts[1], axis)
    raise Refusal("joins constants with computed tensors")


def _class_token(imp, node, token, view: View, axis: int) -> View:
    """cat(token.expand(batch, -1, -1), x) along the sequence: a ClassToken block."""
    if isinstance(token, Batched) and token.axis == 0:
        array = token.array
    elif isinstance(token, np.ndarray) and imp.file.fixed_batch and token.shape[:1] == (imp.file.fixed_batch,) \
            and (token == token[:1]).all():
        array = token[:1]
    else:
        raise Refusal("joins a constant with a computed tensor")
    if view.rank != 3 or axis % 3 != 1 or array.shape[2:] != (view.shape[2],):
        raise Refusal("joins a constant with a computed tensor other than before a (batch, sequence, features) one")
    port = imp.add("ClassToken", {"tokens": int(array.shape[1])}, [imp.block(view, node)], node, {"": array})
    return imp.view_of(port)


@handles("Split", attrs={"axis", "split", "num_outputs"}, inputs=2)
def split(imp, node):
    view = node.view()
    axis = int(node.attr("axis", 0)) % view.rank
    total = view.shape[axis]
    count = len(node.proto.output)
    sizes = ints(node.const(1)) if node.input(1) is not None else node.attr("split")
    if sizes is None:
        step = -(-total // count)
        sizes = [min(step, total - k * step) for k in range(count)]
    canon, block_axis = on_axis(imp, node, view, axis, "splits")
    if len(set(sizes)) == 1 and len(sizes) > 1:
        port = imp.add("Chunk", {"dim": block_axis, "chunks": len(sizes)}, [canon.port], node)
    elif len(sizes) <= 8:
        port = imp.add("Split", {"dim": block_axis, "sizes": list(sizes)}, [canon.port], node)
    else:
        raise Refusal(f"splits into {len(sizes)} unequal parts (at most 8 have a block)")
    ports = imp.graph.node(port.node_id).output_ports()
    return [imp.rewrap(type(port)(port.node_id, p), canon) for p in ports]


@handles("Slice", attrs={"starts", "ends", "axes"}, inputs=5)
def slice_(imp, node):
    view = node.view()
    if node.input(1) is not None:
        values = [node.const(i) if node.input(i) is not None else None for i in range(1, 5)]
        if any(v is None for v, i in zip(values, range(1, 5)) if node.input(i) is not None):
            raise Refusal("its bounds are not constants")
        starts, ends, axes, steps = (ints(v) for v in values)
    else:
        starts, ends, axes, steps = node.attr("starts"), node.attr("ends"), node.attr("axes"), None
    axes = [a % view.rank for a in (axes or range(len(starts)))]
    steps = steps or [1] * len(starts)
    canon, port = None, None
    for axis, start, end, step in zip(axes, starts, ends, steps):
        size = view.shape[axis]
        start, end = _bound(start, size), _bound(end, size)
        if step < 1:
            raise Refusal("slices backwards (a negative step)")
        if (start, end, step) == (0, size, 1):
            continue
        canon, block_axis = on_axis(imp, node, view, axis, "slices") if canon is None else (
            canon, canon.axes[axis])
        if block_axis is None or axis == canon.batch_axis:
            raise Refusal("slices along the batch axis")
        port = imp.add("Slice", {"dim": block_axis, "start": start, "end": None if end >= size else end,
                                 "step": step}, [port or canon.port], node)
    if port is None:
        return view
    return imp.rewrap(port, canon)


def _bound(value: int, size: int) -> int:
    value = int(value)
    if value < 0:
        value += size
    return max(0, min(size, value))
