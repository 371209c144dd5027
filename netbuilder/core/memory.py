"""Will it fit? What a graph needs in memory, estimated from its shapes, before anything is allocated.

    plan = estimate(graph, batch_size=64, training=True, optimizer_slots=2)   # Adam keeps 2 tensors a weight
    check_fits(graph, batch_size=64, training=True, optimizer_slots=2)       # MemoryGuardError if it cannot

The figures come from shape inference (meta device, nothing allocated): the weights (parameters and
buffers, as float32), their gradients and the optimizer's state when training, and the activations of a
batch (every block's output is kept for the backward pass when training, plus the widest step's
gradients; a forward pass alone needs its widest step). It errs low rather than high: it is there to refuse
what cannot possibly fit, at once, instead of failing in the allocator minutes later. Export and import hold more copies of the weights (the exported bytes, onnxruntime's
session): `weight_copies` says how many. The machine's available memory is read from /proc/meminfo
(MemAvailable), else from os.sysconf; where neither says, nothing is refused.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import NetbuilderError

FLOAT_BYTES = 4
HEADROOM = 0.9  # of the available memory, what a plan may use: the process itself, Python, torch need some


class MemoryGuardError(NetbuilderError):
    """What was asked for cannot fit in this machine's memory; the message gives both figures."""


def format_bytes(n: float) -> str:
    """1536 -> "1.5 KB"; 42947912000000 -> "42,948 GB"."""
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= size:
            value = n / size
            return f"{value:,.0f} {unit}" if value >= 1000 else f"{value:.3g} {unit}"
    return f"{int(n)} bytes"


def available_bytes() -> int | None:
    """Memory this process can still take without swapping: MemAvailable from /proc/meminfo, else the free
    physical pages from os.sysconf; None when the system does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


@dataclass(frozen=True)
class MemoryPlan:
    """Bytes a run needs, by what holds them."""

    weights: int
    gradients: int
    optimizer: int
    activations: int
    batch_size: int

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations

    def describe(self) -> str:
        parts = [f"weights {format_bytes(self.weights)}"]
        if self.gradients:
            parts.append(f"gradients {format_bytes(self.gradients)}")
        if self.optimizer:
            parts.append(f"optimizer state {format_bytes(self.optimizer)}")
        parts.append(f"activations {format_bytes(self.activations)} for a batch of {self.batch_size:,}")
        return f"about {format_bytes(self.total)} ({', '.join(parts)})"


def estimate(graph, batch_size: int, *, training: bool = False, optimizer_slots: int = 0,
             weight_copies: int = 1, report=None) -> MemoryPlan:
    """What running `graph` on a batch needs. `report` (a ShapeReport) saves inferring the shapes again; blocks
    whose shapes failed count for nothing (compiling refuses them anyway)."""
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
               weight_copies: int = 1, report=None, available: int | None = None) -> MemoryPlan:
    """The plan, or MemoryGuardError when it needs more than the machine has available (`available`, in
    bytes, stands in for the machine's figure). `what` names the work in the message: "export", "training"."""
    plan = estimate(graph, batch_size, training=training, optimizer_slots=optimizer_slots,
                    weight_copies=weight_copies, report=report)
    available = available if available is not None else available_bytes()
    if available is not None and plan.total > HEADROOM * available:
        hint = " (try a smaller batch)" if training and plan.activations > plan.weights + plan.gradients + \
            plan.optimizer else ""
        raise MemoryGuardError(f"{what} needs {plan.describe()}; this machine has {format_bytes(available)} "
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
