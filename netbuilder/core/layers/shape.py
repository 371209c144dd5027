"""Layers that only rearrange values: Flatten, Reshape, Permute, Split, Slice, Pad, ChannelShuffle."""
from __future__ import annotations

import math

from .spec import Choice, Float, Int, Ints, LayerSpec, case, check_dim, format_shape, module


def _reshape(m, x, shape, **_params):
    return x.reshape(x.shape[0], *shape)


def _reshape_check(p: dict, shapes: list) -> str | None:
    shape, size = p["shape"], math.prod(shapes[0])
    if shape.count(-1) > 1:
        return "at most one dimension of the shape may be -1"
    if 0 in shape or any(d < -1 for d in shape):
        return "the shape may hold positive sizes and one -1"
    known = math.prod(d for d in shape if d != -1)
    if (-1 in shape and size % known) or (-1 not in shape and size != known):
        return f"cannot reshape {size} values into {format_shape(shape)} ({known} values)"
    return None


def _permute(m, x, dims, **_params):
    return x.permute(*dims)


def _permute_check(p: dict, shapes: list) -> str | None:
    dims, rank = p["dims"], len(shapes[0]) + 1
    if sorted(dims) != list(range(rank)):
        return f"dims must order all {rank} dimensions 0..{rank - 1} (0 is the batch), got {tuple(dims)}"
    if dims[0] != 0:
        return "dims must keep the batch dimension first (start with 0)"
    return None


_DIM = Int("dim", 1, -8, 8, help="the dimension to cut along, counting the batch as 0 (1: channels)")


def _size_along(p: dict, shape: tuple) -> int:
    return shape[p["dim"] % (len(shape) + 1) - 1]


def _split(m, x, dim, sizes, **_params):
    parts = x.split(list(sizes), dim=dim)
    return tuple(parts[i] for i in range(len(sizes)))  # indexed: a traced value cannot be iterated


def _split_check(p: dict, shapes: list) -> str | None:
    problem = check_dim(p["dim"], shapes[0])
    if problem:
        return problem
    size = _size_along(p, shapes[0])
    if any(s < 1 for s in p["sizes"]) or sum(p["sizes"]) != size:
        return f"the sizes {'+'.join(map(str, p['sizes']))} must add up to {size}, the size along dim {p['dim']}"
    return None


def _chunk(m, x, dim, chunks, **_params):
    parts = x.chunk(chunks, dim=dim)
    return tuple(parts[i] for i in range(chunks))


def _chunk_check(p: dict, shapes: list) -> str | None:
    problem = check_dim(p["dim"], shapes[0])
    if problem:
        return problem
    size = _size_along(p, shapes[0])
    if size % p["chunks"]:
        return f"{size} (the size along dim {p['dim']}) does not divide into {p['chunks']} equal chunks"
    return None


def _slice(m, x, dim, start, end, step, **_params):
    cut = slice(start, end, step if step != 1 else None)
    index = [slice(None)] * dim + [cut] if dim > 0 else [..., cut] + [slice(None)] * (-dim - 1)
    return x[tuple(index)]


def _slice_check(p: dict, shapes: list) -> str | None:
    problem = check_dim(p["dim"], shapes[0])
    if problem:
        return problem
    size = _size_along(p, shapes[0])
    if not range(size)[slice(p["start"], p["end"], p["step"])]:
        end = "" if p["end"] is None else p["end"]
        return f"{p['start']}:{end} keeps nothing of the {size} along dim {p['dim']}"
    return None


def _select(m, x, dim, index, **_params):
    return x.select(dim, index)


def _select_check(p: dict, shapes: list) -> str | None:
    problem = check_dim(p["dim"], shapes[0])
    if problem:
        return problem
    size = _size_along(p, shapes[0])
    if not -size <= p["index"] < size:
        return f"index {p['index']} is outside the {size} along dim {p['dim']}"
    return None


_PAD_MODULES = {"constant": "ConstantPad", "reflect": "ReflectionPad", "replicate": "ReplicationPad",
                "circular": "CircularPad"}


def _pad_build(p: dict, shapes: list):
    dims = len(p["padding"]) // 2
    cls = f"{_PAD_MODULES[p['mode']]}{dims}d"
    return module(cls, p["padding"], p["value"]) if p["mode"] == "constant" else module(cls, p["padding"])


def _pad_check(p: dict, shapes: list) -> str | None:
    padding, rank = p["padding"], len(shapes[0])
    if len(padding) % 2 or len(padding) > 6:
        return "padding needs 2, 4 or 6 numbers: left, right (then top, bottom, then front, back)"
    if len(padding) // 2 > rank:
        return f"cannot pad {len(padding) // 2} dimensions of a {format_shape(shapes[0])} input in {p['mode']} mode"
    if p["mode"] != "constant" and p["value"] != 0.0:
        return f"a fill value only applies to constant padding, not {p['mode']}"
    return None


def _shuffle(m, x, groups, **_params):
    return x.unflatten(1, (groups, -1)).transpose(1, 2).flatten(1, 2)


def _shuffle_check(p: dict, shapes: list) -> str | None:
    if shapes[0][0] % p["groups"]:
        return f"{shapes[0][0]} channels do not divide into {p['groups']} groups"
    return None


LAYERS = [
    LayerSpec(
        "Flatten", "shape", "Flattens each sample into one long vector (e.g. 64x2x2 becomes 256).",
        params=(Int("start_dim", 1, 1, 8, help="first dimension to flatten, counting the batch as 0"),),
        build=lambda p, s: module("Flatten", p["start_dim"]), prefix="flatten",
        cases=(case((4, 3, 3), (36,)), case((4, 3, 3), (4, 9), start_dim=2)),
        doc=("Joins every dimension from start_dim on into one: 64x4x4 becomes 1024. Put it between the "
             "last convolution or pooling and the first Linear."),
        formula="C x H x W → C·H·W",
    ),
    LayerSpec(
        "Reshape", "shape", "Gives each sample a new shape with the same number of values; one size may be -1.",
        params=(Ints("shape", [-1], min=-1, max=1_000_000, help="new shape without the batch, e.g. 16x4x4"),),
        forward=_reshape, check=_reshape_check, prefix="reshape",
        cases=(case((4, 3, 3), (36,)), case((4, 3, 3), (9, 4), shape=[9, 4]), case((36,), (4, 3, 3), shape=[-1, 3, 3])),
        summary=lambda p: f"to {format_shape(p['shape'])}",
        doc=("Rearranges each sample's values into a new shape with the same count; -1 stands for the "
             "size that makes the count right. E.g. 1x28x28 → 28x28 to read an image row by row with an "
             "LSTM."),
    ),
    LayerSpec(
        "Permute", "shape", "Reorders dimensions, e.g. 0,2,1 swaps the last two (the batch stays at 0).",
        params=(Ints("dims", [0, 2, 1], min=0, max=8, help="new order of the dimensions, batch first"),),
        forward=_permute, check=_permute_check, prefix="permute",
        cases=(case((4, 6), (6, 4)), case((2, 3, 4), (4, 2, 3), dims=[0, 3, 1, 2])),
        summary=lambda p: ",".join(map(str, p["dims"])),
        doc=("Reorders dimensions without changing any value: 0,2,1 turns channels x length into length x"
             " channels (e.g. before an LSTM that reads a Conv1d's output)."),
    ),
]

LAYERS += [
    LayerSpec(
        "Split", "shape", "Cuts a tensor into parts of the given sizes along a dimension: one output per part.",
        params=(_DIM, Ints("sizes", [1, 1], min=1, max=1_000_000, help="the size of each part, e.g. 16x16")),
        forward=_split, outputs="sizes", check=_split_check, prefix="split",
        summary=lambda p: f"{'+'.join(map(str, p['sizes']))} along {p['dim']}",
        cases=(case((2, 4, 4), {"out1": (1, 4, 4), "out2": (1, 4, 4)}),
               case((6, 3), {"out1": (6, 1), "out2": (6, 2)}, dim=2, sizes=[1, 2]),
               case((7, 2), {"out1": (4, 2), "out2": (2, 2), "out3": (1, 2)}, sizes=[4, 2, 1])),
        doc=("Cuts its input along dim into consecutive parts of the given sizes, one output port per part "
             "(out1, out2, ...): sizes 16x48 along channels turn 64x8x8 into 16x8x8 and 48x8x8. The sizes must "
             "add up to the size along dim. No weights; Concat puts the parts back together."),
        formula="out_k = x[..., s₁ + … + s_(k−1) : s₁ + … + s_k, ...] along dim",
    ),
    LayerSpec(
        "Chunk", "shape", "Cuts a tensor into equal chunks along a dimension (ShuffleNet's channel split).",
        params=(_DIM, Int("chunks", 2, 2, 64, help="how many equal parts")),
        forward=_chunk, outputs="chunks", check=_chunk_check, prefix="chunk",
        summary=lambda p: f"{p['chunks']} along {p['dim']}",
        cases=(case((4, 3, 3), {"out1": (2, 3, 3), "out2": (2, 3, 3)}),
               case((5, 9), {"out1": (5, 3), "out2": (5, 3), "out3": (5, 3)}, dim=-1, chunks=3)),
        doc=("Cuts its input along dim into chunks equal parts, one output port each (out1, out2, ...): chunks 2"
             " along channels turns 4x3x3 into two 2x3x3. The size along dim must divide by chunks; for unequal "
             "parts use Split. ShuffleNet v2 splits channels this way, sends one half through a branch, then "
             "joins them with Concat."),
        formula="each out_k gets size / chunks of the size along dim",
    ),
    LayerSpec(
        "Slice", "shape", "Keeps start:end (every step-th) along a dimension, as x[:, start:end:step].",
        params=(_DIM, Int("start", 0, -1_000_000, 1_000_000, help="first index kept; negative counts from the end"),
                Int("end", None, -1_000_000, 1_000_000, optional=True,
                    help="index after the last kept; empty: the end"),
                Int("step", 1, 1, 1_000_000, help="keep every step-th")),
        forward=_slice, check=_slice_check, prefix="slice",
        summary=lambda p: f"{p['start']}:{'' if p['end'] is None else p['end']}"
                          f"{'' if p['step'] == 1 else ':' + str(p['step'])} along {p['dim']}",
        cases=(case((8, 3), (4, 3), end=4), case((8, 3), (4, 3), start=1, step=2),
               case((2, 10), (2, 3), dim=2, start=-3)),
        doc=("Keeps part of its input along dim, as Python's x[start:end:step] does, and leaves the other "
             "dimensions as they are: end 4 turns 8x3 into 4x3. Negative indices count from the end (start −3: "
             "the last three). No weights; use it to keep the first steps of a sequence or some channels."),
        formula="size_out = ceil((end − start) / step); negative indices count from the end, an empty end is the "
                "size along dim",
    ),
    LayerSpec(
        "Select", "shape", "Takes one index along a dimension and drops that dimension, as x[:, 0] (a class token).",
        params=(Int("dim", 1, -8, 8, help="the dimension to index, counting the batch as 0"),
                Int("index", 0, -1_000_000, 1_000_000, help="which entry; -1 is the last")),
        forward=_select, check=_select_check, prefix="select",
        summary=lambda p: f"[{p['index']}] along {p['dim']}",
        cases=(case((5, 8), (8,)), case((5, 8), (5,), dim=2, index=-1)),
        doc=("Takes the entry at index along dim and removes that dimension: index 0 along dim 1 turns a "
             "sequence x features of 5x8 into 8 features. A vision transformer reads its class token this way "
             "before the classifier; index −1 takes the last step of a sequence. No weights."),
        formula="y = x[:, index] (along dim)",
    ),
    LayerSpec(
        "Pad", "shape", "Adds values around the last dimensions: zeros (or a constant), a mirror, or the edge.",
        params=(Ints("padding", [1, 1, 1, 1], min=0, max=1024,
                     help="left, right (last dimension), then top, bottom, then front, back"),
                Choice("mode", "constant", ("constant", "reflect", "replicate", "circular"),
                       help="constant: a fixed value; reflect: a mirror; replicate: the edge repeated; "
                            "circular: wrap around"),
                Float("value", 0.0, -1e9, 1e9, help="the fill of constant padding")),
        build=_pad_build, check=_pad_check, prefix="pad",
        summary=lambda p: f"{','.join(map(str, p['padding']))}{'' if p['mode'] == 'constant' else ', ' + p['mode']}",
        cases=(case((3, 4, 4), (3, 6, 6)), case((2, 5), (2, 8), padding=[1, 2], value=-1.0),
               case((3, 4, 4), (3, 6, 5), padding=[1, 0, 2, 0], mode="reflect")),
        doc=("Adds values around the last one, two or three dimensions: padding gives left, right for the last "
             "dimension, then top, bottom, then front, back. 1,1,1,1 turns 3x4x4 into 3x6x6. constant fills with"
             " value; reflect mirrors the border and replicate repeats it, which avoids dark edges in image "
             "generation and style transfer. A convolution's own padding is simpler for plain zeros."),
        formula="W_out = W + left + right, H_out = H + top + bottom, D_out = D + front + back",
    ),
    LayerSpec(
        "ChannelShuffle", "shape", "Interleaves the channels of its groups (ShuffleNet): 1a 1b 2a 2b -> 1a 2a 1b 2b.",
        params=(Int("groups", 2, 1, 1024, help="how many groups the channels come in"),),
        forward=_shuffle, check=_shuffle_check, prefix="shuffle",
        summary=lambda p: f"{p['groups']} groups",
        cases=(case((4, 3, 3), (4, 3, 3)), case((6, 5), (6, 5), groups=3)),
        doc=("Reorders the channels (dimension 1) so that each group of channels receives some from every other "
             "group; the shape and values are kept, and the channels must divide by groups. ShuffleNet puts it "
             "after a grouped convolution (groups above 1), whose groups would otherwise never exchange "
             "information."),
        formula="C = groups · n channels: view as groups x n, swap to n x groups, flatten back to C",
    ),
]
