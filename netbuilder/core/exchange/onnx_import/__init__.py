"""Import an ONNX model as an editable graph of registry blocks, with its weights.

    reading.py    the file, checked: opset, inputs, batch size
    wire.py       its weights read apart from its structure, once (torch and onnxruntime share them)
    patterns.py   operators written out in pieces (GELU, layer norm, SiLU, ...) put back together
    folding.py    constant folding (the shape arithmetic exporters leave) at the model's opset
    views.py      tensors that are Reshapes and Transposes of a block's output, without blocks of their own
    importer.py   the walk: each node through its operator family's handler in ops/
    refusals.py   what cannot be imported, once per root cause
    simplify.py   tidying the result (an RNN's last step as a param)
    parity.py     the imported graph against onnxruntime on the original file (one forward pass each)

Nothing is written unless every node has a block and the result matches onnxruntime.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ...base.errors import first_line
from ...base.files import atomic_write_text, refuse_overwrite
from ...build.compile import CompileError
from ...build.weights import compiled_with, save_weights
from ...model.graph import Graph, GraphError
from ...model.groups import add_groups, groups_from_scopes
from ...model.layout import apply_layout
from . import parity, simplify
from .importer import Importer
from .ops import handler_for
from .reading import read_model
from .refusals import OnnxImportError, Refusal


@dataclass
class Imported:
    graph: Graph
    state: dict[str, torch.Tensor]
    max_abs_diff: float


def import_onnx(path: str | os.PathLike) -> Imported:
    """Read an ONNX file into a Graph and its weights, checked against onnxruntime on the file itself.
    OnnxImportError names what cannot be imported; nothing is written here."""
    from ...checks.memory import check_fits
    from .. import onnx_guard

    file = read_model(path)
    importer = Importer(file)
    try:
        importer.run(handler_for)
    except (GraphError, Refusal) as e:  # what the graph refuses outside an operator (an input's name, say)
        raise OnnxImportError(f"{file.path.name}: {e}") from None
    importer.share_later()
    if importer.refusals:
        raise OnnxImportError(importer.refusals.message(file.path.name))
    simplify.last_steps(importer.graph, lambda node_id: importer.shapes[node_id].outputs["out"], importer.refresh)
    graph, state = importer.graph, importer.state
    check_fits(graph, 2, what=f"checking {file.path.name}", weight_copies=2)  # the module, onnxruntime's copy
    apply_layout(graph)
    add_groups(graph, groups_from_scopes({i: s for i, s in importer.scopes.items() if i in graph}))
    try:
        module = compiled_with(graph, state, file.path.name)  # the state's tensors themselves, not a copy
    except (CompileError, ValueError) as e:
        raise OnnxImportError(f"{file.path.name}: the imported graph does not work: {e}") from None
    try:
        diff = parity.check(file, graph, module)
    except onnx_guard.runtime_errors() as e:  # a model onnxruntime cannot load or run
        raise OnnxImportError(f"{file.path.name}: onnxruntime cannot run it ({first_line(e)[:200]})") from None
    return Imported(graph, state, diff)


def import_onnx_file(path: str | os.PathLike, graph_path: str | os.PathLike, overwrite: bool = False) -> Imported:
    """Import and write GRAPH.json with its weights beside it (GRAPH.pt, referenced by the graph's meta). Either
    file already there is replaced only with `overwrite` (else OverwriteError, before the import)."""
    graph_path = Path(graph_path)
    weights_path = graph_path.with_suffix(".pt")
    refuse_overwrite(graph_path, weights_path, overwrite=overwrite)
    imported = import_onnx(path)
    imported.graph.meta["weights"] = weights_path.name
    save_weights(compiled_with(imported.graph, imported.state, str(path)), weights_path)
    atomic_write_text(graph_path, json.dumps(imported.graph.to_dict(), indent=1) + "\n")
    return imported


__all__ = ["Imported", "OnnxImportError", "import_onnx", "import_onnx_file"]
