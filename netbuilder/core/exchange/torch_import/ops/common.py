"""What several operator families share: weights from arguments, axes through views, numbers in params."""
from __future__ import annotations

import torch

from ...onnx_import.refusals import Refusal
from ..values import Param, Val

INT64_MAX = 9223372036854775807


def tensor_of(value) -> torch.Tensor | None:
    """The tensor of a weight argument (a parameter or a constant), or None."""
    if isinstance(value, Param):
        return value.tensor.detach()
    if isinstance(value, torch.Tensor):
        return value.detach()
    return None


def weight(node, index: int, name: str | None = None, what: str = "weight") -> Param | torch.Tensor:
    value = node.arg(index, name)
    if tensor_of(value) is None:
        raise Refusal(f"its {what} is computed by the network, not a weight of its own")
    return value


def optional_weight(node, index: int, name: str | None = None, what: str = "bias"):
    value = node.arg(index, name)
    if value is None:
        return None
    return weight(node, index, name, what)


def shared(value) -> Param | None:
    """The parameter a block's main weight is, if it is one (a module called twice shares it)."""
    return value if isinstance(value, Param) else None


def block_dim(val: Val, dim: int, what: str = "works") -> int:
    """The block's axis of torch's axis `dim` (the number as written when the value is in the block's own
    order); Refusal along the batch."""
    axis = val.block_axis(dim)
    if axis == 0:
        raise Refusal(f"{what} along the batch axis")
    return dim if val.plain else axis


def last_axes(imp, node, val: Val, count: int = 1, what: str = "works") -> Val:
    """The value with its last `count` axes the block output's last ones, in order (a Permute block where
    they are not)."""
    rank = val.rank
    tail = val.axes[rank - count:]
    if tail != tuple(range(rank - count, rank)):
        val = imp.val(imp.port(val, node))
    if val.batch_axis >= rank - count:
        raise Refusal(f"{what} along the batch axis")
    return val


def one(value):
    """[3, 3] -> 3 (the registry's way to write a size the same in every dimension)."""
    if isinstance(value, (list, tuple)):
        values = [int(v) for v in value]
        return values[0] if values and len(set(values)) == 1 else values
    return int(value)


def ints(value, length: int) -> list[int]:
    if isinstance(value, (list, tuple)):
        values = [int(v) for v in value]
        return values * length if len(values) == 1 else values
    return [int(value)] * length


def number(value) -> float | None:
    """A python number or a one-element constant as a float, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    tensor = value if isinstance(value, torch.Tensor) else None
    if tensor is not None and tensor.numel() == 1 and tensor.is_floating_point() | (tensor.dtype == torch.int64):
        return float(tensor.reshape(-1)[0])
    return None
