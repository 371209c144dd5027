"""Runs side by side (runs.compare_runs): a table of their settings, the differing ones marked and listed first,
and of their figures, the best marked; how their graphs differ (blocks added, removed, re-wired or changed, with
the old values). The window overlays their curves (TrainingPlots.show_compare, each run in its colour, named in
the legends) and marks the changed blocks on the canvas (mark_blocks) until compare mode is left.
"""
from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from ..core.training.runs import Comparison, GraphDiff, Run, compare_runs

RUN_COLOURS = ["#2f6fde", "#e0702a", "#2e9d4f", "#cf3f84", "#8a4fd6", "#0f8f85", "#b8860b", "#5b6472"]
DIFFERS = QColor(224, 138, 0, 60)  # the background of a setting that differs
BEST = QColor("#1e7e34")
SAME = QColor("#6a7282")  # a setting all the runs share
FIGURE_LABELS = {"epochs": "epochs trained", "time": "training time"}  # beside the settings, say what they are


def run_label(run: Run) -> str:
    """How a run is named in legends and column heads: its number, and its name where it has one."""
    return f"run {run.number}" + (f" {run.name}" if run.name else "")


def colour_of(index: int) -> str:
    return RUN_COLOURS[index % len(RUN_COLOURS)]


class CompareView(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.comparison: Comparison | None = None
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.table = QTableWidget()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.graph = QLabel()
        self.graph.setWordWrap(True)
        self.graph.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.graph)

    def clear(self) -> None:
        self.comparison = None
        self.table.clear()
        self.table.setRowCount(0)
        self.title.setText("")
        self.graph.setText("")

    def show_comparison(self, runs: list[Run]) -> Comparison:
        """Compare the runs (the first is the one the others are measured against)."""
        comparison = self.comparison = compare_runs(runs)
        differing = comparison.differing
        same = [row for row in comparison.settings if not row.differs]
        self.title.setText(f"<b>{len(runs)} runs compared</b>: {len(differing)} setting"
                           f"{'s differ' if len(differing) != 1 else ' differs'} (≠), the best figures in green")
        table = self.table
        table.clear()
        table.setColumnCount(len(runs))
        table.setHorizontalHeaderLabels([run_label(r) for r in runs])
        for i in range(len(runs)):
            table.horizontalHeaderItem(i).setForeground(QBrush(QColor(colour_of(i))))
        rows: list[tuple[str, list[str], str]] = []  # (label, texts, "differs" | "best:N" | "")
        rows += [(row.key, [_text(v) for v in row.values], "differs") for row in differing]
        rows += [(FIGURE_LABELS.get(f.label, f.label), f.texts, f"best:{f.best}" if f.best is not None else "")
                 for f in comparison.figures]
        rows += [(row.key, [_text(v) for v in row.values], "same") for row in same]
        table.setRowCount(len(rows))
        table.setVerticalHeaderLabels([label for label, _, _ in rows])
        bold = QFont(table.font())
        bold.setBold(True)
        for r, (label, texts, how) in enumerate(rows):
            for c, text in enumerate(texts):
                item = QTableWidgetItem(text)
                if how == "differs":
                    item.setBackground(QBrush(DIFFERS))
                    item.setFont(bold)
                    item.setToolTip(f"{label} differs between the runs")
                elif how == f"best:{c}":
                    item.setForeground(QBrush(BEST))
                    item.setFont(bold)
                    item.setToolTip(f"the best {label}")
                elif how == "same":
                    item.setForeground(QBrush(SAME))
                table.setItem(r, c, item)
            header = table.verticalHeaderItem(r)
            if how == "differs":
                header.setFont(bold)
                header.setText(f"≠ {label}")
        table.resizeColumnsToContents()
        self.graph.setText(graph_words(comparison))
        return comparison

    def differing_keys(self) -> list[str]:
        return [row.key for row in self.comparison.differing] if self.comparison else []


def _text(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return str(value)


def graph_words(comparison: Comparison) -> str:
    """How the runs' graphs differ from the first one's: a line per run, removed blocks named."""
    first = comparison.runs[0]
    lines = []
    for run, diff in zip(comparison.runs[1:], comparison.graphs[1:]):
        if diff is None:
            continue
        line = f"Graph of {run_label(run)} against {run_label(first)}: {html.escape(diff.summary())}"
        if diff.removed:
            line += " — removed: " + ", ".join(html.escape(f"{b.name} ({b.type})") for b in diff.removed)
        lines.append(line)
    if any(diff is not None and not diff.empty for diff in comparison.graphs):
        lines.append("<span style='color:#6a7282'>On the canvas: <span style='color:#1e9e4a'>+ added</span>, "
                     "<span style='color:#e08a00'>~ changed</span>, <span style='color:#8a4fd6'>⇄ re-wired</span> "
                     "(the tooltip gives the old values)</span>")
    lines += [f"<span style='color:#d93025'>{html.escape(p)}</span>" for p in comparison.problems]
    return "<br>".join(lines)


def canvas_diff(comparison: Comparison) -> GraphDiff | None:
    """The difference to draw on the canvas: the last run's graph against the first's."""
    return comparison.graphs[-1] if len(comparison.graphs) > 1 else None


def mark_blocks(scene, graph, diff: GraphDiff | None) -> int:
    """Mark on the canvas the blocks of the open graph that the diff says were added, changed or re-wired (matched
    by id, then by name); how many were marked. None: every mark taken off."""
    blocks = scene.blocks
    for item in blocks.values():
        item.set_mark(None)
    if diff is None:
        return 0
    by_name = {node.name: node.id for node in graph.nodes}
    words = {change.id: change.describe() for change in diff.changed}
    words.update({ref.id: f"{ref.name} ({ref.type}) is new" for ref in diff.added})
    names = {ref.id: ref.name for ref in diff.added} | {change.id: change.name for change in diff.changed}
    marked = 0
    for block_id, kind in diff.marks().items():
        target = block_id if block_id in blocks else by_name.get(names.get(block_id))
        if target in blocks:
            blocks[target].set_mark(kind, words.get(block_id, ""))
            marked += 1
    return marked
