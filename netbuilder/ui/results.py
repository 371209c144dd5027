"""After a run: the test score, a confusion matrix, and test samples with predicted and true labels
(mistakes first)."""
from __future__ import annotations

import html

import torch
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.data import Splits
from ..core.training.config import TrainResult
from ..core.training.experiment import confusion_matrix, mean_iou
from .samples import SampleGrid, label_of

MAX_SAMPLES = 48


class ResultsView(QWidget):
    save_weights = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.summary = QLabel("Train a network to see its results here.")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.save_button = QPushButton("Save weights…")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save_weights)
        self.matrix = QTableWidget()
        self.matrix.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.matrix.setToolTip("rows: true class; columns: predicted class")
        self.samples = SampleGrid()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.samples)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.save_button)
        matrix_column, samples_column = QVBoxLayout(), QVBoxLayout()
        matrix_column.addWidget(QLabel("Confusion matrix: true class down, predicted across"))
        matrix_column.addWidget(self.matrix, 1)
        samples_column.addWidget(QLabel("Test samples: predicted / true, mistakes first (red)"))
        samples_column.addWidget(scroll, 1)
        body = QHBoxLayout()
        body.addLayout(matrix_column, 2)
        body.addLayout(samples_column, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(body, 1)

    def show_result(self, result: TrainResult, splits: Splits) -> None:
        test = splits.test
        score = ""
        if result.test_metric is not None:
            score = (f"test accuracy <b>{result.test_metric:.2%}</b>" if result.metric_name == "accuracy"
                     else f"test mean squared error <b>{result.test_metric:.4g}</b>")
            score += f" on {len(test):,} samples · "
        if result.test_loss is not None:
            score += f"test loss {result.test_loss:.4g}"
            if len(result.test_losses) > 1:
                score += " (" + ", ".join(f"{name} {value:.4g}" for name, value in result.test_losses.items()) + ")"
            score += "<br>"
        predictions, targets = result.test_predictions, result.test_targets
        segmentation = predictions is not None and predictions.dim() > 1 and not predictions.is_floating_point()
        if segmentation and targets is not None:
            classes = test.mask_classes or [str(c) for c in range(int(max(predictions.max(), targets.max())) + 1)]
            counts = confusion_matrix(predictions, targets, len(classes))
            score += f"mean IoU over the classes <b>{mean_iou(counts):.3f}</b> (pixels)<br>"
        self.summary.setText(score + html.escape(result.message))
        self.save_button.setEnabled(True)
        if segmentation and targets is not None:
            self._show_matrix(counts, classes)
            self.samples.show_samples([])
            return
        if predictions is None or not test.is_classification or tuple(predictions.shape) != tuple(test.y.shape):
            self.matrix.setRowCount(0)
            self.matrix.setColumnCount(0)
            self.samples.show_samples([])
            return
        self._show_matrix(confusion_matrix(predictions, test.y, test.num_classes), test.classes)
        wrong = predictions != test.y
        order = torch.cat([torch.nonzero(wrong).flatten(), torch.nonzero(~wrong).flatten()])[:MAX_SAMPLES]
        self.samples.show_samples([
            (test.x[i], f"{label_of(test, predictions[i])} / {label_of(test, test.y[i])}", bool(wrong[i]))
            for i in order.tolist()])

    def _show_matrix(self, counts: list[list[int]], classes: list[str]) -> None:
        n = len(classes)
        self.matrix.setRowCount(n)
        self.matrix.setColumnCount(n)
        self.matrix.setHorizontalHeaderLabels(classes)
        self.matrix.setVerticalHeaderLabels(classes)
        peak = max(max(row) for row in counts) or 1
        for r in range(n):
            for c in range(n):
                item = QTableWidgetItem(str(counts[r][c]))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                strength = counts[r][c] / peak
                base = QColor("#2f6fde") if r == c else QColor("#d93025")
                item.setBackground(QColor(base.red(), base.green(), base.blue(), int(30 + 170 * strength)
                                          if counts[r][c] else 0))
                self.matrix.setItem(r, c, item)
        self.matrix.resizeColumnsToContents()
