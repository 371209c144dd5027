"""The Analysis panel: every error, warning and piece of advice about the graph, each on its block, with a
one-click fix where one exists. It follows the document's analysis (run after every change)."""
from __future__ import annotations

import html

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.checks.analysis import counts
from . import style
from .commands import RecordedEdit
from .document import Document

FINDING_ROLE = Qt.ItemDataRole.UserRole
ROW_HEIGHT = 30  # room for a Fix button


class AnalysisPanel(QWidget):
    block_chosen = Signal(str)  # a block id: show it on the canvas

    def __init__(self, document: Document) -> None:
        super().__init__()
        self.document = document
        self.findings: list = []
        self.summary = QLabel()
        self.summary.setObjectName("analysisSummary")
        self.summary.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["block", "finding", ""])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(False)
        self.tree.setWordWrap(True)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self.tree.itemClicked.connect(self._clicked)
        self.tree.setMinimumHeight(36)  # the bottom panel can be made small
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree, 1)
        document.findings_changed.connect(self.show_findings)
        document.replaced.connect(lambda: self.show_findings([]))
        self.show_findings(document.findings)

    def show_findings(self, findings: list) -> None:
        self.findings = list(findings)
        self.tree.clear()
        total = counts(self.findings)
        if self.document.report is None:
            self.summary.setText("The analysis runs once PyTorch has loaded…")
        elif not self.findings:
            self.summary.setText("✓ No problems found." + self._data_words())
        else:
            parts = [f"{n} {kind}{'s' if n != 1 and kind != 'info' else ''}" for kind, n in total.items() if n]
            self.summary.setText(" · ".join(parts) + self._data_words()
                                 + "  — click a row to show its block; Fix applies the remedy (undoable).")
        for finding in self.findings:
            item = QTreeWidgetItem([finding.block or "(graph)", finding.message, ""])
            item.setIcon(0, style.severity_icon(finding.severity))  # drawn: a font may lack the signs
            item.setData(0, FINDING_ROLE, finding)
            item.setForeground(0, QColor(style.SEVERITY_COLOURS[finding.severity]))
            item.setToolTip(1, f"<p>{html.escape(finding.message)}</p>")
            item.setSizeHint(0, QSize(0, ROW_HEIGHT))
            self.tree.addTopLevelItem(item)
            if finding.fix is not None:
                self.tree.setItemWidget(item, 2, self._fix_button(finding))
        metrics = self.tree.fontMetrics()
        widest = max((metrics.horizontalAdvance(self.tree.topLevelItem(i).text(0))
                      for i in range(self.tree.topLevelItemCount())), default=0)
        self.tree.setColumnWidth(0, max(90, widest + 44))

    def _data_words(self) -> str:
        source = self.document.data_source
        return f" (checked against {source.data.name} too)" if source is not None else ""

    def _fix_button(self, finding) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(2, 1, 2, 1)
        button = QPushButton(f"Fix: {finding.fix.label}")
        button.setObjectName("fixButton")
        button.setToolTip("Apply this fix (Ctrl+Z takes it back)")
        button.clicked.connect(lambda: self.apply_fix(finding))
        button.setMinimumWidth(button.sizeHint().width())  # the whole fix, never cut
        row.addWidget(button)
        return box

    def apply_fix(self, finding) -> bool:
        """Apply a finding's fix as one undoable step."""
        return self.document.push(RecordedEdit(self.document.graph, finding.fix.label, finding.fix.apply))

    def fix_button(self, row: int) -> QPushButton | None:
        widget = self.tree.itemWidget(self.tree.topLevelItem(row), 2)
        return widget.findChild(QPushButton) if widget is not None else None

    def _clicked(self, item: QTreeWidgetItem) -> None:
        finding = item.data(0, FINDING_ROLE)
        if finding is not None and finding.node_id is not None and finding.node_id in self.document.graph:
            self.block_chosen.emit(finding.node_id)
