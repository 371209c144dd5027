"""The imported graph must compute what onnxruntime computes on the original file.

The check runs at the file's own batch size when it is fixed (else at 2) and allows, per output,
max |difference| <= 1e-4 x max(1, largest |output|): float32 rounding grows with the outputs' size.
"""
from __future__ import annotations

import torch

from ...model.graph import Graph
from .. import agreement
from .refusals import OnnxImportError

RELATIVE = agreement.RELATIVE


def compare(got: list, expected, file: str = "the model") -> float:
    """The largest |difference| over the outputs; OnnxImportError, stating the tolerance, when one is too far.
    The rule is the one export and PyTorch import use (agreement.py); onnxruntime's outputs (`got`) set the scale."""
    result = agreement.compare(expected, got)
    if not result.ok:
        raise OnnxImportError(f"{file}: the imported graph differs from onnxruntime by {result.excess()}")
    return result.worst


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
