"""One training run, from a graph and a dataset spec to files on disk. The CLI and the GUI both use it."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .compile import compile_graph
from .data import Splits, load_dataset
from .data.prepare import prepare
from .data.specs import Source
from .errors import NetbuilderError
from .files import atomic_write_text
from .graph import Graph, Node
from .layers.spec import format_shape
from .shapes import infer_shapes
from .train import Trainer, TrainResult
from .weights import load_weights, save_weights


class SetupError(NetbuilderError):
    """The graph cannot be trained as it is (no single Input/Output); the message says why."""


@dataclass
class TrainingSetup:
    """A compiled model and the data fitted to it: what a Trainer is made from."""

    model: torch.nn.Module
    splits: Splits
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]


def single_input(graph: Graph) -> Node | None:
    """The graph's Input block when it has exactly one (the one a dataset's samples go to), else None."""
    inputs = [n for n in graph.nodes if n.type == "Input"]
    return inputs[0] if len(inputs) == 1 else None


def prepare_training(graph: Graph, spec: str, *, val_fraction: float = 0.1, test_fraction: float = 0.2,
                     seed: int = 0, weights: str | Path | None = None,
                     load: Callable[[str, tuple[int, ...]], Source] = load_dataset) -> TrainingSetup:
    """Compile the graph, load the dataset (with `load`, e.g. a cache) and fit it to the graph, load
    starting weights. Raises a NetbuilderError that says what does not fit."""
    report = infer_shapes(graph)
    source = single_input(graph)
    outputs = [n for n in graph.nodes if n.type == "Output"]
    if source is None or len(outputs) != 1:
        inputs = sum(n.type == "Input" for n in graph.nodes)
        raise SetupError(f"training needs exactly one Input and one Output block; the graph has "
                         f"{inputs} Input and {len(outputs)} Output blocks")
    torch.manual_seed(seed)  # the same initial weights for the same seed
    model = compile_graph(graph, report)
    input_shape = tuple(source.params["shape"])
    output_shape = report.nodes[outputs[0].id].output
    splits = prepare(load(spec, input_shape), input_shape, output_shape,
                     val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    if weights is not None:
        load_weights(model, weights)
    return TrainingSetup(model, splits, input_shape, output_shape)


def confusion_matrix(predicted: torch.Tensor, target: torch.Tensor, classes: int) -> list[list[int]]:
    """counts[true][predicted]."""
    counts = torch.zeros(classes * classes, dtype=torch.int64)
    counts.index_add_(0, target.long() * classes + predicted.long(), torch.ones_like(target, dtype=torch.int64))
    return counts.reshape(classes, classes).tolist()


def metrics_document(trainer: Trainer, result: TrainResult, spec: str, graph_path: str | None) -> dict:
    """What a run leaves for people and scripts to read: settings, data, per-epoch curves, test results."""
    splits = trainer.data
    doc = {
        "format": "netbuilder.metrics", "graph": graph_path, "data": spec, "status": result.status,
        "message": result.message, "loss": trainer.loss_name, "metric": result.metric_name,
        "device": str(trainer.device), "config": trainer.config.to_dict(),
        "samples": {"train": len(splits.train), "val": len(splits.val) if splits.val else 0,
                    "test": len(splits.test)},
        "input_shape": format_shape(splits.train.sample_shape), "notes": splits.notes,
        "normalization": {"mean": splits.mean, "std": splits.std} if splits.mean is not None else None,
        "epochs": result.history,
        "test": {"loss": _finite(result.test_loss), result.metric_name: _finite(result.test_metric)},
    }
    if splits.test.is_classification and result.test_predictions is not None:
        doc["classes"] = splits.test.classes
        doc["test"]["confusion_matrix"] = confusion_matrix(result.test_predictions, splits.test.y,
                                                           splits.test.num_classes)
    return doc


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def write_outputs(out_dir: Path, trainer: Trainer, result: TrainResult, spec: str, graph_path: str | None) -> None:
    """DIR/weights.pt (state_dict) and DIR/metrics.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    save_weights(trainer.model, out_dir / "weights.pt")
    doc = metrics_document(trainer, result, spec, graph_path)
    atomic_write_text(out_dir / "metrics.json", json.dumps(doc, indent=1, allow_nan=False) + "\n")
