"""Import PyTorch models as editable graphs of registry blocks, with their weights.

    netbuilder import MODEL.pt2 -o GRAPH.json                        # a torch.export.save file
    netbuilder import model.py:Net --input 1x3x32x32 -o GRAPH.json   # code: a module class, or a function
                                                                     # returning a module (RUNS the file)

    source.py     FILE.py:NAME run and exported with torch.export (a dynamic batch where the code allows)
    guard.py      a .pt2 file read without running anything it holds
    naming.py     module paths and lines of code as block names and groups; netbuilder's own code's comments
    importer.py   the walk: each ATen operator through its family's handler in ops/, attention read whole
    simplify.py   an RNN's last step, chains of Adds, a Scale's factor and offset, as one block each
Shared with the ONNX import: refusals (one line per root cause) and the rule the result is checked by
(agreement.py: 1e-4 x max(1, largest |output|) against the module's own outputs). Nothing is written unless
every operator has a block and the result agrees.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ...base.files import atomic_write_text
from ...build.compile import CompileError, compile_graph
from ...build.weights import apply_state, save_weights
from ...model.graph import Graph, GraphError
from ...model.groups import add_groups, folded_layout
from ...model.layout import apply_layout
from .. import agreement
from .importer import Importer, InputSpec
from .naming import Conventions, conventions
from .ops import HANDLERS, READERS
from .simplify import simplify
from .source import TorchImportError, export, parse_input, read_code, run_code, split_target

CODE_VIEW = "<netbuilder code>"  # the file name code from the editor's code view runs under


@dataclass
class Imported:
    graph: Graph
    state: dict[str, torch.Tensor]
    max_abs_diff: float
    inputs: list[InputSpec] = field(default_factory=list)


def import_torch(target: str | os.PathLike, inputs: list[str] | None = None,
                 weights: str | os.PathLike | None = None) -> Imported:
    """MODEL.pt2, or FILE.py:NAME with `inputs` ("1x3x224x224", "int64:1x12": the batch first), as a Graph and
    its weights, checked against the model's own outputs. `weights`: a state_dict file the code's module loads
    first (netbuilder's code export writes model.py and model.pt). TorchImportError says what cannot be
    imported."""
    path, name = split_target(str(target))
    if name is None:
        if path.suffix.lower() != ".pt2":
            raise TorchImportError(f"{path}: import a .pt2 file (torch.export.save), FILE.py:NAME, or an .onnx file")
        if inputs or weights:
            raise TorchImportError(f"{'--input' if inputs else '--weights'} is for FILE.py:NAME; a .pt2 file carries "
                                   f"its own {'input shapes' if inputs else 'weights'}")
        from .guard import read_program

        program = read_program(path)
        return _import(program, path.name, None, Conventions(), None, program.module())
    shapes = [parse_input(text) for text in inputs or []]
    built = read_code(path, name)
    if weights is not None:
        _load_weights(built.module, weights)
    return _import_code(built, path.name, shapes)


def _load_weights(module: torch.nn.Module, weights) -> None:
    from ...build.weights import WeightsError, read_state

    state = read_state(weights)
    try:
        module.load_state_dict(state)
    except RuntimeError as e:
        raise WeightsError(f"{weights}: the weights do not fit the module: {str(e).splitlines()[-1].strip()[:300]}") \
            from None


def import_code(source: str, name: str, shapes: list[tuple[tuple[int, ...], str]] | None = None,
                filename: str = CODE_VIEW) -> Imported:
    """Code given as text (the code view's): errors name its lines."""
    return _import_code(run_code(source, filename, name), "the code", shapes, by_line=True)


def _import_code(built, title: str, shapes, by_line: bool = False) -> Imported:
    found = conventions(built.source)
    shapes = shapes or found.input_shapes()
    if not shapes:
        raise TorchImportError(f"{title}: give the shape of each input of forward() with the batch first, e.g. "
                               "--input 1x3x224x224 (int64:1x12 for token ids)")
    program = export(built, shapes)
    where = _line_label(built.filename) if by_line else None
    return _import(program, title, built.module, found, {built.filename}, built.module, where)


def _line_label(filename: str):
    from .naming import origin

    def label(fx_node) -> str:
        found = origin(fx_node, {filename})
        return f"line {found.line}" if found.line else fx_node.name
    return label


def _import(program, title: str, module, found: Conventions, own_files, reference, where=None) -> Imported:
    from ...checks.memory import check_fits

    importer = Importer(program, title, module, found, own_files, where)
    try:
        importer.run(HANDLERS, READERS)
    except GraphError as e:
        raise TorchImportError(f"{title}: {e}") from None
    if importer.refusals:
        raise TorchImportError(importer.refusals.message(title))
    simplify(importer)
    graph, state = importer.graph, importer.state
    normalization = {name: (stats["mean"], stats["std"]) for name, stats in importer.normalization.items()
                     if stats.keys() == {"mean", "std"}}
    for name, (mean, std) in normalization.items():
        state[f"normalize_{name}_mean"], state[f"normalize_{name}_std"] = mean, std
    check_fits(graph, 3, what=f"checking {title}", weight_copies=2)
    apply_layout(graph)
    _groups(graph, importer, found)
    try:
        model = compile_graph(graph, normalization=normalization)
        apply_state(model, state, title)
    except (CompileError, ValueError) as e:
        raise TorchImportError(f"{title}: the imported graph does not work: {e}") from None
    diff = _check(graph, model, reference, importer.static_batch, title)
    return Imported(graph, state, diff, importer.inputs)


def _groups(graph: Graph, importer, found: Conventions) -> None:
    if found.groups:
        ids = {node.name: node.id for node in graph.nodes}
        for name, (members, collapsed) in found.groups.items():
            chosen = [ids[m] for m in members if m in ids and graph.group_of(ids[m]) is None]
            if chosen:
                graph.add_group(chosen, name, collapsed=collapsed)
    else:
        grouped: dict[str, list[str]] = {}
        for node_id, name in importer.groups.items():
            if node_id in graph:
                grouped.setdefault(name, []).append(node_id)
        add_groups(graph, {name: ids for name, ids in grouped.items() if len(ids) > 1})
    if any(g.collapsed for g in graph.groups):
        graph.move_many(folded_layout(graph))


def _check(graph: Graph, model, reference, batch: int | None, title: str) -> float:
    from ..onnx_export import sample_inputs

    model.eval()
    inputs = sample_inputs(graph, model, batch=batch or 2, seed=3)
    with torch.no_grad():
        got = model(*inputs)
        try:
            expected = reference(*inputs)
        except Exception as e:  # noqa: BLE001 - the user's own module, run on other inputs than it was exported on
            raise TorchImportError(f"{title}: the model cannot be run to check the import ({e})") from None
    result = agreement.compare(got, expected)
    if not result.ok:
        raise TorchImportError(f"{title}: the imported graph differs from the model by {result.excess()}")
    return result.worst


def import_torch_file(target: str | os.PathLike, graph_path: str | os.PathLike,
                      inputs: list[str] | None = None, weights: str | os.PathLike | None = None,
                      overwrite: bool = False) -> Imported:
    """Import and write GRAPH.json with its weights beside it (GRAPH.pt, which the graph's meta names). Either file
    already there is replaced only with `overwrite` (else OverwriteError, before the import)."""
    from ...base.files import refuse_overwrite

    refuse_overwrite(graph_path, Path(graph_path).with_suffix(".pt"), overwrite=overwrite)
    imported = import_torch(target, inputs, weights)
    write_imported(imported, graph_path, str(target))
    return imported


def write_imported(imported, graph_path: str | os.PathLike, source: str) -> None:
    graph_path = Path(graph_path)
    weights_path = graph_path.with_suffix(".pt")
    imported.graph.meta["weights"] = weights_path.name
    from ...build.weights import split_normalization

    model = compile_graph(imported.graph, normalization=split_normalization(imported.state)[1])
    apply_state(model, imported.state, source)
    save_weights(model, weights_path)
    atomic_write_text(graph_path, json.dumps(imported.graph.to_dict(), indent=1) + "\n")


__all__ = ["CODE_VIEW", "Imported", "TorchImportError", "import_code", "import_torch", "import_torch_file"]
