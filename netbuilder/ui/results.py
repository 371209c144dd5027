"""After a run: the test score, with each loss block's part of the objective, and a view that fits the kind of
network: a classifier's confusion matrix (always whole, scaled to its room) and test samples with predicted and
true labels (mistakes first); a segmentation's matrix over the pixels; a regression's predictions against the
truth; for a generator, an autoencoder or a pair network, what its score means (its pictures are in Samples)."""
from __future__ import annotations

import html

import pyqtgraph as pg
import torch
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from ..core.data import Splits
from ..core.training.config import TrainResult
from ..core.training.experiment import confusion_matrix, mean_iou
from . import style
from .fit_scroll import FitScroll
from .samples import SampleGrid, ScaledPicture, label_of

MAX_SAMPLES = 48
HINT = "Train a network to see its results here."
MIN_CELL = 6  # a confusion matrix's cells are never smaller: the whole matrix, as large as the room allows


class ConfusionMatrix(QWidget):
    """counts[true][predicted] as a grid of coloured cells with their counts, the class names down the left and
    along the top, drawn as large as the widget: every row and column is always in view."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: list[list[int]] = []
        self.classes: list[str] = []
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip("rows: true class; columns: predicted class")

    def show_counts(self, counts: list[list[int]], classes: list[str]) -> None:
        self.counts, self.classes = counts, list(classes)
        self.updateGeometry()
        self.update()

    def clear(self) -> None:
        self.show_counts([], [])

    def _font(self, cell: float) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(max(6.5, min(9.0, cell * 0.32)))
        return font

    def _label_room(self) -> float:
        metrics = QFontMetricsF(self._font(20))
        return max((metrics.horizontalAdvance(name) for name in self.classes), default=0) + 8

    def grid(self) -> tuple[QRectF, float]:
        """(the cells' area, a cell's size) in the widget."""
        n = max(1, len(self.classes))
        label = self._label_room()
        top = QFontMetricsF(self._font(20)).height() + 4
        cell = max(float(MIN_CELL), min((self.width() - label - 2) / n, (self.height() - top - 2) / n, 44.0))
        return QRectF(label, top, cell * n, cell * n), cell

    def minimumSizeHint(self) -> QSize:
        n = max(1, len(self.classes))
        return QSize(int(self._label_room() + n * MIN_CELL) + 2, int(n * MIN_CELL + 20))

    def sizeHint(self) -> QSize:
        n = max(1, len(self.classes))
        return QSize(int(self._label_room() + n * 30), int(n * 30 + 24))

    def paintEvent(self, event) -> None:
        if not self.counts:
            return
        painter = QPainter(self)
        area, cell = self.grid()
        n = len(self.classes)
        peak = max(max(row) for row in self.counts) or 1
        font = self._font(cell)
        painter.setFont(font)
        show_numbers = cell >= 14
        for r in range(n):
            for c in range(n):
                value = self.counts[r][c]
                rect = QRectF(area.left() + c * cell, area.top() + r * cell, cell, cell)
                base = QColor("#2f6fde") if r == c else QColor("#d93025")
                base.setAlpha(int(30 + 170 * value / peak) if value else 0)
                painter.fillRect(rect, base)
                painter.setPen(QColor("#e1e4e8"))
                painter.drawRect(rect)
                if show_numbers and value:
                    painter.setPen(style.TEXT)
                    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(value))
        painter.setPen(style.TEXT_DIM)
        for i, name in enumerate(self.classes):
            painter.drawText(QRectF(0, area.top() + i * cell, area.left() - 4, cell),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name)
            painter.drawText(QRectF(area.left() + i * cell - 10, 0, cell + 20, area.top() - 2),
                             Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom, name)
        painter.end()

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        area, cell = self.grid()
        if not self.counts or not area.contains(x, y):
            return None
        return int((y - area.top()) // cell), int((x - area.left()) // cell)

    def mouseMoveEvent(self, event) -> None:
        found = self.cell_at(event.position().x(), event.position().y())
        if found is None:
            QToolTip.hideText()
            return
        r, c = found
        QToolTip.showText(event.globalPosition().toPoint(), f"true {self.classes[r]}, predicted {self.classes[c]}: "
                                                            f"{self.counts[r][c]:,}", self)


def loss_words(result: TrainResult) -> tuple[str, str]:
    """The test loss with each loss block's part of it as it counts (weight x loss), so the parts add up; and a
    tooltip with each block's own (raw) value and weight."""
    text = f"test loss {result.test_loss:.4g}"
    if len(result.test_losses) <= 1:
        return text, ""
    parts = result.weighted_test_losses()
    text += " = " + " + ".join(f"{name} {value:.4g}" for name, value in parts.items())
    tip = "Each loss block's part of the objective is its weight × its own value:\n" + "\n".join(
        f"{name}: {result.loss_weights.get(name, 1.0):g} × {result.test_losses[name]:.4g} = {parts[name]:.4g}"
        for name in parts)
    return text, tip


class ResultsView(QWidget):
    save_weights = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.summary = QLabel(HINT)
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.save_button = QPushButton("Save weights…")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save_weights)
        self.matrix = ConfusionMatrix()
        self.matrix_caption = QLabel("Confusion matrix: true class down, predicted across")
        self.matrix_caption.setWordWrap(True)
        self.samples = SampleGrid()
        scroll = self.samples_scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.samples)
        self.samples_caption = QLabel("Test samples: predicted / true, mistakes first (red)")
        self.samples_caption.setWordWrap(True)
        self.scatter = pg.PlotWidget()
        self.scatter.setMinimumSize(80, 60)
        self.scatter.setLabel("bottom", "true value")
        self.scatter.setLabel("left", "predicted")
        self.note = QLabel()
        self.note.setObjectName("help")
        self.note.setWordWrap(True)
        self.note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.made = ScaledPicture()  # a generator's last samples, an autoencoder's reconstructions
        self.made_caption = QLabel()
        self.made_caption.setWordWrap(True)
        self.note_page = QWidget()
        note_column = QVBoxLayout(self.note_page)
        note_column.setContentsMargins(0, 0, 0, 0)
        note_column.addWidget(self.note)
        note_column.addWidget(self.made, 1)
        note_column.addWidget(self.made_caption)

        matrix_column, samples_column = QVBoxLayout(), QVBoxLayout()
        matrix_column.addWidget(self.matrix_caption)
        matrix_column.addWidget(self.matrix, 1)
        samples_column.addWidget(self.samples_caption)
        samples_column.addWidget(scroll, 1)
        classes = QWidget()
        body = QHBoxLayout(classes)
        body.setContentsMargins(0, 0, 0, 0)
        body.addLayout(matrix_column, 2)
        body.addLayout(samples_column, 3)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.note_page)
        self.pages.addWidget(classes)
        self.pages.addWidget(self.scatter)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.save_button, 0, Qt.AlignmentFlag.AlignTop)
        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(6, 4, 6, 4)
        column.addLayout(top)
        column.addWidget(self.pages, 1)
        scroll = FitScroll(content)  # a panel made very small scrolls; any larger, the pictures take all of it
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        self.clear()

    def clear(self) -> None:
        """No run to show (another network)."""
        self.view: dict | None = None  # what is shown (result_view's), to keep with its run
        self.summary.setText(HINT)
        self.summary.setToolTip("")
        self.save_button.setEnabled(False)
        self.matrix.clear()
        self.samples.show_samples([])
        self.scatter.clear()
        self._show_note("")

    def _show_note(self, text: str) -> None:
        self.note.setText(text)
        self.made.set_image(None)
        self.made.hide()
        self.made_caption.setText("")
        self.pages.setCurrentWidget(self.note_page)

    def show_made(self, image, caption: str) -> None:
        """Beside a generator's (or an autoencoder's) score: what it makes at the end of its run."""
        if self.pages.currentWidget() is self.note_page and image is not None:
            self.made.set_image(image)
            self.made.show()
            self.made_caption.setText(caption)

    def show_result(self, result: TrainResult, splits: Splits) -> None:
        self.show_view(result_view(result, splits))

    def show_view(self, view: dict) -> None:
        """Show what result_view made (from a run that just ended, or read back from the run's folder)."""
        self.view = view
        self.summary.setText(view["summary"])
        self.summary.setToolTip(view.get("tip", ""))
        self.save_button.setEnabled(bool(view.get("weights", True)))
        self.scatter.clear()
        page = view.get("page")
        if page == "classes":
            self._show_classes(view["counts"], view["classes"], view.get("samples", []), view["caption"])
        elif page == "regression":
            self._show_regression(view["predicted"], view["true"])
        else:
            self._show_note(view.get("note", ""))

    def _show_classes(self, counts, classes, samples, caption: str) -> None:
        self.matrix.show_counts(counts, classes)
        self.matrix_caption.setText(caption)
        self.samples.show_samples(samples)
        for widget in (self.samples_caption, self.samples_scroll):
            widget.setVisible(bool(samples))
        self.pages.setCurrentIndex(1)

    def _show_regression(self, predictions: torch.Tensor, targets: torch.Tensor) -> None:
        """Predicted against true values (every output value of every test sample), and the line where they agree."""
        predicted = torch.as_tensor(predictions).detach().float().reshape(-1).cpu().numpy()
        true = torch.as_tensor(targets).detach().float().reshape(-1).cpu().numpy()
        low, high = float(min(true.min(), predicted.min())), float(max(true.max(), predicted.max()))
        self.scatter.plot([low, high], [low, high], pen=pg.mkPen("#aab2bf", width=1, style=Qt.PenStyle.DashLine))
        self.scatter.plot(true, predicted, pen=None, symbol="o", symbolSize=4, symbolPen=None,
                          symbolBrush=pg.mkBrush(47, 111, 222, 150))
        self.scatter.setTitle("Test samples: predicted against true (on the dashed line: exact)", size="9pt")
        self.pages.setCurrentWidget(self.scatter)

    @staticmethod
    def _kind_words(result: TrainResult, test) -> str:
        if result.metric_name is None and result.test_losses:
            return ("A generative model (or an autoencoder) has no predictions to score against labels: the loss "
                    "above is its score; what it makes (also in the Samples tab):")
        if "same" in test.extra:
            return "Pairs of samples, scored as the same class or not: the pair accuracy above."
        return "This network's outputs are not classes or values to compare with labels: the loss above is its score."


def result_view(result: TrainResult, splits: Splits) -> dict:
    """What the Results tab shows of a run, as plain data (texts, counts, a few test samples, the regression's
    values): kept in the run's folder, so that the run's results come back as they were shown."""
    test = splits.test
    score = ""
    if result.test_metric is not None:
        if result.metric_name == "accuracy":
            what = "pair accuracy (same or not)" if "same" in test.extra else "accuracy"
            score = f"test {what} <b>{result.test_metric:.2%}</b>"
        else:
            score = f"test mean squared error <b>{result.test_metric:.4g}</b>"
        score += f" on {len(test):,} samples · "
    tip = ""
    if result.test_loss is not None:
        words, tip = loss_words(result)
        score += html.escape(words) + "<br>"
    predictions, targets = result.test_predictions, result.test_targets
    segmentation = predictions is not None and predictions.dim() > 1 and not predictions.is_floating_point()
    view = {"summary": "", "tip": tip, "page": "note", "note": ""}
    if segmentation and targets is not None:
        classes = test.mask_classes or [str(c) for c in range(int(max(predictions.max(), targets.max())) + 1)]
        counts = confusion_matrix(predictions, targets, len(classes))
        score += f"mean IoU over the classes <b>{mean_iou(counts):.3f}</b> (pixels)<br>"
        view.update(page="classes", counts=counts, classes=list(classes), samples=[],
                    caption="Confusion matrix over the pixels: true class down, predicted across")
    elif predictions is not None and len(predictions) and test.is_classification \
            and tuple(predictions.shape) == tuple(test.y.shape):
        wrong = predictions != test.y
        order = torch.cat([torch.nonzero(wrong).flatten(), torch.nonzero(~wrong).flatten()])[:MAX_SAMPLES]
        samples = [(test.x[i].clone(), f"{label_of(test, predictions[i])} / {label_of(test, test.y[i])}", bool(wrong[i]))
                   for i in order.tolist()]
        view.update(page="classes", counts=confusion_matrix(predictions, test.y, test.num_classes),
                    classes=list(test.classes), samples=samples,
                    caption="Confusion matrix: true class down, predicted across")
    elif predictions is not None and len(predictions) and predictions.is_floating_point() \
            and targets is not None and targets.numel() == predictions.numel():
        view.update(page="regression", predicted=predictions.detach().float().reshape(-1).cpu(),
                    true=targets.detach().float().reshape(-1).cpu())
    else:
        view["note"] = ResultsView._kind_words(result, test)
    view["summary"] = score + html.escape(result.message)
    return view
