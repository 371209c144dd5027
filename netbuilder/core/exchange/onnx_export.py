"""Export to ONNX, verified before anyone is told it worked.

The compiled graph is exported in eval mode (Dropout goes; BatchNorm stays a node, which onnxruntime fuses)
with a dynamic batch dimension; inputs and outputs are named after the Input and Output blocks. The
file is then checked with onnx.checker and run in onnxruntime on a fresh batch of another size; only
if onnxruntime agrees with torch (max |difference| <= 1e-4 x max(1, largest |output|): the rule ONNX and
PyTorch import use too, agreement.py) is it moved to where it was asked for.
"""
from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..base.errors import NetbuilderError, first_line
from ..base.files import atomic_write, refuse_overwrite
from ..build.compile import compile_graph
from ..build.weights import check_finite, load_for_inference, read_state, split_normalization
from ..checks.memory import check_fits
from ..checks.shapes import infer_shapes
from ..model.graph import Graph
from . import agreement
from .onnx_equivalents import ADAPTIVE, exportable

DEFAULT_OPSET = 17
TOLERANCE = 1e-4
# What torch's TorchScript exporter says about every export of ours, and why it does not concern the file: the
# exporter is chosen on purpose (dynamo=False: no onnxscript, seconds faster, and what the importer round-trips);
# the traced constants and the batch size the recurrent layers were traced with are checked by running the file
# in onnxruntime on a batch of another size. Any other warning reaches the user.
EXPECTED_WARNINGS = (
    (DeprecationWarning, r"You are using the legacy TorchScript-based ONNX export"),
    (DeprecationWarning, r"The feature will be removed\. Please remove usage of this function"),
    (torch.jit.TracerWarning, r"Converting a tensor to a Python boolean might cause the trace to be incorrect"),
    (UserWarning, r"Exporting a model to ONNX with a batch_size other than 1, with a variable length with "
                  r"(LSTM|GRU|RNN)"),
    (UserWarning, r"Constant folding - Only steps=1 can be constant folded"),  # the export does not fold constants
)


class ExportError(NetbuilderError):
    """The graph could not be exported, or the export did not verify; the message says why."""


@dataclass
class ExportReport:
    path: Path
    bytes: int
    opset: int
    max_abs_diff: float
    seconds: float
    inputs: list[str]
    outputs: list[str]

    notes: list[str] = field(default_factory=list)  # e.g. blocks the weights file does not hold (fresh weights)

    def summary(self) -> str:
        return (f"wrote {self.path} ({self.bytes / 2**20:.2f} MB, opset {self.opset}); onnx.checker passed; "
                f"onnxruntime matches torch to {self.max_abs_diff:.1e}" + "".join(f"; {n}" for n in self.notes))


def sample_inputs(graph: Graph, model: torch.fx.GraphModule, batch: int, seed: int = 0) -> list[torch.Tensor]:
    """A random batch for each of the model's inputs; integer ids stay below every Embedding's vocabulary."""
    generator = torch.Generator().manual_seed(seed)
    vocab = min((m.num_embeddings for m in model.modules() if isinstance(m, torch.nn.Embedding)), default=10)
    tensors = []
    for name in (n.target for n in model.graph.find_nodes(op="placeholder")):
        node = graph.find(name)
        shape = (batch, *node.params["shape"])
        if node.params.get("dtype") == "int64":
            tensors.append(torch.randint(0, vocab, shape, generator=generator))
        else:
            tensors.append(torch.randn(shape, generator=generator))
    return tensors


def model_to_export(graph: Graph, weights: str | os.PathLike | None = None,
                    model: torch.nn.Module | None = None, weight_copies: int = 4,
                    notes: list[str] | None = None) -> torch.nn.Module:
    """`model` (already trained) if given, else the graph compiled for inference with `weights` loaded (and the
    input normalization the file holds); on the CPU, in eval mode. Blocks the file holds nothing of (a new head
    on a pretrained body) keep fresh weights, which `notes` hears. Raises CompileError, WeightsError (weights
    that do not fit, or hold NaN or infinite values), or MemoryGuardError when checking the export (a batch of
    3, `weight_copies` copies of the weights) cannot fit."""
    check_fits(graph, 3, what="exporting", weight_copies=weight_copies)
    if model is None:
        if weights is None:
            model = compile_graph(graph)
        else:
            state = read_state(weights)
            model = compile_graph(graph, normalization=split_normalization(state)[1])
            fresh = _fresh_blocks(model, state)
            load_for_inference(model, {**state, **{k: v for k, v in model.state_dict().items()
                                                   if k.split(".")[0] in fresh}}, str(weights))
            if fresh and notes is not None:
                notes.append(f"{', '.join(sorted(fresh))} {'start' if len(fresh) > 1 else 'starts'} with fresh weights "
                             f"(not in {Path(weights).name})")
    check_finite(model, str(weights) if weights is not None else "the trained weights")
    return model.cpu().eval()


def _fresh_blocks(model: torch.nn.Module, state: dict) -> set[str]:
    """The blocks whose tensors the state holds none of (a block it holds some of must have them all)."""
    own = model.state_dict()
    held = {key.split(".")[0] for key in own if key in state}
    return {key.split(".")[0] for key in own if key not in state} - held


def max_abs_diff(got, expected) -> float:
    """The largest |difference| between two sets of outputs: tensors, arrays, or tuples/lists of them."""
    got = got if isinstance(got, (tuple, list)) else (got,)
    expected = expected if isinstance(expected, (tuple, list)) else (expected,)
    return max(float((torch.as_tensor(g) - torch.as_tensor(e)).abs().max()) for g, e in zip(got, expected))


def export_onnx(graph: Graph, path: str | os.PathLike, weights: str | os.PathLike | None = None,
                opset: int = DEFAULT_OPSET, model: torch.nn.Module | None = None, overwrite: bool = False) -> ExportReport:
    """Export and verify. `weights` (a state_dict file) or `model` (already trained) supply the weights;
    otherwise the freshly initialized ones are exported. A file already at `path` is replaced only with
    `overwrite` (else OverwriteError, before any work). Raises CompileError, WeightsError or ExportError."""
    import onnx
    from . import onnx_guard

    path = Path(path)
    refuse_overwrite(path, overwrite=overwrite)
    if not 7 <= opset <= 21:
        raise ExportError(f"opset must be 7..21, got {opset}")
    start = time.perf_counter()
    notes: list[str] = []
    model = model_to_export(graph, weights, model, notes=notes)
    placeholders = [n.target for n in model.graph.find_nodes(op="placeholder")]
    outputs = [n.name for n in graph.nodes if n.type == "Output"]
    example = sample_inputs(graph, model, batch=2)
    dynamic = {name: {0: "batch"} for name in placeholders + outputs}

    # adaptive pooling whose windows differ in size is written as an exact equivalent (onnx_equivalents.py)
    report = infer_shapes(graph)
    sizes = {n.name: report.nodes[n.id].inputs[0] for n in graph.nodes
             if n.type in ADAPTIVE and n.id in report.nodes and report.nodes[n.id].inputs}

    def write(tmp: str) -> None:
        try:
            with warnings.catch_warnings(), exportable(model, sizes):
                for category, message in EXPECTED_WARNINGS:
                    warnings.filterwarnings("ignore", message, category)
                torch.onnx.export(model, tuple(example), tmp, input_names=placeholders, output_names=outputs,
                                  dynamic_axes=dynamic, opset_version=opset, dynamo=False,
                                  do_constant_folding=False)  # keeps BatchNorm: imports round-trip exactly
        except Exception as e:  # noqa: BLE001 - torch's exporter raises many kinds
            raise ExportError(f"ONNX export failed: {first_line(e)}") from None
        try:
            onnx.checker.check_model(tmp)
        except onnx.checker.ValidationError as e:
            raise ExportError(f"the exported model does not pass onnx.checker: {first_line(e)}") from None
        report.max_abs_diff = verify(tmp)

    def verify(file: str) -> float:
        session = onnx_guard.session(file)
        fresh = sample_inputs(graph, model, batch=3, seed=1)
        with torch.no_grad():
            expected = model(*fresh)
        got = session.run(outputs, {name: t.numpy() for name, t in zip(placeholders, fresh)})
        result = agreement.compare(got, expected)  # relative to the outputs' size, as the imports' checks
        if not result.ok:
            raise ExportError(f"onnxruntime disagrees with torch by {result.excess()}; the file was not written")
        return result.worst

    report = ExportReport(path, 0, opset, 0.0, 0.0, placeholders, outputs, notes)
    atomic_write(path, write)
    report.bytes = path.stat().st_size
    report.seconds = time.perf_counter() - start
    return report
