"""One training run, from a graph and a dataset spec to files on disk. The CLI and the GUI both use it."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ..base.errors import NetbuilderError
from ..base.files import atomic_write_text
from ..build.compile import compile_graph, loss_blocks, normalization_attrs
from ..build.weights import load_partial, save_state
from ..checks.shapes import ShapeReport, infer_shapes
from ..data import Splits, load_dataset
from ..data.prepare import Feed, prepare, prepare_feeds
from ..data.specs import Source
from ..layers.spec import format_shape
from ..model.graph import Graph, Node
from .config import TrainResult
from .objective import Objective, build_objective
from .trainer import Trainer


class SetupError(NetbuilderError):
    """The graph cannot be trained as it is (no single Input/Output); the message says why."""


@dataclass
class TrainingSetup:
    """A compiled model, the data fitted to it and the objective: what a Trainer is made from."""

    model: torch.nn.Module
    splits: Splits
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...] | None
    objective: Objective | None = None
    graph: Graph | None = None
    report: ShapeReport | None = None


def single_input(graph: Graph) -> Node | None:
    """The graph's Input block when it has exactly one (the one a dataset's samples go to), else None."""
    inputs = [n for n in graph.nodes if n.type == "Input"]
    return inputs[0] if len(inputs) == 1 else None


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    for name, value in (("validation", val_fraction), ("test", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise SetupError(f"the {name} fraction must be a number from 0 up to (not including) 1, got {value}")
    if val_fraction + test_fraction >= 1:
        raise SetupError(f"the validation and test fractions ({val_fraction:g} + {test_fraction:g}) leave no "
                         "training data")


def prepare_training(graph: Graph, spec, *, val_fraction: float = 0.1, test_fraction: float = 0.2,
                     seed: int = 0, weights: str | Path | None = None,
                     load: Callable[[str, tuple[int, ...]], Source] = load_dataset,
                     notes: list[str] | None = None, config=None) -> TrainingSetup:
    """Compile the graph, load the dataset (with `load`, e.g. a cache) and fit it to the graph, load
    starting weights (every tensor that fits; `notes` hears which did not). With the run's `config`, first
    refuse a batch size that cannot fit in memory. Raises a NetbuilderError that says what does not fit."""
    check_fractions(val_fraction, test_fraction)
    report = infer_shapes(graph)
    if config is not None:
        from .config import pick_device
        from .memory_plan import check_training_fits

        check_training_fits(graph, config.batch_size, config, what=f"training with batches of {config.batch_size}",
                            report=report, device=str(pick_device(config.device)))
    fixed = _expected_normalization(graph, weights)
    torch.manual_seed(seed)  # the same initial weights for the same seed
    if loss_blocks(graph):
        model = compile_graph(graph, report, mode="train")
        objective = build_objective(graph, report)
        first = graph.find(objective.feeds[0][0]) if objective.feeds else None
        if first is None:
            raise SetupError("the loss blocks read no Input: wire an Input (a dataset field) into the network")
        feeds = [_feed(graph.find(name)) for name, _ in objective.feeds]
        splits = prepare_feeds(load(spec, tuple(first.params["shape"])), feeds, val_fraction=val_fraction,
                               test_fraction=test_fraction, seed=seed,
                               fixed={feed.field: fixed[feed.input] for feed in feeds if feed.input in fixed})
        check_token_ids(graph, splits, objective.feeds)
        input_shape, output_shape = tuple(first.params["shape"]), None
    else:
        source = single_input(graph)
        outputs = [n for n in graph.nodes if n.type == "Output"]
        if source is None or len(outputs) != 1:
            inputs = sum(n.type == "Input" for n in graph.nodes)
            raise SetupError(f"training without loss blocks needs exactly one Input and one Output block; the "
                             f"graph has {inputs} Input and {len(outputs)} Output blocks (add loss blocks to "
                             "train several)")
        model = compile_graph(graph, report, mode="train")
        objective = build_objective(graph, report)
        objective.feeds = [(source.name, "x")]
        input_shape = tuple(source.params["shape"])
        output_shape = report.nodes[outputs[0].id].output
        splits = prepare(load(spec, input_shape), input_shape, output_shape, val_fraction=val_fraction,
                         test_fraction=test_fraction, seed=seed,
                         normalize_inputs=source.params["normalize"] == "zscore", input_dtype=source.params["dtype"],
                         fixed={"x": fixed[source.name]} if source.name in fixed else None)
    check_token_ids(graph, splits, objective.feeds)
    if weights is not None:
        loaded = load_partial(model, weights)
        if notes is not None and loaded.skipped:
            notes.append(loaded.summary())
    return TrainingSetup(model, splits, input_shape, output_shape, objective, graph, report)


def _expected_normalization(graph: Graph, weights) -> dict:
    """{Input name: (mean, std)} that starting weights carry (pretrained ImageNet weights: the images they were
    trained on were normalized so), for Inputs that normalize: training keeps to them."""
    if weights is None:
        return {}
    from ..build.weights import WeightsError, read_state, split_normalization

    try:
        stats = split_normalization(read_state(weights))[1]
    except WeightsError:
        return {}  # load_partial says what is wrong with the file
    return {name: stats[name] for name in stats
            if any(n.type == "Input" and n.name == name and n.params["normalize"] == "zscore" for n in graph.nodes)}


def check_token_ids(graph: Graph, splits: Splits, feeds: list[tuple[str, str]]) -> None:
    """Token ids must be below the vocabulary of each Embedding they feed (else torch fails mid-run)."""
    for input_name, field in feeds:
        node = graph.find(input_name)
        for edge in graph.output_edges(node.id):
            target = graph.node(edge.dst)
            if target.type != "Embedding":
                continue
            values = torch.cat([part.fields[field].flatten() for part in splits])
            low, high = int(values.min()), int(values.max())
            vocabulary = target.params["num_embeddings"]
            if low < 0 or high >= vocabulary:
                raise SetupError(f"{target.label} looks up ids 0..{vocabulary - 1} (num_embeddings {vocabulary}), "
                                 f"but field '{field}' holds ids from {low} to {high}: raise num_embeddings to "
                                 f"at least {high + 1}")


def _feed(node: Node) -> Feed:
    p = node.params
    return Feed(node.name, p["field"], tuple(p["shape"]), p["dtype"], p["normalize"] == "zscore")


def input_normalization(trainer: Trainer) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{Input block name: (mean, std)} of each Input whose field training normalized."""
    stats = trainer.data.normalization
    return {name: stats[field] for name, field in trainer.objective.feeds if field in stats}


def trained_state(trainer: Trainer) -> dict[str, torch.Tensor]:
    """What a trained model is: its weights and the normalization of its inputs (normalize_<input>_mean and
    _std), on the CPU: what weights.pt holds and what exports are made from."""
    state = {k: v.detach().cpu().clone() for k, v in trainer.model.state_dict().items()}
    for name, (mean, std) in input_normalization(trainer).items():
        mean_key, std_key = normalization_attrs(name)
        state[mean_key], state[std_key] = mean.detach().cpu().clone(), std.detach().cpu().clone()
    return state


def confusion_matrix(predicted: torch.Tensor, target: torch.Tensor, classes: int) -> list[list[int]]:
    """counts[true][predicted]."""
    predicted, target = predicted.reshape(-1).long(), target.reshape(-1).long()
    counts = torch.zeros(classes * classes, dtype=torch.int64)
    counts.index_add_(0, target * classes + predicted, torch.ones_like(target, dtype=torch.int64))
    return counts.reshape(classes, classes).tolist()


def mean_iou(matrix: list[list[int]]) -> float:
    """The mean over classes of intersection over union, from a confusion matrix (classes never seen or
    predicted are left out)."""
    ious = []
    for c in range(len(matrix)):
        hit = matrix[c][c]
        union = sum(matrix[c]) + sum(row[c] for row in matrix) - hit
        if union:
            ious.append(hit / union)
    return sum(ious) / len(ious) if ious else 0.0


def metrics_document(trainer: Trainer, result: TrainResult, spec, graph_path: str | None) -> dict:
    """What a run leaves for people and scripts to read: settings, data, per-epoch curves (and each loss
    block's), test results."""
    splits = trainer.data
    doc = {
        "format": "netbuilder.metrics", "graph": graph_path, "data": str(spec), "status": result.status,
        "message": result.message, "loss": trainer.loss_name, "objective": trainer.objective.describe(),
        "metric": result.metric_name, "device": str(trainer.device), "config": trainer.config.to_dict(),
        "precision": trainer.precision.mode, "run_notes": trainer.notes,  # what tuning chose (tuning.py), and why
        "samples": {"train": len(splits.train), "val": len(splits.val) if splits.val else 0,
                    "test": len(splits.test)},
        "input_shape": format_shape(splits.train.sample_shape), "notes": splits.notes,
        "normalization": {"mean": splits.mean, "std": splits.std} if splits.mean is not None else None,
        "epochs": result.history,
        "test": {"loss": result.test_loss, **({result.metric_name: result.test_metric} if result.metric_name else {}),
                 **({"losses": result.test_losses} if trainer.objective.has_terms else {})},
    }
    if trainer.statistics is not None:  # per block and epoch: activations, gradients, updates (block_stats.py)
        from .block_stats import statistics_warnings

        doc["blocks"] = trainer.statistics.epochs
        doc["warnings"] = statistics_warnings(trainer.statistics.epochs[-1] if trainer.statistics.epochs else None)
    predictions, targets = result.test_predictions, result.test_targets
    if predictions is not None and targets is not None and len(predictions) and not predictions.is_floating_point():
        segmentation = predictions.dim() > 1
        classes = (splits.test.mask_classes if segmentation else splits.test.classes) or []
        count = max(len(classes), int(max(predictions.max(), targets.max())) + 1)
        doc["classes"] = classes or [str(c) for c in range(count)]
        doc["test"]["confusion_matrix"] = matrix = confusion_matrix(predictions, targets, count)
        if segmentation:
            doc["test"]["mean_iou"] = mean_iou(matrix)
    return _finite(doc)


def _finite(value):
    """The document with every number that is not finite (a NaN or infinite loss) written as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def write_outputs(out_dir: Path, trainer: Trainer, result: TrainResult, spec, graph_path: str | None) -> None:
    """DIR/weights.pt (the trained state: weights and input normalization) and DIR/metrics.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    save_state(trained_state(trainer), out_dir / "weights.pt")
    doc = metrics_document(trainer, result, spec, graph_path)
    atomic_write_text(out_dir / "metrics.json", json.dumps(doc, indent=1, allow_nan=False) + "\n")
