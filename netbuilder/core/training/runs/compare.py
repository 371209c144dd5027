"""Runs side by side: their settings (the ones that differ marked), their figures (the best marked), and how each
run's graph differs from the first one's. Plain data for the editor's compare view and `netbuilder runs
--compare`; curves are each run's own (Run.curves()), overlaid by whoever draws them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .graph_diff import GraphDiff, graph_diff
from .run import Run, RunError

LOWER_IS_BETTER = ("loss", "mse", "rmse", "train_loss", "val_loss")


@dataclass
class SettingRow:
    key: str
    values: list[Any]  # one per run; None where a run does not have it
    differs: bool


@dataclass
class FigureRow:
    key: str  # "headline", "test loss", "accuracy", "final train loss", ...
    label: str
    values: list[float | None]
    texts: list[str]  # as a table shows them
    better: str | None = None  # "higher", "lower" or None
    best: int | None = None  # which run has the best value, where that means something


@dataclass
class Comparison:
    runs: list[Run]
    settings: list[SettingRow] = field(default_factory=list)  # every setting any run has
    figures: list[FigureRow] = field(default_factory=list)
    graphs: list[GraphDiff | None] = field(default_factory=list)  # runs[i]'s graph against runs[0]'s; [0] is None
    problems: list[str] = field(default_factory=list)  # snapshots that could not be read

    @property
    def differing(self) -> list[SettingRow]:
        return [row for row in self.settings if row.differs]

    def to_dict(self) -> dict:
        return {
            "runs": [{"id": r.number, "folder": r.folder, "name": r.name, "path": str(r.path)} for r in self.runs],
            "settings": [{"key": s.key, "values": s.values, "differs": s.differs} for s in self.settings],
            "figures": [{"key": f.key, "label": f.label, "values": f.values, "texts": f.texts, "better": f.better,
                         "best": f.best} for f in self.figures],
            "graphs": [g.to_dict() if g is not None else None for g in self.graphs],
            "problems": self.problems,
        }

    def lines(self) -> list[str]:
        """The comparison as text: a column per run."""
        heads = [f"{r.number} {r.name or r.folder.split('-', 1)[-1]}"[:24] for r in self.runs]
        rows: list[list[str]] = [["", *heads]]
        rows.append(["settings that differ:"] + [""] * len(heads))
        for s in self.differing:
            rows.append([f"  {s.key}", *(_text(v) for v in s.values)])
        if not self.differing:
            rows.append(["  (none)"] + [""] * len(heads))
        rows.append(["figures:"] + [""] * len(heads))
        for f in self.figures:
            rows.append([f"  {f.label}", *(t + (" *" if i == f.best else "") for i, t in enumerate(f.texts))])
        width = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(width[c]) for c, cell in enumerate(row)).rstrip() for row in rows]
        first = self.runs[0]
        for run, diff in zip(self.runs[1:], self.graphs[1:]):
            if diff is None:
                continue
            lines.append(f"graph of run {run.number} against run {first.number}: {diff.summary()}")
            lines += [f"  {line}" for line in diff.lines()]
        return lines + [f"note: {p}" for p in self.problems]


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ",".join(map(str, value)) or "[]"
    return str(value)


def changed_settings(run: Run, previous: Run | None) -> dict[str, tuple[Any, Any]]:
    """The settings of `run` that differ from `previous`'s: {key: (previous value, this run's)} (the Runs
    table's "changed" column)."""
    if previous is None:
        return {}
    a, b = previous.settings, run.settings
    return {k: (a.get(k), b.get(k)) for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k)}


def compare_runs(runs: list[Run]) -> Comparison:
    """Compare two or more runs (RunError for fewer)."""
    if len(runs) < 2:
        raise RunError("compare at least two runs")
    comparison = Comparison(list(runs))
    keys = list(dict.fromkeys(k for run in runs for k in run.settings))
    for key in keys:
        values = [run.settings.get(key) for run in runs]
        comparison.settings.append(SettingRow(key, values, any(v != values[0] for v in values)))
    comparison.figures = _figures(runs)
    snapshots = []
    for run in runs:
        try:
            snapshots.append(run.graph().to_dict())
        except RunError as e:
            snapshots.append(None)
            comparison.problems.append(str(e))
    comparison.graphs = [None] + [graph_diff(snapshots[0], s) if snapshots[0] is not None and s is not None else None
                                  for s in snapshots[1:]]
    return comparison


def _figures(runs: list[Run]) -> list[FigureRow]:
    rows = []
    headlines = [run.headline for run in runs]
    labels = {h.label for h in headlines if h is not None}
    if len(labels) == 1:
        h0 = next(h for h in headlines if h is not None)
        rows.append(_row("headline", h0.label, [h.value if h else None for h in headlines],
                         [h.text.removeprefix(h.label).strip() if h else "-" for h in headlines], h0.better))
    test_keys = list(dict.fromkeys(k for run in runs for k, v in run.test.items()
                                   if isinstance(v, (int, float)) and not isinstance(v, bool)))
    for key in test_keys:
        values = [_num(run.test.get(key)) for run in runs]
        if rows and rows[0].values == values:
            continue  # the headline is this figure (accuracy, mean IoU, reconstruction MSE)
        better = "lower" if key in LOWER_IS_BETTER else "higher" if key in ("accuracy", "mean_iou") else None
        percent = key == "accuracy"
        rows.append(_row(f"test {key}", f"test {key.replace('_', ' ')}", values,
                         [_figure(v, percent) for v in values], better))
    blocks = list(dict.fromkeys(k for run in runs for k in (run.test.get("losses") or {})))
    for key in blocks:
        values = [_num((run.test.get("losses") or {}).get(key)) for run in runs]
        rows.append(_row(f"test loss {key}", f"test {key}", values, [_figure(v) for v in values], None))
    for key, label in (("train_loss", "final train loss"), ("val_loss", "final val loss")):
        values = [_num(run.final.get(key)) for run in runs]
        if any(v is not None for v in values):
            rows.append(_row(key, label, values, [_figure(v) for v in values], "lower"))
    rows.append(_row("epochs", "epochs", [float(len(run.epochs)) for run in runs],
                     [str(len(run.epochs)) for run in runs], None))
    seconds = [run.seconds for run in runs]
    rows.append(_row("seconds", "time", seconds, [f"{s:.1f} s" if s is not None else "-" for s in seconds], None))
    rows.append(_row("status", "status", [None] * len(runs), [run.status for run in runs], None))
    return rows


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _figure(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:.1%}" if percent else f"{value:.4g}"


def _row(key: str, label: str, values: list, texts: list[str], better: str | None) -> FigureRow:
    row = FigureRow(key, label, values, texts, better)
    present = [(v, i) for i, v in enumerate(values) if v is not None]
    if better and len(present) > 1 and len({v for v, _ in present}) > 1:
        row.best = (max if better == "higher" else min)(present, key=lambda p: p[0])[1]
    return row
