"""Rearranging: views (reshape, flatten, squeeze: a Reshape or Flatten block; permute, transpose: only the order
of axes, no block), picking (select, slice, split, chunk), joining (cat, and a class token put before a
sequence), padding, and the small operators that only read sizes or pass a tensor through."""
from __future__ import annotations

import math

import torch

from ...onnx_import.refusals import Refusal
from ..values import BATCH, Batched, Param, Val
from . import handles
from .common import INT64_MAX, block_dim, shared, tensor_of

DTYPES = {torch.float32: "float32", torch.int64: "int64"}


def _batch_first(imp, node) -> Val:
    x = imp.val(imp.port(node.val(0), node))
    return x


def _reshaped(imp, node, x: Val, layer: str = "Reshape", params: dict | None = None) -> Val:
    """x (batch first) in the node's output shape, which must keep the batch first."""
    shape = node.shape
    if not shape or not imp.is_batch(shape[0]) or any(d is BATCH for d in shape[1:]):
        raise Refusal(f"reshapes {_text(imp, x)} across the batch (to {_shape_text(shape)})")
    rest = list(shape[1:])
    if rest == list(imp.shape_of(x.port)) and layer == "Reshape":
        return x
    params = params if params is not None else {"shape": rest or [1]}
    if not rest:
        raise Refusal("reshapes each sample to a single number without an axis")
    return imp.val(imp.add(layer, params, [x.port], node))


def _text(imp, x: Val) -> str:
    return "x".join(["batch", *map(str, imp.shape_of(x.port))])


def _shape_text(shape) -> str:
    return "x".join("batch" if d is BATCH else str(d) for d in shape)


@handles("aten.view.default", "aten.reshape.default", "aten._unsafe_view.default")
def reshape(imp, node):
    x = _batch_first(imp, node)
    size = list(node.arg(1, "size"))
    rest = size[1:] if size and (imp.is_batch(size[0]) or size[0] == -1) else None
    if rest is not None and -1 in rest and size[0] == -1:
        rest = None  # two unknown sizes: take the output's
    if rest is not None and rest and all(isinstance(d, int) for d in rest):
        return _reshaped(imp, node, x, params={"shape": [int(d) for d in rest]})
    return _reshaped(imp, node, x)


@handles("aten.flatten.using_ints")
def flatten(imp, node):
    x = _batch_first(imp, node)
    start, end = int(node.arg(1, "start_dim", 0)), int(node.arg(2, "end_dim", -1))
    if start % x.rank == 0:
        raise Refusal("flattens the batch into the features")
    if end % x.rank == x.rank - 1:
        return _reshaped(imp, node, x, "Flatten", {"start_dim": start})
    return _reshaped(imp, node, x)


@handles("aten.unflatten.int", "aten.unsqueeze.default", "aten.squeeze.dim", "aten.squeeze.dims",
         "aten.squeeze.default")
def unsqueeze(imp, node):
    return _reshaped(imp, node, _batch_first(imp, node))


@handles("aten.permute.default")
def permute(imp, node):
    return node.val(0).permuted([int(d) % node.val(0).rank for d in node.arg(1, "dims")])


@handles("aten.transpose.int")
def transpose(imp, node):
    x = node.val(0)
    a, b = int(node.arg(1)) % x.rank, int(node.arg(2)) % x.rank
    order = list(range(x.rank))
    order[a], order[b] = order[b], order[a]
    return x.permuted(order)


@handles("aten.t.default")
def t(imp, node):
    x = node.val(0)
    return x.permuted([1, 0]) if x.rank == 2 else x


@handles("aten.select.int")
def select(imp, node):
    x = node.val(0)
    dim, index = int(node.arg(1, "dim")), int(node.arg(2, "index"))
    axis = x.block_axis(dim)
    port = imp.add("Select", {"dim": block_dim(x, dim, "picks an entry"), "index": index}, [x.port], node)
    return Val(port, tuple(a - (a > axis) for a in x.axes if a != axis))


@handles("aten.slice.Tensor")
def slice_(imp, node):
    x = node.val(0)
    dim = int(node.arg(1, "dim", 0))
    start, end, step = node.arg(2, "start", None), node.arg(3, "end", None), int(node.arg(4, "step", 1))
    axis = x.block_axis(dim)
    size = None if axis == 0 else imp.shape_of(x.port)[axis - 1]
    start = 0 if start is None else start
    whole = end is None or end is BATCH or (isinstance(end, int) and (end >= INT64_MAX or (size and end >= size)))
    if start == 0 and whole and step == 1:
        return x  # x[:, ...]: the whole axis
    if start is BATCH or end is BATCH:
        raise Refusal("slices by the batch size")
    port = imp.add("Slice", {"dim": block_dim(x, dim, "slices"), "start": int(start),
                             "end": None if whole else int(end), "step": step}, [x.port], node)
    return Val(port, x.axes)


def _parts(imp, node, x: Val, layer: str, params: dict) -> list:
    port = imp.add(layer, params, [x.port], node)
    return [Val(type(port)(port.node_id, p), x.axes) for p in imp.graph.node(port.node_id).output_ports()]


@handles("aten.split_with_sizes.default")
def split_with_sizes(imp, node):
    x = node.val(0)
    dim = int(node.arg(2, "dim", 0))
    sizes = [int(s) for s in node.arg(1, "split_sizes")]
    return _parts(imp, node, x, "Split", {"dim": block_dim(x, dim, "splits"), "sizes": sizes})


@handles("aten.split.Tensor", "aten.chunk.default")
def split(imp, node):
    x = node.val(0)
    dim = int(node.arg(2, "dim", 0))
    axis = x.block_axis(dim)
    if axis == 0:
        raise Refusal("splits along the batch axis")
    total = imp.shape_of(x.port)[axis - 1]
    if node.op == "aten.chunk.default":
        chunks = int(node.arg(1, "chunks"))
        step = -(-total // chunks)
    else:
        step = int(node.arg(1, "split_size"))
    sizes = [min(step, total - k) for k in range(0, total, step)]
    if len(set(sizes)) == 1 and len(sizes) > 1:
        return _parts(imp, node, x, "Chunk", {"dim": block_dim(x, dim), "chunks": len(sizes)})
    if len(sizes) == 1:
        return [x]
    return _parts(imp, node, x, "Split", {"dim": block_dim(x, dim), "sizes": sizes})


@handles("aten.cat.default")
def cat(imp, node):
    parts = list(node.arg(0, "tensors"))
    dim = int(node.arg(1, "dim", 0))
    if len(parts) == 2 and isinstance(parts[0], Batched) and isinstance(parts[1], Val):
        return _class_token(imp, node, parts[0], parts[1], dim)
    if not all(isinstance(p, Val) for p in parts):
        raise Refusal("joins constants with computed tensors")
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    if any(p.axes != first.axes for p in parts):
        parts = [imp.val(imp.port(p, node)) for p in parts]
        first = parts[0]
    port = imp.add("Concat", {"inputs": len(parts), "dim": block_dim(first, dim, "joins")},
                   [p.port for p in parts], node)
    return Val(port, first.axes)


def _class_token(imp, node, token: Batched, x: Val, dim: int) -> Val:
    """cat([token.expand(batch, -1, -1), x], dim=1): a ClassToken block."""
    values = tensor_of(token.value)
    x = imp.val(imp.port(x, node))
    if token.axis != 0 or x.rank != 3 or dim % 3 != 1 or values is None or values.dim() != 3 \
            or values.shape[0] != 1 or values.shape[2] != imp.shape_of(x.port)[-1]:
        raise Refusal("joins a constant with a computed tensor other than tokens before a (batch, sequence, "
                      "features) one")
    port = imp.add("ClassToken", {"tokens": int(values.shape[1])}, [x.port], node, {"": token.value},
                   shares=shared(token.value))
    return imp.val(port)


@handles("aten.expand.default")
def expand(imp, node):
    value, size = node.arg(0), list(node.arg(1, "size"))
    if isinstance(value, (Param, torch.Tensor)):
        batch = [i for i, d in enumerate(size) if d is BATCH]
        if len(batch) == 1 and tensor_of(value).shape[batch[0]] == 1:
            return Batched(value, batch[0])
        raise Refusal("repeats a weight in a way netbuilder does not know")
    x = node.val(0)
    if tuple(node.shape) == tuple(imp.meta_shape(node.fx.args[0])):
        return x  # expands to the size it has
    raise Refusal("repeats a computed tensor")


@handles("aten.pad.default", "aten.constant_pad_nd.default")
def pad(imp, node):
    x = _batch_first(imp, node)
    padding = [int(p) for p in node.arg(1, "pad")]
    if node.op == "aten.constant_pad_nd.default":
        mode, value = "constant", node.arg(2, "value", 0.0)
    else:
        mode, value = node.arg(2, "mode", "constant"), node.arg(3, "value", None)
    if any(p < 0 for p in padding):
        raise Refusal("crops (negative padding) rather than pads")
    if len(padding) // 2 >= x.rank:
        raise Refusal("pads the batch")
    return imp.val(imp.add("Pad", {"padding": padding, "mode": mode, "value": float(value or 0.0)}, [x.port], node))


@handles("aten.channel_shuffle.default", "aten.native_channel_shuffle.default")
def channel_shuffle(imp, node):
    x = _batch_first(imp, node)
    return imp.val(imp.add("ChannelShuffle", {"groups": int(node.arg(1, "groups"))}, [x.port], node))


@handles("aten.sym_size.int")
def sym_size(imp, node):
    x = node.val(0)
    axis = x.block_axis(int(node.arg(1, "dim")))
    return BATCH if axis == 0 else imp.shape_of(x.port)[axis - 1]


@handles("getitem")
def getitem(imp, node):
    values, index = node.arg(0), node.arg(1)
    if not isinstance(values, (list, tuple)):
        raise Refusal("indexes a value that is not a list of results")
    return values[index]


@handles("aten.to.dtype", "aten._to_copy.default", "aten.type_as.default", "aten.to.dtype_layout")
def to(imp, node):
    x = node.val(0)
    value = node.fx.meta.get("val")
    wanted = DTYPES.get(getattr(value, "dtype", None))
    if wanted != imp.dtype_of(x.port):
        raise Refusal(f"converts {imp.dtype_of(x.port)} values to {wanted or getattr(value, 'dtype', '?')} "
                      "(there is no conversion block)")
    return x


def size_of(shape) -> int:
    return math.prod(shape)
