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
        diff = float(np.abs(g - e).max()) if g.size else 0.0
        allowed = RELATIVE * max(1.0, float(np.abs(g).max()) if g.size else 0.0)
        if not diff <= allowed:
            raise OnnxImportError(f"{file}: the imported graph differs from onnxruntime by {diff:.3g} (more than "
                                  f"1e-4 x max(1, largest |output|) = {allowed:.3g})")
        worst = max(worst, diff)
    return worst


def check(file, graph: Graph, module: torch.nn.Module) -> float:
    """The imported graph (compiled: `module`) against onnxruntime running the file (reading.ModelFile), whose
    inputs are in the order of the graph's Input blocks."""
    from ..onnx_export import sample_inputs

    module.eval()
    session = file.session()
    inputs = sample_inputs(graph, module, batch=file.fixed_batch or 2, seed=3)
    got = session.run(None, {spec.name: t.numpy() for spec, t in zip(file.inputs, inputs)})
    with torch.no_grad():
        return compare(got, module(*inputs), file.path.name)
