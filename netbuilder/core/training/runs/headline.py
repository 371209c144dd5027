"""The one figure that sums up a run, chosen by the kind of network, as the README's examples table states it:

    classification            test accuracy                      (higher is better)
    Siamese pairs             same/different accuracy on test pairs
    sequences (per step)      share of test tokens predicted right
    segmentation              test mean IoU
    regression                test RMSE (the square root of the MSE metrics.json holds)      (lower is better)
    autoencoder               test reconstruction MSE
    VAE                       test ELBO loss (its objective: reconstruction + KL)
    anything else with a test loss: the test loss; a GAN: none (its losses are a game, not a score)

Read from what metrics.json records (and the run's graph snapshot, which says what kind of network it is).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Headline:
    kind: str  # classification, siamese, sequence, segmentation, regression, autoencoder, vae, other
    label: str  # "accuracy", "RMSE", "mean IoU", ...
    value: float
    better: str  # "higher" or "lower"
    text: str  # "accuracy 95.8%", as a table shows it

    def to_dict(self) -> dict:
        return asdict(self)

    def beats(self, other: Headline) -> bool:
        """Whether this figure is better than `other`'s (of the same kind)."""
        return self.value > other.value if self.better == "higher" else self.value < other.value


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value) else None


def headline(metrics: dict | None, graph: dict | None = None) -> Headline | None:
    """The headline figure of a run from its metrics.json (and its graph.json, both as plain dicts), or None
    when it has none (no test figures: stopped early by the user, a GAN)."""
    if not isinstance(metrics, dict) or not isinstance(metrics.get("test"), dict):
        return None
    test, metric = metrics["test"], metrics.get("metric")
    nodes = {n.get("id"): n for n in (graph or {}).get("nodes", []) if isinstance(n, dict)}
    edges = [e for e in (graph or {}).get("edges", []) if isinstance(e, dict)]
    types = {n.get("type") for n in nodes.values()}
    if _number(test.get("mean_iou")) is not None:
        value = _number(test["mean_iou"])
        return Headline("segmentation", "mean IoU", value, "higher", f"mean IoU {value:.3f}")
    accuracy = _number(test.get("accuracy"))
    if metric == "accuracy" and accuracy is not None:
        if "ContrastiveLoss" in types:
            return Headline("siamese", "same/different accuracy", accuracy, "higher",
                            f"same/different accuracy {accuracy:.1%}")
        if _per_step_targets(nodes, edges):
            return Headline("sequence", "tokens right", accuracy, "higher", f"tokens right {accuracy:.1%}")
        return Headline("classification", "accuracy", accuracy, "higher", f"accuracy {accuracy:.1%}")
    mse = _number(test.get("mse"))
    if metric == "mse" and mse is not None:
        if metrics.get("loss") != "objective":  # the automatic loss: a regression
            rmse = math.sqrt(mse)
            return Headline("regression", "RMSE", rmse, "lower", f"RMSE {rmse:.3g}")
        if _reconstructs(nodes, edges):
            return Headline("autoencoder", "reconstruction MSE", mse, "lower", f"reconstruction MSE {mse:.4f}")
        return Headline("regression", "MSE", mse, "lower", f"MSE {mse:.4g}")
    loss = _number(test.get("loss"))
    if loss is None:
        return None
    if "KLDivergenceLoss" in types:
        return Headline("vae", "ELBO loss", loss, "lower", f"ELBO loss {loss:.1f}")
    if "Noise" in types or "groups stepped in turn" in str(metrics.get("objective", "")):
        return None
    return Headline("other", "test loss", loss, "lower", f"test loss {loss:.4g}")


def _loss_targets(nodes: dict, edges: list[dict], loss_type: str) -> list[dict]:
    """The Input blocks wired to the `target` port of loss blocks of a type."""
    found = []
    for edge in edges:
        loss, source = nodes.get(edge.get("dst")), nodes.get(edge.get("src"))
        if loss and source and loss.get("type") == loss_type and edge.get("dst_port") == "target" \
                and source.get("type") == "Input":
            found.append(source)
    return found


def _per_step_targets(nodes: dict, edges: list[dict]) -> bool:
    """A cross-entropy whose targets are sequences of ids (one class per step): a sequence model."""
    return any(len(t.get("params", {}).get("shape") or []) == 1 and t.get("params", {}).get("dtype") == "int64"
               for t in _loss_targets(nodes, edges, "CrossEntropyLoss"))


def _reconstructs(nodes: dict, edges: list[dict]) -> bool:
    """An MSE whose target is an Input that also feeds the network: an autoencoder."""
    for target in _loss_targets(nodes, edges, "MSELoss"):
        if any(e.get("src") == target.get("id") and not str(nodes.get(e.get("dst"), {}).get("type", "")).endswith("Loss")
               for e in edges):
            return True
    return False
