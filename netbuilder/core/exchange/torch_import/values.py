"""What flows along an ExportedProgram's graph as the importer walks it.

- `Val`: a tensor computed by blocks: a block's output port seen in torch's order of axes. `axes[i]` is the
  axis of the block output (0: the batch) that torch's axis i is. A transpose or permute only changes the axes
  (an attention module reads (sequence, batch, features) of a batch-first block without a block of its own).
- `Param`: a parameter or buffer of the module, by its state_dict name (weights stay shared by that name).
- a `torch.Tensor`: a constant (folded from constants, or a lifted tensor constant).
- `Batched`: a constant or parameter repeated over the batch at `axis` (an RNN's zero state, a class token
  expanded over the batch).
- `BATCH`: the batch size itself (`x.shape[0]`), a number no constant can hold.
- python numbers, lists, None: the arguments of the operators.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Port:
    """An output port of a block."""

    node_id: str
    port: str = "out"


@dataclass(frozen=True)
class Val:
    port: Port
    axes: tuple[int, ...]

    @property
    def rank(self) -> int:
        return len(self.axes)

    @property
    def batch_axis(self) -> int:
        return self.axes.index(0)

    @property
    def plain(self) -> bool:
        return self.axes == tuple(range(len(self.axes)))

    def permuted(self, order: list[int]) -> Val:
        """The view after torch's permute(order)."""
        return Val(self.port, tuple(self.axes[o] for o in order))

    def block_axis(self, dim: int) -> int:
        """The block output's axis of torch's axis `dim` (negative counts from the end)."""
        return self.axes[dim % self.rank]


def plain(port: Port, rank: int) -> Val:
    """A block output (rank counts the batch) in its own order."""
    return Val(port, tuple(range(rank)))


@dataclass(frozen=True)
class Param:
    name: str  # the state_dict key (`layer1.0.conv1.weight`)
    tensor: object  # torch.Tensor

    @property
    def module(self) -> str:
        """The module path (`layer1.0.conv1`)."""
        return self.name.rsplit(".", 1)[0] if "." in self.name else ""

    @property
    def key(self) -> str:
        """The name within its module (`weight`)."""
        return self.name.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Batched:
    value: object  # a torch.Tensor or a Param: the values of one sample
    axis: int  # where the batch is (the value has a size-1 axis there, or none)


class _Batch:
    """The batch size, as `x.shape[0]` gives it."""

    def __repr__(self) -> str:
        return "BATCH"


BATCH = _Batch()


class _FromBatch:
    """A number computed from the batch size (batch x heads): only a size, never a block's setting."""

    def __repr__(self) -> str:
        return "a number computed from the batch size"


FROM_BATCH = _FromBatch()


def is_constant(value) -> bool:
    """A value that no block computes (a constant, a parameter, a number, the batch size, a list of these)."""
    if isinstance(value, (list, tuple)):
        return all(is_constant(v) for v in value)
    return not isinstance(value, Val) and not _refused(value)


def _refused(value) -> bool:
    from ..onnx_import.refusals import Refused

    return isinstance(value, Refused)
