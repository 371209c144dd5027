"""The model of netbuilder, with no Qt anywhere: the document, the layer registry, checks, building, training,
exchange with other formats, and looking inside. Each concern is a room (a subpackage) that imports only the rooms
below it (README: Architecture; pyproject.toml's import-linter contracts):

    inside | exchange      probes and pictures | ONNX and PyTorch in and out, generated code
    training               the trainer, objectives, checkpoints, the memory plan, runs
    build                  the graph as a torch module, weights into and out of it
    checks                 shape inference, analysis, messages, the layer reference, memory estimates
    model | data           the graph document | datasets
    layers                 the layer registry
    base                   errors, files, the machine

The names a script needs first are here too, loaded on use (torch is not imported until then):
`from netbuilder.core import Graph, infer_shapes, compile_graph`.
"""
from __future__ import annotations

_PUBLIC = {  # name -> the module that defines it
    "Graph": "netbuilder.core.model.graph",
    "GraphError": "netbuilder.core.model.parts",
    "NetbuilderError": "netbuilder.core.base.errors",
    "infer_shapes": "netbuilder.core.checks.shapes",
    "compile_graph": "netbuilder.core.build.compile",
    "load_dataset": "netbuilder.core.data.specs",
    "TrainConfig": "netbuilder.core.training.config",
    "Trainer": "netbuilder.core.training.trainer",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'netbuilder.core' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_PUBLIC[name]), name)
