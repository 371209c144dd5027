"""The imported graph must compute what onnxruntime computes on the original file.

The check runs at the file's own batch size when it is fixed (else at 2) and allows, per output,
max |difference| <= 1e-4 x max(1, largest |output|): float32 rounding grows with the outputs' size.
"""
from __future__ import annotations

import numpy as np
import torch

from ...model.graph import Graph
from .refusals import OnnxImportError

RELATIVE = 1e-4


def compare(got: list, expected, file: str = "the model") -> float:
    """The largest |difference| over the outputs; OnnxImportError, stating the tolerance, when one is too far."""
    expected = expected if isinstance(expected, (tuple, list)) else (expected,)
    worst = 0.0
    for g, e in zip(got, expected):
        g = np.asarray(g, dtype=np.float64)
        e = e.detach().double().numpy() if isinstance(e, torch.Tensor) else np.asarray(e, dtype=np.float64)
        if g.shape != e.shape:
            raise OnnxImportError(f"{file}: the imported graph gives an output of shape {'x'.join(map(str, e.shape))}"
                                  f", onnxruntime {'x'.join(map(str, g.shape))}")
        diff = float(np.abs(g - e).max()) if g.size else 0.0
        allowed = RELATIVE * max(1.0, float(np.abs(g).max()) if g.size else 0.0)
        if not diff <= allowed:
            raise OnnxImportError(f"{file}: the imported graph differs from onnxruntime by {diff:.3g} (more than "
                                  f"1e-4 x max(1, largest |output|) = {allowed:.3g})")
        worst = max(worst, diff)
    return worst


def check(path, graph: Graph, module: torch.nn.Module, names: list[str], batch: int | None) -> float:
    """names: the file's inputs, in the order of the graph's Input blocks."""
    from .. import onnx_guard
    from ..onnx_export import sample_inputs

    module.eval()
    session = onnx_guard.session(str(path))
    inputs = sample_inputs(graph, module, batch=batch or 2, seed=3)
    got = session.run(None, dict(zip(names, (t.numpy() for t in inputs))))
    with torch.no_grad():
        return compare(got, module(*inputs), path.name)
