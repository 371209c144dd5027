"""The model summary: the same table as `netbuilder info`, kept up to date while it is open."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from ..core.checks.shapes import ShapeReport, format_count, layer_table, model_size_mb
from ..core.layers.spec import format_shape
from .document import Document

COLUMNS = ("name", "type", "output", "params", "MACs")


def summary_line(report: ShapeReport) -> str:
    return (f"{report.total_params:,} parameters  ·  {model_size_mb(report):.2f} MB  ·  "
            f"{format_count(report.total_macs)} MACs")


class ModelSummary(QDialog):
    def __init__(self, document: Document, parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self.setWindowTitle("Model summary")
        self.resize(620, 560)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()  # the columns share the dialog's whole width
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.totals = QLabel()
        self.totals.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(self.totals)
        layout.addWidget(buttons)
        document.report_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        report = self.document.report
        if report is None:
            self.totals.setText("Shapes appear once PyTorch has loaded…")
            return
        rows = layer_table(self.document.graph, report)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            cells = (row["name"], row["type"], "error" if row["error"] else format_shape(row["output_shape"]),
                     f"{row['params']:,}", format_count(row["macs"]))
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c >= 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if row["error"]:
                    item.setToolTip(row["error"])
                self.table.setItem(r, c, item)
        problems = f"  ·  {len(report.errors)} problem(s)" if report.errors else ""
        self.totals.setText("Total: " + summary_line(report) + problems)
