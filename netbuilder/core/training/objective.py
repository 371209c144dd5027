"""What training minimizes, read from the graph: the loss blocks, their weights and groups, frozen blocks.

A graph with loss blocks is trained on their weighted sum; each loss block trains all (unfrozen) blocks or
a named group, and the trainer keeps one optimizer per group, stepping them in turn on every batch (a GAN's
discriminator, then its generator). Each Input block receives its dataset field. A graph without loss
blocks gets the automatic loss of its one Output against the labels (cross-entropy, BCE-with-logits for one
output and two classes, MSE for regression), as it always has.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..base.errors import NetbuilderError
from ..build.compile import loss_blocks
from ..checks.shapes import ShapeReport
from ..model.graph import Graph, Node

AUTO_LOSSES = ("cross_entropy", "mse", "l1", "bce_with_logits")


class ObjectiveError(NetbuilderError):
    """Loss blocks or groups that cannot be trained as they are; the message names the block."""


@dataclass
class Term:
    """One loss block: its name, type, weight, the group it trains, and how its prediction is scored."""

    name: str
    type: str
    weight: float
    trains: str  # "all" or a group name
    pred_rank: int = 1  # rank of the prediction per sample (1: a vector of classes; 2: steps x classes; 3: image)
    margin: float = 1.0


@dataclass
class Objective:
    terms: list[Term]  # empty: the automatic loss
    feeds: list[tuple[str, str]]  # per forward argument: (Input block name, dataset field)
    steps: list[str] = field(default_factory=lambda: ["all"])  # the groups, in the order they are stepped
    auto_loss: str | None = None
    metric: str | None = "accuracy"  # accuracy, mse, or None
    metric_term: str | None = None  # the loss block whose inputs the metric scores
    frozen: list[str] = field(default_factory=list)  # module names whose weights never change
    members: dict[str, list[str]] = field(default_factory=dict)  # group -> module names it trains

    @property
    def has_terms(self) -> bool:
        return bool(self.terms)

    def describe(self) -> str:
        """In a few words, for the status line and the log."""
        if not self.terms:
            return f"{self.auto_loss} loss (automatic)"
        parts = [f"{t.name}" + (f" x{t.weight:g}" if t.weight != 1 else "") for t in self.terms]
        groups = f"; groups stepped in turn: {', '.join(self.steps)}" if self.steps != ["all"] else ""
        return "objective: " + " + ".join(parts) + groups


def build_objective(graph: Graph, report: ShapeReport, auto_loss: str | None = None) -> Objective:
    """The objective a graph describes. ObjectiveError when a loss block trains a group that has no
    block, or every block it could train is frozen."""
    modules = _module_owners(graph)
    frozen = sorted({modules[n.id] for n in graph.nodes if n.id in modules and graph.node(_owner(graph, n)).frozen})
    terms = []
    for node in loss_blocks(graph):
        p = node.params
        pred_rank = len(report.nodes[node.id].inputs[0] or ()) if report.nodes[node.id].inputs else 1
        terms.append(Term(node.name, node.type, float(p["weight"]), p["trains"], pred_rank, float(p.get("margin", 1))))
    inputs = [n for n in graph.nodes if n.type == "Input"]
    if not terms:
        return Objective([], [(inputs[0].name, "x")] if inputs else [], auto_loss=auto_loss, frozen=frozen,
                         members={"all": [m for m in dict.fromkeys(modules.values()) if m not in frozen]})
    used = set().union(*(graph.ancestors(graph.find(t.name).id) for t in terms))
    feeds = [(n.name, n.params["field"]) for n in inputs if n.id in used]
    steps = list(dict.fromkeys(t.trains for t in terms))
    members = {}
    for group in steps:
        if group == "all":
            names = [m for m in dict.fromkeys(modules.values()) if m not in frozen]
        else:
            blocks = graph.group_members(group)
            if not blocks:
                loss = next(t.name for t in terms if t.trains == group)
                known = ", ".join(graph.group_names) or "none yet"
                raise ObjectiveError(f"{loss} trains group '{group}', but no block is in that group "
                                     f"(groups: {known}); put blocks in it or train 'all'")
            names = [m for m in dict.fromkeys(modules[n.id] for n in blocks if n.id in modules) if m not in frozen]
        if not names:
            loss = next(t.name for t in terms if t.trains == group)
            raise ObjectiveError(f"{loss} trains {'every block' if group == 'all' else f'group {group}'}, "
                                 "but there are no weights to train there (frozen, or none)")
        members[group] = names
    metric, metric_term = None, None
    for term in terms:
        if term.type in ("CrossEntropyLoss", "ContrastiveLoss") or (
                term.type == "BCEWithLogitsLoss" and _compares_with_labels(graph, report, graph.find(term.name))):
            metric, metric_term = "accuracy", term.name
            break
    else:
        mse = next((t for t in terms if t.type == "MSELoss"), None)
        if mse is not None and len(terms) == 1:
            metric, metric_term = "mse", mse.name
    return Objective(terms, feeds, steps, None, metric, metric_term, frozen, members)


def _compares_with_labels(graph: Graph, report: ShapeReport, loss: Node) -> bool:
    """Whether a BCE loss compares with integer labels (a classifier), not with real values (pixels)."""
    edges = graph.input_edges(loss.id)
    return len(edges) > 1 and edges[1] is not None and report.nodes[edges[1].src].dtype == "int64"


def _owner(graph: Graph, node: Node) -> str:
    return node.shares if node.shares is not None and node.shares in graph else node.id


def _module_owners(graph: Graph) -> dict[str, str]:
    """Block id -> the name of the submodule it calls (its own, or the one whose weights it shares)."""
    return {node.id: graph.node(_owner(graph, node)).name for node in graph.nodes if node.spec.build is not None}


# ----- the automatic loss (a graph without loss blocks), and scoring predictions

def auto_loss_value(name: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if name == "cross_entropy":
        return F.cross_entropy(out, y)
    if name == "bce_with_logits":
        return F.binary_cross_entropy_with_logits(out.reshape(-1), y.float())
    target = F.one_hot(y, out.shape[-1]).to(out.dtype) if y.dtype == torch.int64 else y
    return F.mse_loss(out, target) if name == "mse" else F.l1_loss(out, target)


def predicted_classes(term: Term | None, pred: torch.Tensor, auto_loss: str | None = None) -> torch.Tensor:
    """The class each prediction picks: argmax over the classes, or logit > 0 for one binary output."""
    kind = term.type if term is not None else auto_loss
    if kind in ("BCEWithLogitsLoss", "bce_with_logits"):
        return (pred.reshape(-1) > 0).long()
    if term is not None and term.pred_rank == 3:  # classes x height x width
        return pred.argmax(dim=1)
    return pred.argmax(dim=-1)


def score(term: Term | None, inputs: tuple, auto_loss: str | None = None) -> tuple[torch.Tensor, int]:
    """(correct predictions, how many) for an accuracy; for a squared error, (its sum, how many values)."""
    if term is not None and term.type == "ContrastiveLoss":
        a, b, same = inputs
        distance = F.pairwise_distance(a.flatten(1), b.flatten(1))
        return ((distance < term.margin / 2).long() == same.reshape(-1).long()).sum(), len(distance)
    pred, target = inputs[0], inputs[1] if len(inputs) > 1 else None
    if term is not None and term.type == "MSELoss":
        return ((pred - target.to(pred.dtype)) ** 2).sum(), pred.numel()
    classes = predicted_classes(term, pred, auto_loss)
    target = target.reshape(classes.shape).long()
    return (classes == target).sum(), classes.numel()
