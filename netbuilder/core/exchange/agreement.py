"""When two computations of a network agree: the one rule that ONNX export, ONNX import and PyTorch import share.

Per output, max |difference| <= 1e-4 x max(1, largest |reference output|): float32 rounding grows with the
size of the outputs (a ResNet-152 with random weights gives outputs in the thousands, where 1e-4 absolute is
below float32's own rounding), while small outputs are held to 1e-4.
"""
from __future__ import annotations

from dataclasses import dataclass

RELATIVE = 1e-4
RULE = "1e-4 x max(1, largest |output|)"


@dataclass(frozen=True)
class Agreement:
    worst: float  # the largest |difference| over the outputs
    allowed: float  # what the rule allows for the output where the difference was worst (relative to its size)
    ok: bool

    def excess(self) -> str:
        """`192 (more than 1e-4 x max(1, largest |output|) = 0.413)`."""
        return f"{self.worst:.3g} (more than {RULE} = {self.allowed:.3g})"


def _arrays(values) -> list:
    import numpy as np

    values = values if isinstance(values, (tuple, list)) else (values,)
    out = []
    for value in values:
        if hasattr(value, "detach"):
            value = value.detach().cpu().double().numpy()
        out.append(np.asarray(value, dtype=np.float64))
    return out


def compare(got, reference) -> Agreement:
    """How far `got` is from `reference` (tensors, arrays, or tuples/lists of them, output by output). When an
    output is too far, the agreement reports that output (the first such); else the largest difference."""
    import numpy as np

    worst = Agreement(0.0, RELATIVE, True)
    for g, r in zip(_arrays(got), _arrays(reference)):
        if g.shape != r.shape:
            return Agreement(float("inf"), 0.0, False)
        diff = float(np.abs(g - r).max()) if g.size else 0.0
        allowed = RELATIVE * max(1.0, float(np.abs(r).max()) if r.size else 0.0)
        if not diff <= allowed:  # NaN fails too
            return Agreement(diff, allowed, False)
        if diff >= worst.worst:
            worst = Agreement(diff, allowed, True)
    return worst
