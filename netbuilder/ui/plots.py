"""Live training curves (pyqtgraph): batch loss raw and smoothed; per-epoch loss and accuracy (or MSE).

Long runs stay smooth: curves draw only what is in view, downsampled to the screen's resolution.
Earlier runs stay on the plots, faded, to compare with; Clear removes them.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QWidget

from ..core.train import BatchReport, EpochReport

pg.setConfigOptions(antialias=False, background="w", foreground="#3a4150")
TRAIN, VAL, RAW = "#2f6fde", "#e0702a", "#b9c3d6"
TERM_COLOURS = ["#2e9d4f", "#cf3f84", "#8a4fd6", "#0f8f85", "#b8860b"]
AXIS, TEXT = "#aab2bf", "#3a4150"
SMOOTHING = 0.9  # exponential moving average of the batch loss
EPOCH_REDRAW_DELAY_MS = 40


def _plot(title: str, x_label: str) -> pg.PlotWidget:
    widget = pg.PlotWidget(title=title)  # no grid: its lines double the cost of a repaint during training
    for side in ("left", "bottom"):
        widget.getAxis(side).setPen(pg.mkPen(AXIS))
        widget.getAxis(side).setTextPen(pg.mkPen(TEXT))
    widget.setLabel("bottom", x_label)
    widget.addLegend(offset=(-10, 10))
    widget.setMinimumHeight(140)
    return widget


class RunCurves:
    """The curves of one training run."""

    def __init__(self, plots: TrainingPlots, number: int) -> None:
        suffix = f" (run {number})" if number > 1 else ""
        self.batch_x, self.batch_loss, self.smooth = [], [], []
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
        self.term_values: dict[str, list[float]] = {}

    def add_terms(self, plots: TrainingPlots, names: list[str]) -> None:
        """A curve per loss block on the epoch loss plot (made before the run starts: never mid-run)."""
        for i, name in enumerate(names):
            colour = TERM_COLOURS[i % len(TERM_COLOURS)]
            self.terms[name] = plots.epoch_loss.plot(pen=pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine),
                                                     name=name)
            self.term_values[name] = []

    def items(self) -> list:
        return [self.raw, self.avg, *self.curves.values(), *self.terms.values()]

    def fade(self, plots: TrainingPlots) -> None:
        """Keep this run for comparison, cheaply: smoothed and epoch curves only, thin and pale, no legend."""
        plots.loss.removeItem(self.raw)
        for widget in (plots.loss, plots.epoch_loss, plots.metric):
            for item in self.items():
                widget.plotItem.legend.removeItem(item)
        for item in self.items()[1:]:
            colour = pg.mkColor(item.opts["pen"].color())
            colour.setAlpha(70)
            item.setPen(pg.mkPen(colour, width=1))
            item.setSymbol(None)


class TrainingPlots(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.loss = _plot("Batch loss", "batch")
        self.epoch_loss = _plot("Loss per epoch", "epoch")
        self.metric = _plot("Accuracy per epoch", "epoch")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.loss, self.epoch_loss, self.metric):
            layout.addWidget(widget)
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
        self.metric.setTitle({"accuracy": "Accuracy per epoch", "mse": "Mean squared error per epoch"}.get(
            metric_name, "No metric for this objective (see the losses)"))

    def set_terms(self, names: list[str]) -> None:
        if self.current is not None:
            self.current.add_terms(self, names)

    def add_batches(self, report: BatchReport) -> None:
        run = self.current
        for loss in report.losses:
            run.batch_x.append(len(run.batch_x) + 1)
            run.batch_loss.append(loss)
            previous = run.smooth[-1] if run.smooth else loss
            run.smooth.append(SMOOTHING * previous + (1 - SMOOTHING) * loss)
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
        for name, curve in run.terms.items():
            curve.setData(epochs, np.asarray(run.term_values[name], dtype=float), connect="finite")

    def clear(self) -> None:
        for widget in (self.loss, self.epoch_loss, self.metric):
            widget.clear()
            widget.plotItem.legend.clear()
        self.runs = []

    def export_png(self, path: str) -> bool:
        """All three plots side by side as one PNG (pyqtgraph's SVG export is broken under Qt 6.12)."""
        return self.grab().save(path)
