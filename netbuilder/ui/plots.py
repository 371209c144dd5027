"""Live training curves (pyqtgraph): batch loss raw and smoothed; per-epoch loss and accuracy (or MSE).

Long runs stay smooth: curves draw only what is in view, downsampled to the screen's resolution.
Earlier runs stay on the plots, faded, to compare with; Clear removes them (and opening another graph resets
the plots: curves, titles and ranges). Legends sit above the curves, never on them, and name only curves that
have data; epochs are counted in whole numbers. With several loss blocks, each block's part of the loss is drawn
as it counts in the objective (weight x loss), so the parts add up to the loss; "raw parts" shows the blocks'
own values instead.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QWidget

if TYPE_CHECKING:  # torch is not imported on the way to the window
    from ..core.training.config import BatchReport, EpochReport

pg.setConfigOptions(antialias=False, background="w", foreground="#3a4150")
TRAIN, VAL, RAW = "#2f6fde", "#e0702a", "#b9c3d6"
TERM_COLOURS = ["#2e9d4f", "#cf3f84", "#8a4fd6", "#0f8f85", "#b8860b"]
AXIS, TEXT = "#aab2bf", "#3a4150"
WINDOW_SHARE, MAX_WINDOW = 0.1, 30.0  # the smoothed loss averages over 10% of the batches so far, at most 30
EPOCH_REDRAW_DELAY_MS = 40


class Smoother:
    """The smoothed batch loss: an exponential moving average whose window grows with the run (10% of the
    batches so far, up to 30) and whose start is bias-corrected, so that it follows a falling loss closely
    early on (where a fixed 0.9 average lags far above it) and is steady later."""

    def __init__(self) -> None:
        self.average, self.weight, self.count = 0.0, 0.0, 0

    def add(self, loss: float) -> float:
        self.count += 1
        window = min(MAX_WINDOW, max(1.0, WINDOW_SHARE * self.count))
        beta = 1 - 2 / (window + 1)
        self.average = beta * self.average + (1 - beta) * loss
        self.weight = beta * self.weight + (1 - beta)
        return self.average / self.weight


class WholeNumberAxis(pg.AxisItem):
    """An axis that counts (epochs): ticks only at whole numbers."""

    def tickValues(self, minVal, maxVal, size):
        levels = [(spacing, [v for v in values if float(v).is_integer()])
                  for spacing, values in super().tickValues(minVal, maxVal, size) if spacing >= 1]
        levels = [(spacing, values) for spacing, values in levels if values]
        if not levels and math.floor(maxVal) >= math.ceil(minVal):
            levels = [(1.0, [float(v) for v in range(math.ceil(minVal), math.floor(maxVal) + 1)])]
        return levels


def _plot(title: str, x_label: str, whole_x: bool = False) -> pg.PlotWidget:
    axes = {"bottom": WholeNumberAxis("bottom")} if whole_x else {}
    widget = pg.PlotWidget(axisItems=axes)  # no grid: its lines double the cost of a repaint during training
    widget.setTitle(title, size="9.5pt")  # the title names the x axis ("per epoch"): no axis label, more curve
    for side in ("left", "bottom"):
        widget.getAxis(side).setPen(pg.mkPen(AXIS))
        widget.getAxis(side).setTextPen(pg.mkPen(TEXT))
    widget.getAxis("bottom").setToolTip(x_label)
    plot = widget.plotItem
    plot.titleLabel.setMaximumHeight(20)
    legend = pg.LegendItem(colCount=2, horSpacing=14, verSpacing=-10, labelTextSize="8pt")  # above the curves
    top = plot.getAxis("top")
    plot.layout.removeItem(top)
    top.hide()
    plot.layout.addItem(legend, 1, 1)
    plot.legend = legend  # curves given a name join it
    widget.setMinimumSize(80, 48)  # the bottom panel can be made small; the plots shrink with it
    return widget


class RunCurves:
    """The curves of one training run."""

    def __init__(self, plots: TrainingPlots, number: int) -> None:
        suffix = f" (run {number})" if number > 1 else ""
        self.batch_x, self.batch_loss, self.smooth = [], [], []
        self.smoother = Smoother()
        self.epochs: dict[str, list[float]] = {k: [] for k in ("epoch", "train_loss", "val_loss", "train_metric",
                                                               "val_metric")}
        self.raw = plots.loss.plot(pen=pg.mkPen(RAW, width=1), name="batch loss" + suffix)
        self.avg = plots.loss.plot(pen=pg.mkPen(TRAIN, width=2), name="smoothed" + suffix)
        self.curves = {
            "train_loss": plots.epoch_loss.plot(pen=pg.mkPen(TRAIN, width=2), symbol="o", symbolSize=5,
                                                symbolBrush=TRAIN, name="train" + suffix),
            "val_loss": plots.epoch_loss.plot(pen=pg.mkPen(VAL, width=2), symbol="o", symbolSize=5,
                                              symbolBrush=VAL, name="validation" + suffix),
            "train_metric": plots.metric.plot(pen=pg.mkPen(TRAIN, width=2), symbol="o", symbolSize=5,
                                              symbolBrush=TRAIN, name="train" + suffix),
            "val_metric": plots.metric.plot(pen=pg.mkPen(VAL, width=2), symbol="o", symbolSize=5,
                                            symbolBrush=VAL, name="validation" + suffix),
        }
        for item in (self.raw, self.avg):
            item.setDownsampling(auto=True, method="peak")
            item.setClipToView(True)
        self.terms: dict[str, object] = {}  # per loss block: its epoch curve
        self.term_values: dict[str, list[float]] = {}  # raw, per epoch
        self.weights: dict[str, float] = {}
        self.names = {item: item.name() for item in self.items()}  # each curve joins its legend once it has data
        for widget in (plots.epoch_loss, plots.metric):
            for item in self.curves.values():
                widget.plotItem.legend.removeItem(item)
        self.in_legend = {self.raw, self.avg}

    def add_terms(self, plots: TrainingPlots, names: list[str], weights: dict[str, float] | None = None) -> None:
        """A curve per loss block on the epoch loss plot (made before the run starts: never mid-run)."""
        for i, name in enumerate(names):
            colour = TERM_COLOURS[i % len(TERM_COLOURS)]
            self.terms[name] = plots.epoch_loss.plot(pen=pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine))
            self.names[self.terms[name]] = name
            self.term_values[name] = []
            self.weights[name] = (weights or {}).get(name, 1.0)

    def term_curve(self, name: str, raw: bool) -> np.ndarray:
        """A loss block's values per epoch: as they count in the objective (weight x loss), or its own."""
        values = np.asarray(self.term_values[name], dtype=float)
        return values if raw else values * self.weights.get(name, 1.0)

    def show_in_legend(self, plots: TrainingPlots, item, widget) -> None:
        if item not in self.in_legend:
            self.in_legend.add(item)
            widget.plotItem.legend.addItem(item, self.names[item])

    def items(self) -> list:
        return [self.raw, self.avg, *self.curves.values(), *self.terms.values()]

    def fade(self, plots: TrainingPlots) -> None:
        """Keep this run for comparison, cheaply: smoothed and epoch curves only, thin and pale, no legend."""
        plots.loss.removeItem(self.raw)
        for widget in (plots.loss, plots.epoch_loss, plots.metric):
            for item in self.items():
                widget.plotItem.legend.removeItem(item)
        self.in_legend = set(self.items())  # none joins a legend again
        for item in self.items()[1:]:
            colour = pg.mkColor(item.opts["pen"].color())
            colour.setAlpha(70)
            item.setPen(pg.mkPen(colour, width=1))
            item.setSymbol(None)


TITLES = {"loss": "Batch loss, per batch", "epoch_loss": "Loss per epoch", "metric": "Accuracy per epoch"}
PARTS_TITLE = "Loss per epoch and its parts"
RAW_PARTS_TITLE = "Loss per epoch; loss blocks' raw values"


class TrainingPlots(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.loss = _plot(TITLES["loss"], "batch", whole_x=True)
        self.epoch_loss = _plot(TITLES["epoch_loss"], "epoch", whole_x=True)
        self.metric = _plot(TITLES["metric"], "epoch", whole_x=True)
        self.raw_parts = False  # the loss blocks' own values instead of their parts of the objective
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.loss, self.epoch_loss, self.metric):
            layout.addWidget(widget, 1)  # the same width each, whatever each one drew before
        self.runs: list[RunCurves] = []
        self._epoch_redraw = QTimer(self)
        self._epoch_redraw.setSingleShot(True)
        self._epoch_redraw.setInterval(EPOCH_REDRAW_DELAY_MS)
        self._epoch_redraw.timeout.connect(self._draw_epochs)

    @property
    def current(self) -> RunCurves | None:
        return self.runs[-1] if self.runs else None

    def start_run(self) -> None:
        """New curves for a new run; the previous runs' fade into the background."""
        if self.runs:
            self.runs[-1].fade(self)
        self.runs.append(RunCurves(self, len(self.runs) + 1))

    def set_metric(self, metric_name: str | None) -> None:
        """The metric's plot, named for the run's metric; without one (a generator), the plot makes room for the
        losses."""
        self.metric.setTitle({"accuracy": "Accuracy per epoch", "mse": "Mean squared error per epoch"}.get(
            metric_name, "No metric for this objective (see the losses)"))
        self.metric.setVisible(metric_name is not None)

    def set_terms(self, names: list[str], weights: dict[str, float] | None = None) -> None:
        if self.current is not None:
            self.current.add_terms(self, names, weights)
        if names:
            self.epoch_loss.setTitle(RAW_PARTS_TITLE if self.raw_parts else PARTS_TITLE)

    def set_raw_parts(self, raw: bool) -> None:
        """Draw the loss blocks' own values (True) or their weighted parts of the objective (False)."""
        self.raw_parts = raw
        if self.current is not None and self.current.terms:
            self.epoch_loss.setTitle(RAW_PARTS_TITLE if raw else PARTS_TITLE)
        self._draw_epochs()

    def add_batches(self, report: BatchReport) -> None:
        run = self.current
        for loss in report.losses:
            run.batch_x.append(len(run.batch_x) + 1)
            run.batch_loss.append(loss)
            run.smooth.append(run.smoother.add(loss))
        x = np.asarray(run.batch_x, dtype=float)
        run.raw.setData(x, np.asarray(run.batch_loss))
        run.avg.setData(x, np.asarray(run.smooth))

    def add_epoch(self, report: EpochReport) -> None:
        run = self.current
        run.epochs["epoch"].append(report.epoch)
        for key in ("train_loss", "val_loss", "train_metric", "val_metric"):
            value = getattr(report, key)
            run.epochs[key].append(np.nan if value is None else value)
        for name, values in run.term_values.items():
            values.append(report.losses.get(name, np.nan))
        # An epoch ends right after a batch report: drawing all three plots in one repaint would hold
        # the window up for tens of milliseconds, so the epoch plots follow a moment later.
        self._epoch_redraw.start()

    def _draw_epochs(self) -> None:
        run = self.current
        if run is None:
            return
        epochs = np.asarray(run.epochs["epoch"], dtype=float)
        for key, curve in run.curves.items():
            values = np.asarray(run.epochs[key], dtype=float)
            if not np.isnan(values).all():
                curve.setData(epochs, values, connect="finite")
                run.show_in_legend(self, curve, self.epoch_loss if key.endswith("loss") else self.metric)
        for name, curve in run.terms.items():
            curve.setData(epochs, run.term_curve(name, self.raw_parts), connect="finite")
            run.show_in_legend(self, curve, self.epoch_loss)

    def clear(self) -> None:
        """Take every run's curves off the plots."""
        self._epoch_redraw.stop()
        for widget in (self.loss, self.epoch_loss, self.metric):
            widget.clear()
            widget.plotItem.legend.clear()
            widget.plotItem.enableAutoRange()  # the next run's curves set the ranges, not the last one's
        self.runs = []

    def reset(self) -> None:
        """As before any run (another network): no curves, the first titles, ranges that follow the data."""
        self.clear()
        for name, title in TITLES.items():
            widget = getattr(self, name)
            widget.setTitle(title)
            widget.show()
            widget.plotItem.vb.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)  # no axes of the last run's
            widget.plotItem.enableAutoRange()

    # ----- runs read back from the store (runs_panel, compare_view)

    def show_history(self, epochs: list[dict], batch_losses: list[float], metric: str | None) -> None:
        """A run's curves as they were drawn when it ended (from its curves.json), alone on the plots."""
        from types import SimpleNamespace

        self.reset()
        self.set_metric(metric)
        self.start_run()
        last = epochs[-1] if epochs else {}
        terms = list(last.get("losses") or {})
        self.set_terms(terms if len(terms) > 1 else [], last.get("loss_weights") or {})
        self.add_batches(SimpleNamespace(losses=[v for v in batch_losses if v is not None]))
        for epoch in epochs:
            self.add_epoch(SimpleNamespace(**{k: epoch.get(k) for k in ("epoch", "train_loss", "val_loss",
                                                                        "train_metric", "val_metric")},
                                           losses=epoch.get("losses") or {}))
        self._epoch_redraw.stop()
        self._draw_epochs()

    def show_compare(self, runs: list[tuple[str, str, dict, str | None]]) -> None:
        """Runs overlaid, each in its own colour with its name in the legends: (name, colour, curves, metric) with
        curves as Run.curves() gives them. The smoothed batch loss; per epoch the validation loss and metric
        (solid) and the training ones (dashed, unnamed), or the training ones where a run has no validation."""
        self.reset()
        metrics = {metric for _, _, _, metric in runs if metric}
        self.set_metric(next(iter(metrics)) if len(metrics) == 1 else None)  # one metric, or none to compare
        self.epoch_loss.setTitle("Loss per epoch (dashed: training)")
        for name, colour, curves, _metric in runs:
            losses = np.asarray([v if v is not None else np.nan for v in curves.get("batch_losses", [])], float)
            smoother = Smoother()
            smooth = np.asarray([smoother.add(v) for v in losses if np.isfinite(v)], float)
            curve = self.loss.plot(np.arange(1, len(smooth) + 1, dtype=float), smooth, pen=pg.mkPen(colour, width=2),
                                   name=name)
            curve.setDownsampling(auto=True, method="peak")
            epochs = curves.get("epochs") or []
            x = np.asarray([e.get("epoch", i + 1) for i, e in enumerate(epochs)], float)
            for widget, key in ((self.epoch_loss, "loss"), (self.metric, "metric")):
                values = {part: np.asarray([e.get(f"{part}_{key}") if e.get(f"{part}_{key}") is not None else np.nan
                                            for e in epochs], float) for part in ("train", "val")}
                main = "val" if len(x) and not np.isnan(values["val"]).all() else "train"
                if main == "val" and not np.isnan(values["train"]).all():
                    widget.plot(x, values["train"], pen=pg.mkPen(colour, width=1, style=Qt.PenStyle.DashLine),
                                connect="finite")
                if len(x) and not np.isnan(values[main]).all():
                    widget.plot(x, values[main], pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=5,
                                symbolBrush=colour, connect="finite", name=name)

    def export_png(self, path: str) -> bool:
        """All three plots side by side as one PNG (pyqtgraph's SVG export is broken under Qt 6.12)."""
        return self.grab().save(path)
