"""Will it fit? What a graph needs in memory, before anything is allocated, estimated from its shapes.

    plan = estimate(graph, batch_size=64, training=True, optimizer_slots=2)
    check_fits(graph, batch_size=64, what="exporting")        # MemoryGuardError if it cannot

The figures come from shape inference: the weights (parameters and buffers, as float32) and the widest step's
activations; that estimate errs low rather than high. Export and import hold more copies of the weights (the
exported bytes, onnxruntime's session): `weight_copies` says how many. Training measured on the meta device, and
the largest batch that fits, are training's (core/training/memory_plan.py). The machine's available memory is
core/base/system.py's; where none says, nothing is refused.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..base.errors import NetbuilderError
from ..base.system import available_bytes, format_bytes, holder

FLOAT_BYTES = 4
HEADROOM = 0.9  # of the available memory, what a plan may use: the process itself, Python, torch need some


class MemoryGuardError(NetbuilderError):
    """What was asked for cannot fit in this machine's memory; the message gives both figures."""


@dataclass(frozen=True)
class MemoryPlan:
    """Bytes a run needs, by what holds them."""

    weights: int
    gradients: int
    optimizer: int
    activations: int  # a step's peak besides weights, gradients and optimizer state (activations, temporaries)
    batch_size: int
    per_sample: int = 0  # how many more bytes each more sample in a batch takes (measured plans)
    measured: bool = False  # traced on the meta device (else estimated from the shapes)
    data: int = 0  # the dataset, where it is held in the same memory (in-memory training on that device)

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations + self.data

    def largest_batch(self, available: int | None, headroom: float = HEADROOM) -> int | None:
        """The largest batch whose plan fits in `available` bytes (0: not even one sample); None when unknown."""
        if available is None or self.per_sample <= 0:
            return None
        fixed = self.total - self.per_sample * self.batch_size  # what does not grow with the batch
        return max(int((headroom * available - fixed) // self.per_sample), 0)

    def describe(self) -> str:
        parts = [f"weights {format_bytes(self.weights)}"]
        if self.gradients:
            parts.append(f"gradients {format_bytes(self.gradients)}")
        if self.optimizer:
            parts.append(f"optimizer state {format_bytes(self.optimizer)}")
        parts.append(f"activations {format_bytes(self.activations)} for a batch of {self.batch_size:,}")
        if self.data:
            parts.append(f"the dataset {format_bytes(self.data)}")
        return f"about {format_bytes(self.total)} ({', '.join(parts)})"


def estimate(graph, batch_size: int, *, training: bool = False, optimizer_slots: int = 0,
             weight_copies: int = 1, report=None) -> MemoryPlan:
    """What running `graph` on a batch needs, from its shapes. `report` (a ShapeReport) saves inferring the shapes
    again; blocks whose shapes failed count for nothing (compiling refuses them anyway)."""
    from .shapes import infer_shapes

    report = report or infer_shapes(graph)
    params = report.total_params
    outputs = [_numel(info.output) * _dtype_bytes(info.dtype) for info in report.nodes.values()
               if info.output is not None]
    widest = max(outputs, default=0)
    if training:
        activations = sum(outputs) + 2 * widest  # every output kept for backward, plus a step's gradients
    else:
        activations = 2 * widest  # a step's input and output at once
    weights = params * FLOAT_BYTES
    return MemoryPlan(weights=weights * max(weight_copies, 1), gradients=weights if training else 0,
                      optimizer=weights * optimizer_slots if training else 0,
                      activations=activations * max(batch_size, 1), batch_size=max(batch_size, 1))


def check_fits(graph, batch_size: int, *, what: str = "this", training: bool = False, optimizer_slots: int = 0,
               weight_copies: int = 1, report=None, available: int | None = None, device=None,
               plan: MemoryPlan | None = None) -> MemoryPlan:
    """The plan (`plan`, else estimated from the shapes), or MemoryGuardError when it needs more than the machine
    (or the `device`: "cpu", "cuda", ...) has available (`available`, in bytes, stands in for the machine's
    figure). `what` names the work in the message: "export", "training"."""
    plan = plan or estimate(graph, batch_size, training=training, optimizer_slots=optimizer_slots,
                            weight_copies=weight_copies, report=report)
    given, available = available is not None, available if available is not None else available_bytes(device)
    if available is not None and plan.total > HEADROOM * available:
        hint = ""
        if training and plan.activations > plan.weights + plan.gradients + plan.optimizer:
            largest = plan.largest_batch(available)
            hint = f" (batches of up to {largest:,} fit)" if largest else " (try a smaller batch)"
        where = holder(device) if not given else "this machine has" if device in (None, "cpu") else f"{device} has"
        raise MemoryGuardError(f"{what} needs {plan.describe()}; {where} {format_bytes(available)} "
                               f"of memory available{hint}")
    return plan


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _dtype_bytes(dtype: str | None) -> int:
    return {"float64": 8, "int64": 8, "float16": 2, "bfloat16": 2, "bool": 1, "uint8": 1, "int8": 1}.get(
        dtype or "float32", FLOAT_BYTES)
