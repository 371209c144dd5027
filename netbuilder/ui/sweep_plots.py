"""The Sweep view's pictures (pyqtgraph): every trial's validation curve overlaid (pruned ones faded, the best
bold), a parallel-coordinates plot (an axis per swept value and one for the figure, a line per trial coloured from
best to worst), and each parameter's importance as bars. They draw rows of a study (core/training/sweep/table.py)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont

from .plots import AXIS, TEXT, WholeNumberAxis

BEST, GOOD, BAD, FADED = "#d93025", (47, 111, 222), (224, 112, 42), (150, 160, 175, 70)


def _widget(title: str, axes: dict | None = None) -> pg.PlotWidget:
    widget = pg.PlotWidget(axisItems=axes or {})
    widget.setTitle(title, size="9.5pt")
    for side in ("left", "bottom"):
        widget.getAxis(side).setPen(pg.mkPen(AXIS))
        widget.getAxis(side).setTextPen(pg.mkPen(TEXT))
    widget.plotItem.titleLabel.setMaximumHeight(20)
    widget.setMinimumHeight(120)
    widget.setMenuEnabled(False)
    return widget


def _shade(rank: float) -> QColor:
    """From the best trial's blue (0) to the worst's orange (1)."""
    rank = min(1.0, max(0.0, rank))
    return QColor(*(round(g + (b - g) * rank) for g, b in zip(GOOD, BAD)), 200)


def _ranks(rows: list, maximize: bool) -> dict[int, float]:
    """Each trial with a figure: 0 for the best .. 1 for the worst."""
    scored = sorted((r for r in rows if r.value is not None), key=lambda r: -r.value if maximize else r.value)
    return {r.number: i / max(1, len(scored) - 1) for i, r in enumerate(scored)}


class TrialCurves:
    """The figure each epoch reported, a line per trial."""

    def __init__(self) -> None:
        self.widget = _widget("Validation figure per epoch (pruned: faded; best: red)",
                              {"bottom": WholeNumberAxis("bottom")})
        self.items: dict[int, Any] = {}

    def show(self, rows: list, best: int | None, figure: str, maximize: bool) -> None:
        self.widget.setTitle(f"{figure} per epoch (pruned: faded; best: red)", size="9.5pt")
        self.widget.clear()
        self.items = {}
        ranks = _ranks(rows, maximize)
        values = [v for r in rows for _, v in r.curve]
        log = bool(values) and min(values) > 0 and max(values) / min(values) > 50  # losses spanning decades
        self.widget.setLogMode(False, log)
        self.widget.getAxis("left").setLabel("log scale" if log else None)
        for row in sorted(rows, key=lambda r: r.number == best):  # the best is drawn last, over the others
            if not row.curve:
                continue
            x = np.array([epoch for epoch, _ in row.curve], dtype=float)
            y = np.array([value for _, value in row.curve], dtype=float)
            if row.number == best:
                pen = pg.mkPen(BEST, width=3)
            elif row.state == "pruned":
                pen = pg.mkPen(QColor(*FADED), width=1, style=Qt.PenStyle.DashLine)
            elif row.state == "running":
                pen = pg.mkPen(QColor(*GOOD), width=1.5, style=Qt.PenStyle.DotLine)
            else:
                pen = pg.mkPen(_shade(ranks.get(row.number, 1.0)), width=1.5)
            item = self.widget.plot(x, y, pen=pen, symbol="o" if len(x) == 1 else None, symbolSize=4)
            item.setToolTip(f"trial {row.number} ({row.state})")
            self.items[row.number] = item


class ParallelCoordinates:
    """An axis per swept value and one for the figure; a line per trial through its values, each axis scaled to its
    range (log ranges on a log scale, choices in their order)."""

    def __init__(self) -> None:
        self.widget = _widget("Parallel coordinates: a line per trial (blue: better, orange: worse; best: red)")
        self.widget.hideAxis("left")
        self.widget.getAxis("bottom").setStyle(tickLength=0)
        self.widget.setMouseEnabled(False, False)
        self.lines: dict[int, Any] = {}

    def show(self, rows: list, best: int | None, params: list, figure: str, maximize: bool) -> None:
        self.widget.clear()
        self.lines = {}
        done = [r for r in rows if r.value is not None and all(p.name in r.params for p in params)]
        names = [p.name for p in params] + [figure]
        self.widget.getAxis("bottom").setTicks([[(i, name) for i, name in enumerate(names)]])
        for i in range(len(names)):
            self.widget.addItem(pg.InfiniteLine(pos=i, angle=90, pen=pg.mkPen(AXIS, width=1)))
        if not done:
            self.widget.setXRange(-0.3, len(names) - 0.7)
            return
        scales = [_scale(p, [r.params[p.name] for r in done]) for p in params]
        values = [r.value for r in done]
        low, high = min(values), max(values)
        scales.append(lambda v: 0.5 if high == low else (v - low) / (high - low))
        ranks = _ranks(done, maximize)
        for row in sorted(done, key=lambda r: (r.number == best, -ranks.get(r.number, 1.0))):
            y = [scale(row.params[p.name]) for scale, p in zip(scales, params)] + [scales[-1](row.value)]
            if row.number == best:
                pen = pg.mkPen(BEST, width=3)
            elif row.state == "pruned":
                pen = pg.mkPen(QColor(*FADED), width=1)
            else:
                pen = pg.mkPen(_shade(ranks.get(row.number, 1.0)), width=1.5)
            item = self.widget.plot(list(range(len(y))), y, pen=pen)
            item.setToolTip(f"trial {row.number}")
            self.lines[row.number] = item
        for i, (p, scale) in enumerate(zip(params, scales)):
            self._ends(i, *_labels(p, [r.params[p.name] for r in done]))
        self._ends(len(params), f"{low:.4g}", f"{high:.4g}")
        self.widget.setXRange(-0.3, len(names) - 0.7)
        self.widget.setYRange(-0.12, 1.12)

    def _ends(self, x: float, bottom: str, top: str) -> None:
        font = QFont()
        font.setPointSizeF(7.5)
        for text, y, anchor in ((bottom, -0.02, (0.5, 0)), (top, 1.02, (0.5, 1))):
            label = pg.TextItem(text, color=TEXT, anchor=anchor)
            label.setFont(font)
            label.setPos(x, y)
            self.widget.addItem(label)


def _scale(param, values: list):
    """value -> 0..1 on the axis of a swept value."""
    if param.kind == "choice":
        choices = list(param.choices)
        return lambda v: choices.index(v) / max(1, len(choices) - 1) if v in choices else 0.5
    low, high = float(min(values)), float(max(values))
    if param.log and low > 0:
        low, high = math.log(low), math.log(high)
        return lambda v: 0.5 if high == low else (math.log(v) - low) / (high - low)
    return lambda v: 0.5 if high == low else (float(v) - low) / (high - low)


def _labels(param, values: list) -> tuple[str, str]:
    if param.kind == "choice":
        return str(param.choices[0]), str(param.choices[-1])
    return f"{min(values):.3g}", f"{max(values):.3g}"


class Importance:
    """Each parameter's share of the figure's variation (Optuna's get_param_importances), as horizontal bars."""

    def __init__(self) -> None:
        self.widget = _widget("Importance of each parameter for the figure")
        self.widget.setMouseEnabled(False, False)
        self.note = pg.TextItem("", color=TEXT, anchor=(0.5, 0.5))
        self.values: dict[str, float] = {}

    def show(self, importances: dict[str, float] | None, why: str = "") -> None:
        self.widget.clear()
        self.values = dict(importances or {})
        if not self.values:
            self.note.setText(why or "no importance yet")
            self.widget.addItem(self.note)
            self.note.setPos(0.5, 0.5)
            self.widget.setXRange(0, 1)
            self.widget.setYRange(0, 1)
            self.widget.getAxis("left").setTicks([[]])
            return
        names = list(self.values)[::-1]  # the most important on top
        heights = [self.values[name] for name in names]
        bars = pg.BarGraphItem(x0=0, y=list(range(len(names))), height=0.6, width=heights,
                               brush=pg.mkBrush(*GOOD), pen=pg.mkPen(None))
        self.widget.addItem(bars)
        self.widget.getAxis("left").setTicks([[(i, name) for i, name in enumerate(names)]])
        for i, value in enumerate(heights):
            label = pg.TextItem(f"{value:.0%}", color=TEXT, anchor=(0, 0.5))
            label.setPos(value, i)
            self.widget.addItem(label)
        self.widget.setXRange(0, 1.15)
        self.widget.setYRange(-0.6, len(names) - 0.4)
